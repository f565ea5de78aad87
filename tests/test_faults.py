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

    def make(self, time_limit, *, mip=True, warm_start=False):
        solver = real_make(self, time_limit, mip=mip, warm_start=warm_start)
        solver.path = path
        return solver

    monkeypatch.setattr(backends.Cbc, "make", make)
    result = CliRunner().invoke(main, ["optimise", SEL, "--solver", "cbc"])
    assert result.exit_code == 3, what
    assert "error: the cbc solver failed" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_solver_gives_a_clear_error(tmp_path, monkeypatch):
    real_make = backends.Cbc.make

    def make(self, time_limit, *, mip=True, warm_start=False):
        solver = real_make(self, time_limit, mip=mip, warm_start=warm_start)
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
    with pytest.raises(TooLargeError, match=r"set constraints\.max_group_size lower"):
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


def test_solver_time_limit_without_any_plan_exits_3(monkeypatch):
    def nothing(problem, solver, name):
        problem.status = pulp.LpStatusNotSolved
        problem.sol_status = pulp.LpSolutionNoSolutionFound

    monkeypatch.setattr(backends, "run_solver", nothing)
    result = CliRunner().invoke(main, ["optimise", SEL, "--time-limit", "1"])
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
