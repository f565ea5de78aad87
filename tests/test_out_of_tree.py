"""A real third-party plugin package, installed with pip, found through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from sharedsvc.testing import check_cost_model

PACKAGE = ROOT / "tests" / "plugin_package"
BROKEN = ROOT / "tests" / "broken_plugin"

CONSORTIUM = """
[services.legal]
model = "legal"

[members.a]
location = { lat = 51.50, lon = -0.10 }
services.legal = { matters = 400, annual_cost = 900000 }

[members.b]
location = { lat = 51.52, lon = -0.05 }
services.legal = { matters = 300, annual_cost = 700000 }

[members.c]
location = { lat = 52.20, lon = 0.12 }
services.legal = { matters = 500, annual_cost = 1100000 }

[constraints]
max_distance_km = 20
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The packages pip-installed into their own folder, put on PYTHONPATH for subprocesses."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PACKAGE),
            str(BROKEN),
        ],
        check=True,
        capture_output=True,
    )
    return target


def run(installed, *args, **env):
    environment = {**os.environ, "PYTHONPATH": str(installed), **env}
    for name in ("SHAREDSVC_DISABLE_PLUGINS", "SHAREDSVC_BLOCK_PLUGINS"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "sharedsvc", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=installed,
    )


def test_entry_point_discovery_lists_the_plugin(installed):
    result = run(installed, "plugins", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert sorted(f["name"] for f in data["failures"]) == ["broken_import", "broken_raise"]
    plugin = next(p for p in data["plugins"] if p["name"] == "legal")
    assert plugin["distribution"] == "sharedsvc-legal" and not plugin["builtin"]
    assert plugin["cost_models"] == ["legal"] and plugin["rules"] == ["max_distance_km"]
    assert data["cost_models"]["legal"]["parameters"][0]["source"]


def test_optimise_with_the_plugin(installed, tmp_path):
    path = tmp_path / "legal.toml"
    path.write_text(CONSORTIUM)
    result = run(installed, "optimise", str(path), "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "optimal"
    # c is about 80 km from a and b, so the distance rule keeps it alone
    assert data["services"]["legal"]["groups"][0]["members"] == ["a", "b"]
    assert data["services"]["legal"]["standalone"] == ["c"]


@pytest.mark.parametrize(
    ("env", "why"),
    [
        (
            {"SHAREDSVC_DISABLE_PLUGINS": "1"},
            "installed plugins are off (SHAREDSVC_DISABLE_PLUGINS",
        ),
        ({"SHAREDSVC_BLOCK_PLUGINS": "legal"}, "blocked (SHAREDSVC_BLOCK_PLUGINS"),
    ],
)
def test_switches_turn_the_plugin_off(installed, tmp_path, env, why):
    """A model whose plugin is switched off is said to be so, not merely unknown."""
    listed = json.loads(run(installed, "plugins", "--format", "json", **env).stdout)
    assert "legal" not in listed["cost_models"]
    path = tmp_path / "legal.toml"
    path.write_text(CONSORTIUM)
    result = run(installed, "optimise", str(path), **env)
    assert result.returncode == 2
    assert (
        f"services.legal.model: cost model 'legal' is not available: plugin 'legal' was "
        f"not loaded: {why}" in result.stderr
    )
    assert "constraints.max_distance_km: unknown constraint 'max_distance_km'" in result.stderr
    assert f"'legal': {why}" in result.stderr


def test_the_plugin_keeps_the_cost_model_contract(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    import sharedsvc_legal

    check_cost_model(sharedsvc_legal.Legal())


def test_the_tutorial_shows_the_package_as_it_is():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for name in ("pyproject.toml", "sharedsvc_legal.py"):
        text = (PACKAGE / name).read_text(encoding="utf-8")
        assert text in guide, f"docs/plugins.md does not show tests/plugin_package/{name} verbatim"


def test_broken_plugins_are_named_and_the_rest_keep_working(installed, tmp_path):
    listed = run(installed, "plugins")
    assert listed.returncode == 0
    assert "failed to load:" in listed.stdout
    assert "broken_import: ModuleNotFoundError" in listed.stdout
    assert "a_module_that_does_not_exist" in listed.stdout
    assert "broken_raise: sharedsvc_register_cost_models: RuntimeError: licence server" in (
        listed.stdout
    )
    assert "legal" in listed.stdout and "not_a_number" in listed.stdout
    # the built-ins and the good plugin still work, with a warning naming the bad one
    result = run(installed, "optimise", str(ROOT / "consortia" / "cross-sector.toml"), "-q")
    assert result.returncode == 0
    assert "warning: plugin 'broken_import' not loaded" in result.stderr


def test_a_plugin_returning_nan_is_named(installed, tmp_path):
    path = tmp_path / "nan.toml"
    path.write_text(
        '[services.s]\nmodel = "not_a_number"\n'
        "[members.a.services.s]\ncost = 100\n[members.b.services.s]\ncost = 200\n"
    )
    result = run(installed, "optimise", str(path))
    assert result.returncode == 2
    assert (
        "cost model 'not_a_number' (plugin 'broken_nan') returned a running cost" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_blocking_the_broken_plugin_silences_it(installed):
    result = run(installed, "plugins", SHAREDSVC_BLOCK_PLUGINS="broken_import")
    assert result.returncode == 0
    assert "broken_import" not in result.stdout + result.stderr
