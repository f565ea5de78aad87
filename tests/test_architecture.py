"""The layout holds: no import cycles, and no test changes a limit by patching a global."""

from __future__ import annotations

import re

import grimp
from conftest import ROOT


def test_no_module_imports_a_module_that_imports_it_back():
    graph = grimp.build_graph("sharedsvc", exclude_type_checking_imports=True)
    cycles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert cycles == []


def test_no_test_monkeypatches_a_tuning_limit():
    """Limits live in `Settings`; tests change them with `attrs.evolve`, not `setattr`."""
    patching = re.compile(r"setattr\(\s*[\w.]+,\s*\"[A-Z][A-Z0-9_]+\"")
    offenders = [
        f"{path.name}:{n}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if patching.search(line)
    ]
    assert offenders == []


def test_every_subpackage_is_listed_for_a_plain_install():
    """`pip install .` (the README's first command) installs only the packages that
    pyproject.toml lists; a subpackage left out works in an editable install and fails
    in a plain one."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "sharedsvc").rglob("__init__.py")
    }
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "sharedsvc_plugins" in listed
