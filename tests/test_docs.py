"""Documentation that must not drift from the code."""

from __future__ import annotations

import inspect
import re

from conftest import ROOT

from sharedsvc import hookspecs
from sharedsvc.report.catalogue import reference_markdown

HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs) if name.startswith("sharedsvc_"))


def test_cost_model_reference_is_current(engine):
    committed = (ROOT / "docs" / "cost-models.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(engine.registry), (
        "docs/cost-models.md is out of date: sharedsvc plugins --reference > docs/cost-models.md"
    )


def test_there_are_hooks():
    assert HOOKS == ["sharedsvc_register_cost_models", "sharedsvc_register_rules"]


def test_every_hook_is_documented():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [hook for hook in HOOKS if f"`{hook}" not in guide]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"


def test_every_hook_has_a_test():
    tests = [
        p.read_text(encoding="utf-8")
        for p in (ROOT / "tests").rglob("*.py")
        if p.name != "test_docs.py"
    ]
    untested = [
        hook for hook in HOOKS if not any(re.search(rf"def {hook}\b", text) for text in tests)
    ]
    assert not untested, f"hooks without a test implementing them: {untested}"


def test_readme_starts_with_the_two_setup_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line.strip() for line in lines[:4] if line.startswith("    ")]
    assert len(commands) == 2
    assert "sharedsvc optimise consortia/" in commands[0]
    assert "[test]" in commands[1] and "pytest" in commands[1]


def test_every_public_name_is_documented_for_plugin_authors():
    import sharedsvc

    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    public = [name for name in sharedsvc.__all__ if not name.startswith("_")]
    missing = [name for name in public if f"`{name}`" not in guide]
    assert not missing, f"exported but not in docs/plugins.md: {missing}"


def test_the_builtin_plugins_import_only_exported_names():
    import ast

    import sharedsvc

    used = set()
    for path in (ROOT / "plugins").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "sharedsvc":
                used |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sharedsvc."):
                raise AssertionError(f"{path.name} imports {node.module}, a private module")
    assert used and used <= set(sharedsvc.__all__), used - set(sharedsvc.__all__)


def test_the_readme_embedding_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SHAREDSVC_DISABLE_PLUGINS", "1")
    exec(compile(block, "README.md", "exec"), {})
