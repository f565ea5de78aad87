"""Fault injection: a plugin that misbehaves in each way `tests/hostile_plugin` offers is
contained, named, and leaves stdout to the result."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc import Engine, PluginError
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

sys.path.insert(0, str(ROOT / "tests" / "hostile_plugin"))
import sharedsvc_hostile

SEL = str(ROOT / "consortia" / "south-east-london.toml")

DATA = {
    "consortium": {"name": "hostile"},
    "services": {"svc": {"model": "hostile"}},
    "members": {
        m: {"services": {"svc": {"cost": c}}}
        for m, c in (("a", 100_000.0), ("b", 200_000.0), ("c", 300_000.0))
    },
}


@pytest.fixture
def consortium_file(tmp_path):
    path = tmp_path / "hostile.toml"
    path.write_text(dumps(DATA))
    return str(path)


def run(monkeypatch, mode: str, *args: str):
    """The CLI with the hostile plugin registered in code, misbehaving in `mode`."""
    monkeypatch.setenv("SHAREDSVC_HOSTILE_MODE", mode)
    engine = Engine.create(autoload=False, plugins=[sharedsvc_hostile])
    return CliRunner().invoke(main, list(args), obj=engine)


def test_without_a_fault_it_is_an_ordinary_plugin(monkeypatch, consortium_file):
    result = run(monkeypatch, "", "optimise", consortium_file, "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["npv"] > 0


@pytest.mark.parametrize(
    "mode, raised",
    [
        ("exit-0", "SystemExit: 0"),
        ("exit-3", "SystemExit: 3"),
        ("exit-message", "SystemExit: hostile: giving up"),
        ("base-exception", "HostileExit: hostile: a BaseException"),
    ],
)
def test_a_plugin_that_exits_is_a_plugin_error_naming_it_and_its_hook(
    monkeypatch, consortium_file, mode, raised
):
    result = run(monkeypatch, mode, "optimise", consortium_file)
    assert result.exit_code == 2, result.output
    assert "cost model 'hostile' (plugin 'sharedsvc_hostile')" in result.stderr
    assert raised in result.stderr and "standalone_cost" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.output


def test_a_keyboard_interrupt_from_a_plugin_stays_an_interrupt(monkeypatch, consortium_file):
    result = run(monkeypatch, "keyboard-interrupt", "optimise", consortium_file)
    assert result.exit_code == 130
    assert "interrupted; no output was written" in result.stderr


def test_what_a_plugin_prints_goes_to_stderr(monkeypatch, consortium_file):
    result = run(monkeypatch, "print-in-pricing", "optimise", consortium_file, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "optimal"  # stdout is the JSON alone
    assert "hostile: pricing" in result.stderr


def test_a_plugin_cannot_reorder_the_groups_it_is_given(monkeypatch, consortium_file):
    result = run(monkeypatch, "sort-groups", "optimise", consortium_file)
    assert result.exit_code == 2
    assert "(plugin 'sharedsvc_hostile')" in result.stderr and "price_groups" in result.stderr


def test_a_plugin_that_changes_a_member_changes_only_its_copy(monkeypatch, consortium_file):
    honest = run(monkeypatch, "", "optimise", consortium_file, "--format", "json", "-q")
    meddling = run(monkeypatch, "mutate-member", "optimise", consortium_file, "--format", "json")
    assert meddling.exit_code == 0, meddling.output
    assert json.loads(meddling.stdout)["services"] == json.loads(honest.stdout)["services"]
    assert json.loads(meddling.stdout)["members"] == json.loads(honest.stdout)["members"]


@pytest.mark.parametrize(
    "mode, what",
    [
        ("string", "standalone cost of '100000.0' (str; expected a number) for 'a'"),
        ("nan-standalone", "standalone cost of nan (not finite)"),
        ("boolean", "running cost array of bool values"),
        ("complex", "running cost array of complex128 values"),
        ("huge", "running cost of 1e+20 (more than 1e+15: implausible) for group"),
    ],
)
def test_a_plugin_result_that_is_not_a_sane_amount_is_named(
    monkeypatch, consortium_file, mode, what
):
    result = run(monkeypatch, mode, "optimise", consortium_file)
    assert result.exit_code == 2, result.output
    assert "cost model 'hostile' (plugin 'sharedsvc_hostile')" in result.stderr
    assert what in result.stderr


def test_the_one_group_methods_are_checked_too(monkeypatch):
    """The base class's `price_groups` calls the one-group methods: their values are
    checked one by one, so True or "100" cannot pass as a number there either."""
    from sharedsvc import CostModel, Field, hookimpl

    class Sloppy(CostModel):
        name = "sloppy"
        member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)

        def standalone_cost(self, participant, params):
            return participant.fields["cost"]

        def group_running_cost(self, participants, params):
            return True if len(participants) == 3 else 1.0

    class Plugin:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Sloppy())

    engine = Engine.create(autoload=False, plugins=[Plugin()])
    data = {**DATA, "services": {"svc": {"model": "sloppy"}}}
    with pytest.raises(PluginError, match=r"running cost of True \(bool; expected a number\)"):
        engine.optimise(engine.parse(dumps(data)))


def test_a_plugin_that_exits_while_registering_is_named_not_a_silent_exit(monkeypatch, tmp_path):
    """`sys.exit(0)` in a registration hook: the plugin is reported as failed (named, with
    its hook) and the others keep working; a file that needs it is refused (exit 2)."""
    monkeypatch.setenv("SHAREDSVC_HOSTILE_MODE", "exit-in-registration")
    engine = Engine.create(autoload=False, plugins=[sharedsvc_hostile])
    (failure,) = engine.registry.failures
    assert failure.name == "sharedsvc_hostile"
    assert "sharedsvc_register_cost_models: SystemExit" in failure.reason
    path = tmp_path / "hostile.toml"
    path.write_text(dumps(DATA))
    result = CliRunner().invoke(main, ["validate", str(path)], obj=engine)
    assert result.exit_code == 2
    assert "unknown cost model 'hostile'" in result.stderr
    assert result.stdout == ""
    assert CliRunner().invoke(main, ["validate", SEL], obj=engine).exit_code == 0


def test_other_threads_keep_their_stdout_while_a_run_solves(engine, capfd):
    """The engine never redirects the process's stdout (an embedder lost 490 of 559
    lines): lines printed by another thread during a run all arrive."""
    import threading

    consortium = engine.load(SEL)
    engine.optimise(consortium)  # HiGHS's one-time banner is behind us
    capfd.readouterr()
    stop = threading.Event()
    printed = []

    def chatter():
        n = 0
        while not stop.is_set():
            print(f"embedder line {n}", flush=True)
            printed.append(n)
            n += 1

    thread = threading.Thread(target=chatter)
    thread.start()
    try:
        for _ in range(3):
            engine.optimise(consortium, solver="highs")
            engine.optimise(consortium, solver="cbc")
    finally:
        stop.set()
        thread.join()
    out = capfd.readouterr().out
    assert printed and out.count("embedder line") == len(printed)
