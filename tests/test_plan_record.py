"""A plan file is a complete record: the consortium's text and hash, the version, every
parameter, the appraisal's years, each member's standalone cost; enough to track it
years later without the consortium file (`docs/tracking.md`)."""

from __future__ import annotations

import hashlib
import json

import attrs
import pytest
from click.testing import CliRunner
from conftest import ROOT

import sharedsvc
from sharedsvc.cli import main

SEL = ROOT / "consortia" / "south-east-london.toml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


@pytest.fixture(scope="module")
def plan():
    result = run("optimise", SEL, "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_record_holds_the_consortium_text_and_its_hash(plan):
    record = plan["record"]
    text = SEL.read_text(encoding="utf-8")
    assert record["format"] == 1
    assert record["consortium_text"] == text
    assert record["consortium_sha256"] == hashlib.sha256(SEL.read_bytes()).hexdigest()
    assert record["sharedsvc_version"] == sharedsvc.__version__
    assert record["scenario"] == []


def test_the_record_holds_every_parameter_used(plan):
    parameters = plan["record"]["parameters"]
    assert parameters["horizon_years"] == 5
    assert parameters["discount_rate"] == 0.035
    assert parameters["allocation"] == "shapley"
    assert parameters["constraints"]["max_group_size"] == 3
    # defaults the file does not write are recorded too
    assert parameters["exit_cost"] == 0.0 and parameters["one_off_profile"] == [1.0]
    assert parameters["services"]["hr"]["model"] == "hr"
    assert parameters["services"]["hr"]["parameters"]["employee_cost"] == 636.0
    assert parameters["uncertain"] == ["services.payments.scale_exponent"]
    assert plan["record"]["settings"]["solver"] == "auto"
    assert plan["record"]["settings"]["time_limit"] is None


def test_the_record_holds_the_years_discount_factors_and_shapes(plan):
    years = plan["record"]["years"]
    assert years["discount_factors"] == pytest.approx([1.035**-t for t in range(6)], rel=1e-12)
    assert years["saving"] == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert years["double_running"] == [0.0] * 6
    assert years["one_off"] == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_every_service_lists_its_members_standalone_costs(plan):
    # the fields of members.bromley.services.payments etc. in the file
    assert plan["services"]["payments"]["standalone_costs"] == {
        "bexley": 817100.0,
        "bromley": 729300.0,
        "greenwich": 810900.0,
        "lewisham": 1047600.0,
    }
    for member, data in plan["members"].items():
        total = sum(s["standalone_costs"][member] for s in plan["services"].values())
        assert total == pytest.approx(data["standalone_cost"], abs=0.01)


def test_a_scenario_is_recorded(tmp_path):
    result = run("optimise", SEL, "--scenario", "pairs_only", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)["record"]
    assert record["scenario"] == ["pairs_only"]
    assert record["parameters"]["constraints"]["max_group_size"] == 2  # as applied


def test_the_recorded_text_gives_the_same_plan_again(engine, plan):
    record = plan["record"]
    again = engine.optimise(engine.parse(record["consortium_text"], scenario=record["scenario"]))
    assert again.to_dict()["totals"] == plan["totals"]


def test_a_consortium_changed_in_code_records_no_text(engine):
    consortium = engine.load(SEL)
    changed = attrs.evolve(consortium, discount_rate=0.03)  # its text no longer gives it
    record = engine.optimise(changed).to_dict()["record"]
    assert record["consortium_text"] is None and record["consortium_sha256"] is None
    assert record["parameters"]["discount_rate"] == 0.03
    unchanged = engine.optimise(consortium).to_dict()["record"]
    assert unchanged["consortium_text"] == consortium.text


def test_the_record_does_not_make_two_equal_plans_differ(engine):
    result = engine.optimise(engine.load(SEL))
    assert result.record is not None
    assert attrs.evolve(result, record=None) == result
