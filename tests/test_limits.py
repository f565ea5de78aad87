"""Inputs that reach Python's limits get exit 2, a clear message and advice that fits,
in bounded time and memory."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from sharedsvc import ConsortiumError, TooLargeError
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps


def run(*args):
    return CliRunner().invoke(main, list(args), env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


def test_deeply_nested_values_are_refused(engine, tmp_path):
    with pytest.raises(ConsortiumError, match="nested too deeply"):
        engine.parse("[consortium]\nname = " + "[" * 500 + "]" * 500 + "\n")


def test_too_many_members_are_refused_before_any_is_checked(engine):
    body = '[services.s]\nmodel = "scale"\n' + "".join(
        f"[members.m{i}.services.s]\nvolume = 1\nannual_cost = 1\n" for i in range(10_001)
    )
    started = time.perf_counter()
    with pytest.raises(ConsortiumError, match="10,001 members; expected at most 10,000"):
        engine.parse(body)
    assert time.perf_counter() - started < 10


def star(leaves: int, **constraints) -> dict:
    members = {"hub": {"services": {"s": {"volume": 100, "annual_cost": 1e6}}}}
    for i in range(leaves):
        members[f"leaf{i:03d}"] = {
            "neighbours": ["hub"],
            "services": {"s": {"volume": 10 + i, "annual_cost": 1e5}},
        }
    return {
        "services": {"s": {"model": "scale"}},
        "members": members,
        "constraints": {"contiguous": True, **constraints},
    }


def test_a_star_of_300_is_refused_up_front_with_advice_that_fits(engine):
    consortium = engine.parse(dumps(star(300)))
    started = time.perf_counter()
    with pytest.raises(TooLargeError) as info:
        engine.optimise(consortium, time_limit=5)
    assert time.perf_counter() - started < 5
    message = str(info.value)
    assert "around 'hub' and its 300 neighbours" in message
    assert "set constraints.max_group_size to 3 or less" in message
    assert "contiguous" not in message.split(";", 1)[1]  # it already is


def test_a_chain_of_a_thousand_without_a_size_limit_is_refused_not_a_recursion_error(engine):
    members = {
        f"m{i:04d}": {
            "neighbours": [f"m{i + 1:04d}"] if i < 999 else [],
            "services": {"s": {"volume": 10 + i, "annual_cost": 1e5}},
        }
        for i in range(1000)
    }
    data = {"services": {"s": {"model": "scale"}}, "members": members}
    data["constraints"] = {"contiguous": True}
    consortium = engine.parse(dumps(data))
    started = time.perf_counter()
    with pytest.raises(TooLargeError, match="memberships"):
        engine.optimise(consortium)
    assert time.perf_counter() - started < 20


def test_validate_warns_of_a_file_that_optimise_will_refuse(tmp_path):
    path = tmp_path / "star.toml"
    path.write_text(dumps(star(300)))
    result = run("validate", str(path))
    assert result.exit_code == 0
    assert "warning: optimise will refuse this file" in result.stderr
    assert "max_group_size to 3 or less" in result.stderr
    path.write_text(dumps(star(300, max_group_size=3)))
    assert "warning" not in run("validate", str(path)).stderr


def test_even_pairs_too_many_advises_fewer_members_not_a_smaller_size(engine):
    body = '[services.s]\nmodel = "scale"\n[constraints]\nmax_group_size = 2\n' + "".join(
        f"[members.m{i}.services.s]\nvolume = {1 + i}\nannual_cost = 1\n" for i in range(2100)
    )
    with pytest.raises(TooLargeError) as info:
        engine.optimise(engine.parse(body))
    message = str(info.value)
    assert "share this service among fewer members" in message
    assert "max_group_size to" not in message
