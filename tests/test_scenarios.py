"""Scenarios inside the consortium file, `--scenario` on every command, and `compare`."""

from __future__ import annotations

import json

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc import ConsortiumError, Engine
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

SEL = ROOT / "consortia" / "south-east-london.toml"
CROSS = ROOT / "consortia" / "cross-sector.toml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


def plan(*args) -> dict:
    result = run("optimise", *args, "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def engine():
    return Engine.create(autoload=False)


def test_a_scenario_adds_a_member_only_when_asked(engine):
    base = engine.load(SEL)
    with_nhs = engine.load(SEL, scenario=["with_nhs"])
    assert "nhs-trust" not in [m.id for m in base.members]
    trust = with_nhs.member("nhs-trust")
    assert trust.kind == "nhs" and set(trust.neighbours) == {"greenwich", "lewisham"}
    assert {p.service for p in with_nhs.participations if p.member.id == "nhs-trust"} == {
        "payments",
        "hr",
    }
    assert with_nhs.scenario == ("with_nhs",) and base.scenario == ()
    assert set(base.scenarios) == {"with_nhs", "no_bromley", "pairs_only"}


def test_a_scenario_that_changes_values_changes_the_plan():
    data = plan(SEL, "--scenario", "no_bromley")
    assert data["scenario"] == ["no_bromley"]
    for service in data["services"].values():
        assert "bromley" in service["standalone"]
        assert service["why_alone"]["bromley"] == "share = false"
    pairs = plan(SEL, "--scenario", "pairs_only")
    sizes = [len(g["members"]) for s in pairs["services"].values() for g in s["groups"]]
    assert sizes and max(sizes) == 2


def test_scenarios_combine_left_to_right(engine):
    both = engine.load(SEL, scenario=["with_nhs", "pairs_only"])
    assert both.settings["max_group_size"] == 2
    assert "nhs-trust" in [m.id for m in both.members]
    data = plan(SEL, "--scenario", "with_nhs,pairs_only")
    assert data["scenario"] == ["with_nhs", "pairs_only"]


def test_removing_a_member_drops_it_from_every_neighbour_list(engine):
    data = {
        "services": {"s": {"model": "scale"}},
        "members": {
            m: {"neighbours": n, "services": {"s": {"volume": 10, "annual_cost": 1000.0}}}
            for m, n in (("a", ["b"]), ("b", ["c"]), ("c", []))
        },
        "constraints": {"contiguous": True},
        "scenarios": {"no_b": {"remove": ["members.b"]}},
    }
    consortium = engine.parse(dumps(data), scenario=["no_b"])
    assert [m.id for m in consortium.members] == ["a", "c"]
    assert all(not m.neighbours for m in consortium.members)


@pytest.mark.parametrize(
    ("scenarios", "args", "expected"),
    [
        ({"x": {"colour": "red"}}, [], "scenarios.x.colour: unknown key 'colour'"),
        ({"x": {"remove": ["members.zz"]}}, ["--scenario", "x"], "scenarios.x.remove[0]"),
        ({"x": {"members": {"a": {"population": -5}}}}, [], "members.a.population: [scenario x]"),
        ({"base": {}}, [], "scenarios.base: 'base' names the file without scenarios"),
        ({"tight": {}}, ["--scenario", "tigth"], "unknown scenario 'tigth'; did you mean 'tight'?"),
    ],
)
def test_a_bad_scenario_is_a_clear_error(tmp_path, scenarios, args, expected):
    data = {
        "services": {"s": {"model": "scale"}},
        "members": {m: {"services": {"s": {"volume": 10, "annual_cost": 1000.0}}} for m in "ab"},
        "scenarios": scenarios,
    }
    path = tmp_path / "c.toml"
    path.write_text(dumps(data), encoding="utf-8")
    result = run("validate", path, *args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_validate_checks_every_scenario():
    result = run("validate", CROSS)
    assert result.exit_code == 0, result.stderr
    assert "2 scenarios (without_nhs, blue_light_apart)" in result.stdout


def test_compare_agrees_with_separate_runs():
    base, with_nhs = plan(SEL), plan(SEL, "--scenario", "with_nhs")
    result = run("compare", SEL, "--scenario", "with_nhs", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["reference"] == "base"
    mine = data["plans"]["with_nhs"]
    assert mine["totals"]["npv"] == pytest.approx(with_nhs["totals"]["npv"], abs=0.01)
    assert mine["npv_difference"] == pytest.approx(
        with_nhs["totals"]["npv"] - base["totals"]["npv"], abs=0.02
    )

    def groups(d):
        return {
            (s, tuple(g["members"])) for s, body in d["services"].items() for g in body["groups"]
        }

    appeared = {(p["service"], tuple(p["members"])) for p in mine["appeared"]}
    disappeared = {(p["service"], tuple(p["members"])) for p in mine["disappeared"]}
    assert appeared == groups(with_nhs) - groups(base)
    assert disappeared == groups(base) - groups(with_nhs)
    assert mine["members"]["nhs-trust"] == pytest.approx(with_nhs["members"]["nhs-trust"]["npv"])
    assert data["plans"]["base"]["members"]["nhs-trust"] is None


def test_compare_table_and_workbook(tmp_path):
    result = run("compare", CROSS, "--scenario", "base", "--scenario", "without_nhs", "-q")
    assert result.exit_code == 0, result.stderr
    assert "without_nhs - base" in result.stdout
    assert "Partnerships that change from base" in result.stdout
    target = tmp_path / "compare.xlsx"
    assert run("compare", CROSS, "--scenario", "without_nhs", "-q", "-o", target).exit_code == 0
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["plans", "members", "changes"]
    rows = {r[0]: r for r in book["plans"].iter_rows(min_row=2, values_only=True)}
    assert rows["npv"][3] == pytest.approx(rows["npv"][2] - rows["npv"][1], abs=0.01)


def test_compare_needs_scenarios_and_refuses_repeats():
    assert run("compare", SEL).exit_code == 2
    repeated = run("compare", SEL, "--scenario", "base", "--scenario", "base")
    assert repeated.exit_code == 2 and "names a plan twice" in repeated.stderr


def test_simulate_sends_the_scenario_to_worker_processes():
    """The workers parse the same text with the same scenario: same numbers at 1 and 2."""
    outputs = []
    for workers in ("1", "2"):
        result = run(
            "simulate",
            SEL,
            "--scenario",
            "with_nhs",
            "--draws",
            "40",
            "--workers",
            workers,
            "--format",
            "json",
            "-q",
        )
        assert result.exit_code == 0, result.stderr
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    assert "nhs-trust" in outputs[0]["members"]


def test_a_scenario_error_is_a_consortium_error(engine):
    with pytest.raises(ConsortiumError, match="unknown scenario 'nope'"):
        engine.load(SEL, scenario=["nope"])


def test_golden_comparison():
    result = run("compare", SEL, "--scenario", "with_nhs", "--scenario", "no_bromley", "-q")
    assert result.exit_code == 0, result.stderr
    golden = ROOT / "tests" / "golden" / "compare-south-east-london.txt"
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_validate_reports_every_broken_scenario_at_once(tmp_path):
    data = {
        "services": {"s": {"model": "scale"}},
        "members": {m: {"services": {"s": {"volume": 10, "annual_cost": 1000.0}}} for m in "ab"},
        "scenarios": {
            "one": {"members": {"a": {"population": -1}}},
            "two": {"constraints": {"max_group_size": 0}},
        },
    }
    path = tmp_path / "c.toml"
    path.write_text(dumps(data), encoding="utf-8")
    result = run("validate", path)
    assert result.exit_code == 2
    assert "2 problems found" in result.stderr
    assert "[scenario one]" in result.stderr and "[scenario two]" in result.stderr


def test_a_scenario_name_must_be_an_id(tmp_path):
    """A name is a heading in workbooks and CSV: "=1+2" must never reach a cell."""
    text = (
        '[services.s]\nmodel = "scale"\n[members.a.services.s]\nvolume = 1\nannual_cost = 1.0\n'
        '[scenarios."=1+2"]\ndescription = "x"\n'
    )
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    result = run("validate", path)
    assert result.exit_code == 2
    assert "scenario name '=1+2'" in result.stderr


def test_compare_with_an_infeasible_plan_says_so_and_exits_1(tmp_path):
    data = {
        "services": {"s": {"model": "scale", "scale_exponent": 0.8, "transition_cost": 1e4}},
        "members": {
            m: {"services": {"s": {"volume": 100 * (i + 1), "annual_cost": 1e5}}}
            for i, m in enumerate("abc")
        },
        "scenarios": {
            "clash": {  # a pair that must form, and no budget to form it: found by solving
                "constraints": {
                    "transition_budget": 0.0,
                    "must_share": [{"service": "s", "members": ["a", "b"]}],
                }
            }
        },
    }
    path = tmp_path / "c.toml"
    path.write_text(dumps(data), encoding="utf-8")
    result = run("compare", path, "--scenario", "clash", "--format", "json", "-q")
    assert result.exit_code == 1
    assert "error: clash: no grouping satisfies the constraints" in result.stderr
    clash = json.loads(result.stdout)["plans"]["clash"]
    assert clash["status"] == "infeasible"
    assert clash["appeared"] == [] and clash["disappeared"] == []
    table = run("compare", path, "--scenario", "clash", "-q").stdout
    partnerships = next(line for line in table.splitlines() if line.startswith("partnerships"))
    assert partnerships.split()[1:] == ["1"]  # base has one; clash none, and no difference


def test_a_consortium_changed_in_code_is_never_re_read_from_its_old_text(engine):
    """`attrs.evolve` keeps the TOML a consortium was read from: worker processes must not
    re-read it (they would simulate the old figures), so the draws stay in process and
    give the numbers of the changed consortium."""
    import attrs

    from sharedsvc.model.load import reads_back
    from sharedsvc.uncertainty.summary import to_dict

    consortium = engine.load(SEL)
    changed = attrs.evolve(consortium, discount_rate=0.1)
    assert reads_back(consortium, engine.registry, engine.settings)
    assert not reads_back(changed, engine.registry, engine.settings)
    lines: list[str] = []
    two = engine.simulate(changed, draws=20, workers=2, progress=lines.append)
    one = engine.simulate(changed, draws=20, workers=1)
    assert any("running the draws in this process" in line for line in lines)
    assert to_dict(two) == to_dict(one)
    base = engine.simulate(consortium, draws=20, workers=1)
    assert to_dict(base)["totals"] != to_dict(one)["totals"]
