"""Solver faults, interruptions and limits: clear statuses, no lost files, no tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pulp
import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc import TooLargeError
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps
from sharedsvc.solver import backends

SEL = str(ROOT / "consortia" / "south-east-london.toml")


def fake_cbc(tmp_path, body: str):
    script = tmp_path / "cbc"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    "body, what",
    [("exit 1", "crashes"), ("kill -9 $$", "is killed"), ("exit 0", "writes no solution")],
)
def test_a_failing_solver_gives_a_clear_error(tmp_path, monkeypatch, body, what):
    path = fake_cbc(tmp_path, body)
    real_make = backends.Cbc.make

    def make(self, time_limit, **options):
        solver = real_make(self, time_limit, **options)
        solver.path = path
        return solver

    monkeypatch.setattr(backends.Cbc, "make", make)
    result = CliRunner().invoke(main, ["optimise", SEL, "--solver", "cbc"])
    assert result.exit_code == 3, what
    assert "error: the cbc solver failed" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_solver_gives_a_clear_error(tmp_path, monkeypatch):
    real_make = backends.Cbc.make

    def make(self, time_limit, **options):
        solver = real_make(self, time_limit, **options)
        solver.path = str(tmp_path / "no-such-cbc")
        return solver

    monkeypatch.setattr(backends.Cbc, "make", make)
    result = CliRunner().invoke(main, ["optimise", SEL, "--solver", "cbc"])
    assert result.exit_code == 3
    assert "the cbc solver failed" in result.stderr


def slow_consortium(members: int = 34) -> str:
    """One service where nearly every group of up to four is valuable: seconds of work."""
    data = {
        "consortium": {"name": "slow"},
        "services": {"s": {"model": "scale", "scale_exponent": 0.9, "coordination_cost": 2000}},
        "members": {
            f"m{i:02d}": {
                "services": {"s": {"volume": 100 + 37 * i % 101, "annual_cost": 5e5 + 7919 * i}}
            }
            for i in range(members)
        },
        "constraints": {"max_group_size": 4},
    }
    return dumps(data)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupting_a_run_leaves_the_output_untouched(tmp_path, sig, code):
    source = tmp_path / "slow.toml"
    source.write_text(slow_consortium())
    target = tmp_path / "plan.json"
    target.write_text('{"previous": "plan"}')
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sharedsvc",
            "optimise",
            str(source),
            "-o",
            str(target),
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SHAREDSVC_DISABLE_PLUGINS": "1"},
    )
    time.sleep(2.0)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert "Traceback" not in stderr
    assert json.loads(target.read_text()) == {"previous": "plan"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "slow.toml"]


def test_far_too_large_is_refused_up_front(engine):
    members = "".join(
        f"[members.m{i}.services.s]\nvolume = {100 + i}\nannual_cost = 1000\n" for i in range(5000)
    )
    consortium = engine.parse('[services.s]\nmodel = "scale"\n' + members)
    started = time.perf_counter()
    # even pairs are too many here: the advice is to share among fewer members
    with pytest.raises(TooLargeError, match=r"share this service among fewer members"):
        engine.optimise(consortium)
    assert time.perf_counter() - started < 30  # refused before any enumeration


def test_too_large_exits_2_with_advice(tmp_path):
    members = "".join(
        f"[members.m{i}.services.s]\nvolume = {100 + i}\nannual_cost = 1000\n" for i in range(60)
    )
    path = tmp_path / "big.toml"
    path.write_text('[services.s]\nmodel = "scale"\n' + members)
    result = CliRunner().invoke(
        main, ["optimise", str(path)], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 2
    assert "candidate groups" in result.stderr and "max_group_size" in result.stderr


def test_solver_time_limit_without_any_plan_exits_3_only_when_there_is_no_plan(
    monkeypatch, tmp_path
):
    """A solver that finds nothing in time: with every member alone a plan, that plan
    (feasible, gap unknown); with a must_share that forbids it, exit 3."""

    def nothing(problem, solver, name, **options):
        problem.status = pulp.LpStatusNotSolved
        problem.sol_status = pulp.LpSolutionNoSolutionFound

    monkeypatch.setattr(backends, "run_solver", nothing)
    result = CliRunner().invoke(main, ["optimise", SEL, "--time-limit", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "feasible" and data["gap"] is None
    assert set(data["unfinished"]) == set(data["services"])
    forced = tmp_path / "forced.toml"
    forced.write_text(
        Path(SEL).read_text()
        + '\n[[constraints.must_share]]\nservice = "hr"\nmembers = ["bromley", "lewisham"]\n'
    )
    result = CliRunner().invoke(main, ["optimise", str(forced), "--time-limit", "1"])
    assert result.exit_code == 3
    assert "found no plan within the time limit" in result.stderr


def test_reading_never_modifies_the_input(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(Path(SEL).read_bytes())
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    result = CliRunner().invoke(main, ["optimise", str(path), "-q"])
    assert result.exit_code == 0
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_too_many_candidates_over_all_services_is_refused(engine):
    from conftest import tuned

    small = tuned(engine, max_candidates=10)
    with pytest.raises(TooLargeError, match="candidate groups after pruning, over"):
        small.optimise(small.load(SEL))


def _children(pid: int) -> set[int]:
    """The process ids whose parent is `pid` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _signal_state(pid: int) -> str:
    """Each thread's blocked, ignored and caught signal masks (Linux /proc), for failures."""
    lines = []
    for task in sorted((Path("/proc") / str(pid) / "task").iterdir()):
        status = (task / "status").read_text().splitlines()
        lines.append(
            task.name
            + " "
            + " ".join(x for x in status if x.startswith(("SigBlk", "SigIgn", "SigCgt")))
        )
    return "\n".join(lines)


def _finish(process, timeout: float = 60, context: str = "") -> str:
    """Wait for `process` to end and return its stderr; if it will not, take its threads'
    stacks (SIGUSR1, see `_start_and_wait_for`), kill it and fail with them."""
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running {timeout} s after the signal; {context}\nstderr:\n{stderr}")


SHAREDSVC_WITH_STACKS = (
    "import faulthandler, signal, sys; "
    "faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "from sharedsvc.cli import main; main(args=sys.argv[1:], prog_name='sharedsvc')"
)
"""`python -m sharedsvc`, which also prints every thread's stack on SIGUSR1."""


def _start_and_wait_for(args, tmp_path, marker: str, timeout: float = 120):
    """Start `sharedsvc ...` with its own temporary folder; return it once stderr shows
    `marker`, with what it printed so far."""
    import select

    temp = tmp_path / "temp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", SHAREDSVC_WITH_STACKS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SHAREDSVC_DISABLE_PLUGINS": "1", "TMPDIR": str(temp)},
    )
    seen, started = "", time.monotonic()
    while marker not in seen:
        assert time.monotonic() - started < timeout, f"never saw {marker!r}: {seen}"
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            assert line, f"the run ended before {marker!r}: {seen}"
            seen += line
    return process, temp, seen


def two_service_consortium(members: int = 38) -> str:
    """Two services of 38 members in groups of up to four: minutes of CBC work each."""
    services = {
        s: {"model": "scale", "scale_exponent": 0.9, "coordination_cost": 2000}
        for s in ("payroll", "payments")
    }
    data = {
        "consortium": {"name": "two services"},
        "services": services,
        "members": {
            f"m{i:02d}": {
                "services": {
                    s: {"volume": 100 + (37 + k) * i % 101, "annual_cost": 5e5 + 7919 * i}
                    for k, s in enumerate(services)
                }
            }
            for i in range(members)
        },
        "constraints": {"max_group_size": 4},
    }
    return dumps(data)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_process_alone_stops_a_threaded_solve(tmp_path, sig, code):
    """Sent to the process only (as a job scheduler does), while CBC solves two services
    in threads: the exit comes within seconds, no solver outlives it, nothing is written
    and no temporary file is left."""
    source = tmp_path / "two.toml"
    source.write_text(two_service_consortium())
    target = tmp_path / "plan.json"
    args = ["optimise", str(source), "--solver", "cbc", "-o", str(target)]
    process, temp, _ = _start_and_wait_for(args, tmp_path, "starting from that plan")
    try:
        waited = time.monotonic()
        while not (solvers := _children(process.pid)):  # CBC starts once its model is built
            assert time.monotonic() - waited < 90, "no solver process started"
            assert process.poll() is None, "the run ended before a solver started"
            time.sleep(0.2)
        time.sleep(0.5)
    except BaseException:
        process.kill()
        raise
    signalled = time.monotonic()
    process.send_signal(sig)
    stderr = _finish(process)
    assert time.monotonic() - signalled < 10
    assert process.returncode == code, stderr
    assert "interrupted; no output was written" in stderr and "Traceback" not in stderr
    assert not target.exists()
    assert [pid for pid in solvers if _alive(pid)] == []
    assert list(temp.iterdir()) == []


def test_an_interrupt_during_an_in_process_highs_solve_is_not_lost(tmp_path):
    """HiGHS calls back into Python while it solves, and in some phases not for a minute;
    one Ctrl-C must stop it within seconds, not vanish inside a callback or wait for the
    phase to end (it went on to the final MIP before)."""
    source = tmp_path / "slow.toml"
    source.write_text(slow_consortium())
    process, temp, seen = _start_and_wait_for(["optimise", str(source)], tmp_path, "candidate")
    time.sleep(1.0)  # into the LP and the first MIP, both run by HiGHS in this process
    state = _signal_state(process.pid)
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    stderr = seen + _finish(process, context=f"signals before it:\n{state}")
    assert time.monotonic() - signalled < 5, stderr
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(temp.iterdir()) == []


def test_an_embedder_can_stop_a_run_from_another_thread(engine):
    import threading

    from sharedsvc import Interrupted, StopToken

    consortium = engine.parse(two_service_consortium())
    stop = StopToken()
    timer = threading.Timer(3.0, stop.request)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(Interrupted):
            engine.optimise(consortium, solver="cbc", stop=stop)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15


def test_a_time_limit_returns_the_best_plan_found_with_an_honest_gap(engine):
    """Two large services and a limit too short to bound either: a plan (every member
    alone where nothing better was found), no invented gap, soon after the limit."""
    consortium = engine.parse(two_service_consortium())
    started = time.perf_counter()
    result = engine.optimise(consortium, time_limit=2)
    assert time.perf_counter() - started < 8
    assert result.status == "feasible" and result.solved
    assert set(result.unfinished) <= {"payroll", "payments"}
    if result.unfinished:  # a service left alone has no bound: no gap is claimed
        assert result.gap is None
        assert "distance from the optimum unknown" in result.message
        assert result.to_dict()["unfinished"] == list(result.unfinished)
    else:  # both kept fixing's plan: the gap is proven against the LP bounds
        assert result.gap is not None and 0 < result.gap < 1


def test_pricing_counts_against_the_time_limit(monkeypatch):
    """A cost model that takes seconds: the services not priced in time are named, and
    the run ends soon after the limit instead of pricing them all."""
    from sharedsvc import CostModel, Engine, Field, GroupPrices, hookimpl

    class Slow(CostModel):
        name = "slow"
        member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)

        def standalone_cost(self, participant, params):
            return participant.fields["cost"]

        def group_running_cost(self, participants, params):
            return 0.9 * sum(p.fields["cost"] for p in participants)

        def price_groups(self, participants, groups, params):
            time.sleep(1.5)
            running = [0.9 * sum(participants[i].fields["cost"] for i in g) for g in groups]
            return GroupPrices(running=running, transition=[0.0] * len(groups))

    class Plugin:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Slow())

    services = ("first", "second", "third")
    data = {
        "services": {s: {"model": "slow"} for s in services},
        "members": {
            m: {"services": {s: {"cost": 1000.0 * (k + 1)} for s in services}}
            for k, m in enumerate(("a", "b", "c"))
        },
    }
    engine = Engine.create(autoload=False, plugins=[Plugin()])
    lines: list[str] = []
    started = time.perf_counter()
    result = engine.optimise(engine.parse(dumps(data)), time_limit=1, progress=lines.append)
    assert time.perf_counter() - started < 4  # not 4.5 s of pricing and more
    assert result.status == "feasible" and result.gap is None
    assert "third" in result.unfinished and "first" not in result.unfinished
    assert any("third: not priced, the time limit came first" in line for line in lines)
    assert result.service("first").groups  # priced in time, and solved


def test_infeasibility_is_explained_within_the_time_limit(tmp_path):
    """25 members in groups of up to 3, and a budget too small for a must_share pair:
    the clash is named (exit 1), without enumerating every group of 25 members."""
    data = {
        "services": {"s": {"model": "scale", "transition_cost": 1000.0}},
        "members": {
            f"m{i:02d}": {"services": {"s": {"volume": 10 + i, "annual_cost": 1e5}}}
            for i in range(25)
        },
        "constraints": {
            "max_group_size": 3,
            "transition_budget": 500,
            "must_share": [{"service": "s", "members": ["m00", "m01"]}],
        },
    }
    path = tmp_path / "clash.toml"
    path.write_text(dumps(data))
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["optimise", str(path), "--time-limit", "5"], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert time.perf_counter() - started < 15
    assert result.exit_code == 1, result.output
    assert "must_share for s puts m00 and m01 together" in result.stderr
    assert "transition_budget" in result.stderr


def test_the_model_file_is_the_whole_model_even_under_a_short_time_limit(tmp_path):
    """Pricing stops at the time limit, but the model written for other solvers must hold
    every service's groups (the raw-solver benchmark writes it under a 1 s limit)."""
    whole, short = tmp_path / "whole.mps", tmp_path / "short.mps"
    env = {"SHAREDSVC_DISABLE_PLUGINS": "1"}
    CliRunner().invoke(main, ["optimise", SEL, "-q", "--write-model", str(whole)], env=env)
    CliRunner().invoke(
        main, ["optimise", SEL, "-q", "--time-limit", "0.001", "--write-model", str(short)], env=env
    )
    assert short.read_text() == whole.read_text()
