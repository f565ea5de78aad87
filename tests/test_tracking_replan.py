"""`sharedsvc track --replan`, checked by hand on three members whose possible groups are
listed with their figures (the `table` model), and `--draws` checked against
`sharedsvc simulate`'s own draws.

Three boroughs, a discount rate of 25% and an exit cost of half the one-off cost, paid
at the end of the horizon (3 years). Groups: a + b save £100 a year for £50 once;
b + c save £90 for £20; a + b + c save £120 for £200. Plan npv: b + c
90 x (0.8 + 0.64 + 0.512) - 20 x (1 + 0.5 x 0.512) = £150.56; a + b £132.40; so the
plan forms b + c and leaves a alone.
"""

from __future__ import annotations

import datetime as dt
import json

import attrs
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc.cli import main
from sharedsvc.tracking.actuals import parse_actuals, read_actuals
from sharedsvc.tracking.compare import track
from sharedsvc.tracking.draws import forecast_spread
from sharedsvc.tracking.plan import parse_plan, read_plan
from sharedsvc.tracking.replan import DISSOLVE, FORM, KEEP, Replan, replan

THREE = """
[consortium]
name = "Three boroughs"
horizon_years = 3
discount_rate = 0.25
exit_cost = 0.5

[services.legal]
model = "table"
groups = [
  { members = ["a", "b"], annual_saving = 100.0, transition_cost = 50.0 },
  { members = ["b", "c"], annual_saving = 90.0, transition_cost = 20.0 },
  { members = ["a", "b", "c"], annual_saving = 120.0, transition_cost = 200.0 },
]

[members.a.services.legal]
annual_cost = 300.0
[members.b.services.legal]
annual_cost = 200.0
[members.c.services.legal]
annual_cost = 100.0

[constraints]
allocation = "proportional"
"""
BEHIND = """
start = 2020-01-01
[[partnerships]]
service = "legal"
members = ["b", "c"]
[[partnerships.years]]
year = 1
running_cost = 290   # saves 300 - 290 = 10 a year where 90 was planned
date = 2021-01-31
"""
AS_OF = dt.date(2021, 6, 30)  # years 0 and 1 have ended: two remain


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


@pytest.fixture
def plan_file(tmp_path):
    consortium = tmp_path / "three.toml"
    consortium.write_text(THREE, encoding="utf-8")
    plan = tmp_path / "plan.json"
    assert run("optimise", consortium, "-q", "-o", plan).exit_code == 0
    return plan


@pytest.fixture
def found(plan_file):
    plan = parse_plan(plan_file.read_text(), str(plan_file))
    return track(plan, parse_actuals(BEHIND, plan, AS_OF))


def test_the_plan_forms_b_and_c(found):
    (p,) = found.partnerships
    assert p.plan.members == ("b", "c")
    assert p.plan.npv == pytest.approx(90 * (0.8 + 0.64 + 0.512) - 20 * (1 + 0.5 * 0.512))


def test_replan_leaves_a_partnership_behind_its_plan_for_a_better_one(engine, found):
    replanned = replan(found, engine.registry, engine.settings)
    # two years remain; the re-plan's factors are 1, 0.8, 0.64 from the end of year 1
    keep_bc = (300 - 290) * (0.8 + 0.64) - 0.5 * 20 * 0.64  # run rate, less its end exit
    leave_bc = 0.5 * 20  # its exit cost now
    form_ab = 100 * (0.8 + 0.64) - 50 * (1 + 0.5 * 0.64)  # a new partnership, from scratch
    form_abc = 120 * (0.8 + 0.64) - 200 * (1 + 0.5 * 0.64)
    assert (keep_bc, form_ab, form_abc) == pytest.approx((8.0, 78.0, -91.2))
    best = max(keep_bc, form_ab - leave_bc, form_abc - leave_bc, -leave_bc)
    assert replanned.status == "optimal"
    assert replanned.remaining_years == 2 and replanned.from_year == 1
    assert replanned.continue_npv == pytest.approx(keep_bc)
    assert replanned.replan_npv == pytest.approx(best) == pytest.approx(68.0)
    assert replanned.difference == pytest.approx(60.0)
    changes = {(c.members, c.action): c for c in replanned.changes}
    assert set(changes) == {(("a", "b"), FORM), (("b", "c"), DISSOLVE)}
    assert changes[("a", "b"), FORM].npv == pytest.approx(form_ab)
    assert changes[("a", "b"), FORM].one_off == pytest.approx(50.0)
    assert changes[("b", "c"), DISSOLVE].npv == pytest.approx(-leave_bc)


def test_a_dear_exit_keeps_the_partnership(engine, found):
    replanned = replan(found, engine.registry, engine.settings, exit_share=8.0)
    # leaving b + c now costs 8 x 20 = 160: a + b (78 - 160) is no longer worth it
    assert [(c.members, c.action) for c in replanned.changes] == [(("b", "c"), KEEP)]
    (kept,) = replanned.changes
    assert kept.annual_saving == pytest.approx(10.0) and kept.one_off == 0.0
    assert replanned.replan_npv == pytest.approx(8.0) and replanned.difference == pytest.approx(0)


def test_a_partnership_on_plan_is_kept(engine, plan_file):
    plan = read_plan(plan_file)
    on_plan = BEHIND.replace("running_cost = 290", "running_cost = 210")  # saves 90
    found = track(plan, parse_actuals(on_plan, plan, AS_OF))
    replanned = replan(found, engine.registry, engine.settings)
    keep_bc = 90 * (0.8 + 0.64) - 0.5 * 20 * 0.64
    assert [c.action for c in replanned.changes] == [KEEP]
    assert replanned.replan_npv == pytest.approx(keep_bc) == pytest.approx(123.2)


def test_the_command_shows_what_to_change(tmp_path, plan_file):
    actuals = tmp_path / "actuals.toml"
    actuals.write_text(BEHIND)
    result = run("track", plan_file, actuals, "--as-of", "2021-06-30", "--replan", "-q")
    assert result.exit_code == 0, result.stderr
    assert "Re-plan of the remaining 2 years" in result.stdout
    as_json = ("--as-of", "2021-06-30", "--replan", "-q", "--format", "json")
    data = json.loads(run("track", plan_file, actuals, *as_json).stdout)
    assert data["replan"]["difference"] == 60.0
    assert data["replan"]["continue_npv"] == 8.0
    assert [(c["members"], c["change"]) for c in data["replan"]["changes"]] == [
        (["a", "b"], "form"),
        (["b", "c"], "dissolve"),
    ]
    timed = run("track", plan_file, actuals, *as_json, "--time-limit", "30")
    assert json.loads(timed.stdout)["replan"]["difference"] == 60.0
    alone = run("track", plan_file, actuals, "--time-limit", "30")
    assert alone.exit_code == 2 and "--time-limit goes with --replan" in alone.stderr
    dear = run("track", plan_file, actuals, *as_json, "--exit-cost", "8")
    assert json.loads(dear.stdout)["replan"]["changes"][0]["change"] == "keep"


def test_replan_after_the_horizon_ended_exits_2(tmp_path, plan_file):
    actuals = tmp_path / "actuals.toml"
    actuals.write_text(BEHIND)
    result = run("track", plan_file, actuals, "--as-of", "2023-06-30", "--replan")
    assert result.exit_code == 2
    assert "--replan: the plan's horizon ended with year 3" in result.stderr


def test_replan_refuses_a_dissolution_still_under_way(tmp_path, plan_file):
    """b + c runs until the end of year 2, which has not ended: the re-plan, from the end
    of year 1, can neither count it as gone (its members would join new groups while it
    still runs) nor as kept (its members would be held past its end)."""
    actuals = tmp_path / "actuals.toml"
    leaving = 'members = ["b", "c"]\ndissolved = { year = 2, exit_cost = 10 }'
    actuals.write_text(BEHIND.replace('members = ["b", "c"]', leaving))
    plain = run("track", plan_file, actuals, "--as-of", "2021-06-30")
    assert plain.exit_code == 0, plain.stderr  # tracking it is fine
    result = run("track", plan_file, actuals, "--as-of", "2021-06-30", "--replan")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert (
        "--replan: legal: b + c is dissolved at the end of year 2 (2021-01-01 to 2021-12-31), "
        "which has not ended on 2021-06-30" in result.stderr
    )


def test_replan_and_draws_need_the_consortium_text(tmp_path, plan_file):
    data = json.loads(plan_file.read_text())
    data["record"]["consortium_text"] = None
    data["record"]["consortium_sha256"] = None
    plan_file.write_text(json.dumps(data))
    actuals = tmp_path / "actuals.toml"
    actuals.write_text(BEHIND)
    plain = run("track", plan_file, actuals, "--as-of", "2021-06-30")
    assert plain.exit_code == 0  # tracking itself needs only the plan's figures
    for option in ("--replan", "--draws"):
        args = [option] if option == "--replan" else [option, "5"]
        result = run("track", plan_file, actuals, "--as-of", "2021-06-30", *args)
        assert result.exit_code == 2
        assert f"{option} needs the consortium the plan was made from" in result.stderr


def test_draws_need_an_uncertain_input(tmp_path, plan_file):
    actuals = tmp_path / "actuals.toml"
    actuals.write_text(BEHIND)
    result = run("track", plan_file, actuals, "--as-of", "2021-06-30", "--draws", "5")
    assert result.exit_code == 2
    assert "gives no input as a distribution" in result.stderr


# -- draws: the forecast spread agrees with `simulate` --------------------------------------

SEL = ROOT / "consortia" / "south-east-london.toml"
SEL_ACTUALS = ROOT / "consortia" / "south-east-london-actuals.toml"


def test_the_forecast_spread_is_simulates_draws_for_the_years_to_come(engine, tmp_path):
    result = engine.optimise(engine.load(SEL))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(result.to_dict()))
    plan = read_plan(path)
    found = track(plan, read_actuals(SEL_ACTUALS, plan, dt.date(2026, 12, 1)))
    spread = forecast_spread(found, engine.registry, engine.settings, draws=40, seed=7)
    sim = engine.simulate(engine.load(SEL), draws=40, seed=7)
    by_label = {p.label: p for p in spread.partnerships}
    # payments: years 0-4 realised, year 5 the plan's. In a draw its year-5 flow is the
    # draw's annual saving, which simulate gives as npv = saving x annuity - one-off
    payments = by_label["payments: bexley + bromley + lewisham"]
    k = list(sim.plan.groups).index(("payments", ("bexley", "bromley", "lewisham")))
    factors = plan.discount_factors
    annuity = sum(factors[1:])
    known = sum(y.realised * factors[y.year] for y in payments.years if y.year < 5)
    expected = known + (sim.groups[:, k] + 80_000.0) / annuity * factors[5]
    p5, p50, p95 = np.percentile(expected, [5, 50, 95])
    assert payments.spread["p5"] == pytest.approx(p5, abs=0.01)
    assert payments.spread["p50"] == pytest.approx(p50, abs=0.01)
    assert payments.spread["p95"] == pytest.approx(p95, abs=0.01)
    assert payments.spread["mean"] == pytest.approx(expected.mean(), abs=0.01)
    assert payments.spread["p5"] < payments.spread["p95"]
    # hr has no uncertain input: every draw is its forecast
    hr = by_label["hr: bromley + greenwich + lewisham"]
    assert hr.spread["p5"] == hr.spread["p95"] == round(hr.forecast_npv, 2)
    # the dissolved fraud partnership has nothing left to draw
    fraud = by_label["fraud: bromley + greenwich + lewisham"]
    assert fraud.spread["p5"] == fraud.spread["p95"] == round(fraud.forecast_npv, 2)
    assert fraud.spread["p_positive"] == 0.0
    total = sum(p.forecast_npv for p in spread.partnerships)
    assert spread.spread["p5"] < total < spread.spread["p95"]
    assert spread.draws == 40 and spread.seed == 7


def test_a_replan_with_no_plan_says_why(found):
    from sharedsvc.report.tracking import render

    nothing = Replan(
        from_year=1,
        from_date="2020-12-31",
        remaining_years=2,
        exit_share=0.5,
        status="infeasible",
        gap=None,
        message="no grouping satisfies the constraints: must_share",
        continue_npv=8.0,
        replan_npv=None,
    )
    shown = attrs.evolve(found, replan=nothing)
    data = json.loads(render(shown, "json"))["replan"]
    assert data["replan_npv"] is None and data["difference"] is None
    assert data["status"] == "infeasible" and data["changes"] == []
    assert "no grouping satisfies the constraints: must_share" in render(shown, "table")


def test_a_partnership_no_input_moves_has_its_forecast_in_every_draw(engine, tmp_path):
    """hr has no uncertain input: each draw prices it as the plan did, in pennies as the
    plan file's flows are, so its spread is its forecast to the penny. Its forecast,
    £2,770,149.2140, lies within half a penny of a rounding boundary: draws priced to a
    fraction of a penny put it at £2,770,149.22."""
    result = engine.optimise(engine.load(SEL))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(result.to_dict()))
    plan = read_plan(path)
    found = track(plan, read_actuals(SEL_ACTUALS, plan, dt.date(2026, 12, 1)))
    hr = next(p for p in found.partnerships if p.plan.service == "hr")
    assert round(hr.forecast_npv, 4) == 2_770_149.2140
    spread = forecast_spread(found, engine.registry, engine.settings, draws=5, seed=3)
    hr = next(p for p in spread.partnerships if p.plan.service == "hr")
    for key in ("mean", "p5", "p50", "p95"):
        assert hr.spread[key] == 2_770_149.21, key
