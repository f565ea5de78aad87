"""`sharedsvc track`: a plan against its actuals, every figure computed here by hand.

The plan is made by the real optimiser from a tiny `table` consortium whose figures
are chosen so that the arithmetic is short: one partnership of a and b saving £100 a
year for three years, £50 to form, standalone costs £300 and £200 (S = £500), a
discount rate of 25% (factors 1, 0.8, 0.64, 0.512) and proportional shares (a 60%,
b 40%). Plan npv = 100 x (0.8 + 0.64 + 0.512) - 50 = £145.20; a's share £87.12.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from sharedsvc.cli import main
from sharedsvc.tracking.actuals import parse_actuals
from sharedsvc.tracking.compare import (
    ACTUAL,
    AHEAD,
    AT_RISK,
    BEHIND,
    DISSOLVED,
    FORECAST,
    MISSING,
    NO_ACTUALS,
    ON_TRACK,
    track,
)
from sharedsvc.tracking.plan import parse_plan

PAIR = """
[consortium]
name = "Two boroughs"
horizon_years = 3
discount_rate = 0.25
{extra}

[services.legal]
model = "table"
groups = [{{ members = ["a", "b"], annual_saving = 100.0, transition_cost = 50.0 }}]

[members.a.services.legal]
annual_cost = 300.0

[members.b.services.legal]
annual_cost = 200.0

[constraints]
allocation = "proportional"
"""
FACTORS = (1.0, 0.8, 0.64, 0.512)  # 1 / 1.25 ** t
AS_OF = dt.date(2022, 6, 30)  # years 0 (2020-01-01), 1 (2020) and 2 (2021) have ended


def run(*args, env=None):
    return CliRunner().invoke(
        main, [str(a) for a in args], env={"SHAREDSVC_DISABLE_PLUGINS": "1", **(env or {})}
    )


def make_plan(tmp_path, extra: str = "", name: str = "plan.json"):
    consortium = tmp_path / "pair.toml"
    consortium.write_text(PAIR.format(extra=extra), encoding="utf-8")
    plan = tmp_path / name
    result = run("optimise", consortium, "-q", "-o", plan)
    assert result.exit_code == 0, result.stderr
    return plan


@pytest.fixture
def plan_file(tmp_path):
    return make_plan(tmp_path)


@pytest.fixture
def plan(plan_file):
    return parse_plan(plan_file.read_text(encoding="utf-8"), str(plan_file))


ACTUALS = """
start = 2020-01-01

[[partnerships]]
service = "legal"
members = ["b", "a"]
{dissolved}

[[partnerships.years]]
year = 0
one_off_cost = 60
date = 2020-01-15

[[partnerships.years]]
year = 1
running_cost = 420
date = 2021-02-01
note = "first outturn"
{contributions}
"""


def tracked(plan, text, as_of=AS_OF, **options):
    return track(plan, parse_actuals(text, plan, as_of), **options)


def test_the_plan_is_as_computed_by_hand(plan):
    (p,) = plan.partnerships
    assert p.members == ("a", "b") and p.standalone_cost == 500.0
    assert p.flows == (-50.0, 100.0, 100.0, 100.0)
    assert p.npv == pytest.approx(145.2, abs=0.005)
    assert p.allocation == {"a": pytest.approx(87.12), "b": pytest.approx(58.08)}
    assert plan.discount_factors == pytest.approx(FACTORS)


def test_saving_to_date_variance_and_a_missing_year(plan):
    found = tracked(plan, ACTUALS.format(dissolved="", contributions=""))
    (p,) = found.partnerships
    kinds = [y.kind for y in p.years]
    assert kinds == [ACTUAL, ACTUAL, MISSING, FORECAST]
    # year 0: -60 one-off; year 1: 500 standalone - 420 running = 80
    assert [y.realised for y in p.years] == [-60.0, 80.0, None, None]
    assert [y.variance for y in p.years] == [-10.0, -20.0, None, None]
    assert p.planned_to_date == -50 + 100  # year 2 is missing, not zero: not counted
    assert p.realised_to_date == -60 + 80
    assert p.variance_to_date == pytest.approx(20 - 50)
    assert p.delivered == pytest.approx(20 / 50)
    assert p.missing == (2,)
    # the forecast uses the plan's figure for the missing year 2 and for year 3
    assert round(p.forecast_npv, 2) == round(-60 + 80 * 0.8 + 100 * 0.64 + 100 * 0.512, 2)
    assert round(p.forecast_npv, 2) == 119.2
    assert p.status == AT_RISK  # 40% delivered, below 80%
    assert p.reasons == ("realised 40.0% of its planned saving to date, below 80%",)


def test_members_split_by_their_plan_shares(plan):
    found = tracked(plan, ACTUALS.format(dissolved="", contributions=""))
    a, b = found.partnerships[0].members
    assert (a.member, b.member) == ("a", "b")
    assert a.share == pytest.approx(0.6) and b.share == pytest.approx(0.4)
    assert a.realised_to_date == pytest.approx(0.6 * 20)
    assert b.planned_to_date == pytest.approx(0.4 * 50)
    assert round(a.forecast_npv, 2) == round(0.6 * 119.2, 2) == 71.52
    assert round(b.forecast_npv, 2) == 47.68
    assert a.plan_npv == pytest.approx(87.12)
    assert not a.negative and not b.negative
    totals = {m.member: m for m in found.members}
    assert totals["a"].forecast_npv == pytest.approx(a.forecast_npv)


def test_contributions_decide_a_members_gain_and_can_turn_it_negative(plan):
    contributions = "contributions = { a = 160, b = 260 }"
    found = tracked(plan, ACTUALS.format(dissolved="", contributions=contributions))
    (p,) = found.partnerships
    a, b = p.members
    # year 1: a gains 300 - 160 = 140, b gains 200 - 260 = -60; other years by share
    assert p.years[1].members_realised == {"a": 140.0, "b": -60.0}
    b_forecast = 0.4 * -60 + -60 * 0.8 + 0.4 * 100 * 0.64 + 0.4 * 100 * 0.512
    a_forecast = 0.6 * -60 + 140 * 0.8 + 0.6 * 100 * 0.64 + 0.6 * 100 * 0.512
    assert round(b.forecast_npv, 2) == round(b_forecast, 2) == -25.92
    assert round(a.forecast_npv, 2) == round(a_forecast, 2) == 145.12
    assert b.negative and not a.negative
    assert b.contribution_years == (1,)
    assert a.forecast_npv + b.forecast_npv == pytest.approx(p.forecast_npv)
    assert [(q.plan.label, s.member) for q, s in found.negative_gains] == [("legal: a + b", "b")]


def test_a_trend_is_the_slope_of_the_yearly_variance(plan):
    text = (
        ACTUALS.format(dissolved="", contributions="")
        + """
[[partnerships.years]]
year = 2
running_cost = 410
date = 2022-01-31

[[partnerships.years]]
year = 3
running_cost = 395
date = 2023-01-31
"""
    )
    found = tracked(plan, text, as_of=dt.date(2023, 6, 30))
    (p,) = found.partnerships
    # variances -20, -10, +5 in years 1 to 3: slope = sum(dx dy) / sum(dx^2)
    mean = (-20 - 10 + 5) / 3
    expected = ((1 - 2) * (-20 - mean) + (3 - 2) * (5 - mean)) / ((1 - 2) ** 2 + (3 - 2) ** 2)
    assert expected == pytest.approx(12.5)
    assert p.trend.slope == pytest.approx(expected)
    assert p.trend.years == (1, 2, 3) and p.trend.direction == "improving"
    # year 0 (one-off only) is not part of the trend
    assert [y.ratio for y in p.years] == [None, 0.8, 0.9, 1.05]
    assert round(p.forecast_npv, 2) == round(-60 + 80 * 0.8 + 90 * 0.64 + 105 * 0.512, 2)


def test_a_partnership_dissolved_early_saves_nothing_after_paying_its_exit(plan):
    found = tracked(
        plan,
        ACTUALS.format(dissolved="dissolved = { year = 1, exit_cost = 30 }", contributions=""),
    )
    (p,) = found.partnerships
    assert [y.kind for y in p.years] == [ACTUAL, ACTUAL, DISSOLVED, DISSOLVED]
    # year 1: 80 saved, less the 30 it cost to unwind; year 2 (ended): nothing
    assert [y.realised for y in p.years] == [-60.0, 50.0, 0.0, None]
    assert [y.used for y in p.years] == [-60.0, 50.0, 0.0, 0.0]
    assert p.years[1].exit_cost == 30.0
    assert p.planned_to_date == -50 + 100 + 100
    assert p.realised_to_date == -60 + 50 + 0
    assert round(p.forecast_npv, 2) == round(-60 + 50 * 0.8, 2) == -20.0
    assert p.status == DISSOLVED
    assert p.missing == ()  # a year after a dissolution is not missing
    assert {s.member for s in p.members if s.negative} == {"a", "b"}


def test_a_dissolution_replaces_the_plans_own_exit_cost(tmp_path):
    # with exit_cost = 0.5 the plan pays 0.5 x 50 = 25 again at the end of year 3
    plan_file = make_plan(tmp_path, "exit_cost = 0.5")
    plan = parse_plan(plan_file.read_text(), "plan.json")
    assert plan.partnerships[0].flows == (-50.0, 100.0, 100.0, 75.0)
    text = ACTUALS.format(dissolved="dissolved = { year = 3, exit_cost = 40 }", contributions="")
    (p,) = tracked(plan, text).partnerships  # year 3 has begun but not ended
    assert [y.kind for y in p.years] == [ACTUAL, ACTUAL, MISSING, FORECAST]
    # year 3: the plan's 100 saving (75 + its own 25 exit, no longer paid) less the 40
    assert p.years[3].used == 75 + 25 - 40
    assert round(p.forecast_npv, 2) == round(-60 + 80 * 0.8 + 100 * 0.64 + 60 * 0.512, 2)


def test_non_cash_value_counts_as_the_plan_counts_it(plan):
    text = ACTUALS.format(dissolved="", contributions="non_cashable_value = 50")
    (p,) = tracked(plan, text).partnerships
    assert plan.count_non_cashable == 0.22  # the default
    assert p.years[1].realised == pytest.approx(500 - 420 + 0.22 * 50)


@pytest.mark.parametrize(
    ("running", "status"),
    [
        # to date: planned -50 + 100 = 50; realised -50 + (500 - running)
        (400, ON_TRACK),  # 50 / 50 = 100%
        (402, ON_TRACK),  # 48 / 50 = 96%, within 5% either way
        (404, BEHIND),  # 46 / 50 = 92%
        (415, AT_RISK),  # 35 / 50 = 70%, below 80%
        (396, AHEAD),  # 54 / 50 = 108%
    ],
)
def test_statuses(plan, running, status):
    text = f"""
start = 2020-01-01
[[partnerships]]
service = "legal"
members = ["a", "b"]
[[partnerships.years]]
year = 0
one_off_cost = 50
date = 2020-01-01
[[partnerships.years]]
year = 1
running_cost = {running}
date = 2020-12-31
"""
    (p,) = tracked(plan, text).partnerships
    assert p.delivered == pytest.approx((-50 + 500 - running) / 50)
    assert p.status == status


def test_exactly_the_threshold_is_not_at_risk_but_below_it_is(plan):
    text = """
start = 2020-01-01
[[partnerships]]
service = "legal"
members = ["a", "b"]
[[partnerships.years]]
year = 1
running_cost = {running}
date = 2020-12-31
"""
    (p,) = tracked(plan, text.format(running=420)).partnerships  # 80 of 100
    assert p.delivered == pytest.approx(0.8) and p.status == BEHIND
    (p,) = tracked(plan, text.format(running=420.01)).partnerships
    assert p.status == AT_RISK
    (p,) = tracked(plan, text.format(running=420.01), threshold=0.7).partnerships
    assert p.status == BEHIND


def test_a_plan_with_no_actuals_is_all_missing_and_forecast_at_its_plan(plan):
    (p,) = tracked(plan, "start = 2020-01-01\n").partnerships
    assert [y.kind for y in p.years] == [MISSING, MISSING, MISSING, FORECAST]
    assert p.status == NO_ACTUALS and p.missing == (0, 1, 2)
    assert round(p.forecast_npv, 2) == 145.2 == round(p.plan.npv, 2)


def test_the_forecast_is_at_risk_when_it_falls_below_zero(plan):
    text = """
start = 2020-01-01
[[partnerships]]
service = "legal"
members = ["a", "b"]
[[partnerships.years]]
year = 0
one_off_cost = 400
date = 2020-01-01
"""
    (p,) = tracked(plan, text).partnerships
    assert p.delivered is None  # nothing but a one-off cost was planned to date
    assert round(p.forecast_npv, 2) == round(-400 + 100 * (0.8 + 0.64 + 0.512), 2)
    assert p.status == AT_RISK
    assert p.reasons == ("its forecast npv, -£205, is below zero",)


# -- the command -------------------------------------------------------------------------


def actuals_file(tmp_path, text):
    path = tmp_path / "actuals.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_command_prints_the_tracking(tmp_path, plan_file):
    actuals = actuals_file(tmp_path, ACTUALS.format(dissolved="", contributions=""))
    result = run("track", plan_file, actuals, "--as-of", "2022-06-30")
    assert result.exit_code == 0, result.stderr
    assert "legal: a + b is at risk: realised 40.0% of its planned saving to date" in result.stdout
    assert "no actuals for year 2, which ended" in result.stdout
    data = json.loads(
        run("track", plan_file, actuals, "--as-of", "2022-06-30", "--format", "json").stdout
    )
    assert data["totals"]["forecast_npv"] == 119.2
    assert data["partnerships"][0]["years"][2]["kind"] == "missing"
    assert data["at_risk"] == ["legal: a + b"]


def test_on_the_start_date_only_year_0_has_ended(tmp_path, plan_file):
    actuals = actuals_file(tmp_path, "start = 2020-01-01\n")
    result = run("track", plan_file, actuals, "--as-of", "2020-01-01")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "Two boroughs: tracked to 2020-01-01 (year 0, the start, ended)"
    )
    page = run("track", plan_file, actuals, "--as-of", "2020-01-01", "--format", "html").stdout
    assert "tracked to 2020-01-01; year 0, the start, ended;" in page


def test_today_is_the_default_date(tmp_path, plan_file):
    actuals = actuals_file(tmp_path, ACTUALS.format(dissolved="", contributions=""))
    data = json.loads(run("track", plan_file, actuals, "--format", "json").stdout)
    assert data["as_of"] == dt.date.today().isoformat()
    assert data["last_year_ended"] == 3  # the three-year plan of 2020 has ended


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("t.json", lambda text: json.loads(text)["consortium"] == "Two boroughs"),
        ("t.csv", lambda text: text.startswith("service,partnership,level,member,year,")),
        ("t.md", lambda text: text.startswith("## Two boroughs") and "|---" in text),
        ("t.txt", lambda text: "Partnerships against the plan" in text),
        ("t.html", lambda text: text.startswith("<!DOCTYPE html>")),
    ],
)
def test_the_output_name_picks_the_format(tmp_path, plan_file, name, check):
    actuals = actuals_file(tmp_path, ACTUALS.format(dissolved="", contributions=""))
    target = tmp_path / name
    result = run("track", plan_file, actuals, "--as-of", "2022-06-30", "-o", target)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote {target}" in result.stderr
    assert check(target.read_text(encoding="utf-8"))


def test_nothing_the_user_gave_is_overwritten(tmp_path, plan_file):
    actuals = actuals_file(tmp_path, ACTUALS.format(dissolved="", contributions=""))
    before = (plan_file.read_bytes(), actuals.read_bytes())
    for target, what in ((plan_file, "the plan file"), (actuals, "the actuals file")):
        result = run("track", plan_file, actuals, "--format", "json", "-o", target)
        assert result.exit_code == 2
        assert f"{target} is {what} itself" in result.stderr
    assert (plan_file.read_bytes(), actuals.read_bytes()) == before


def test_usage_mistakes_exit_2(tmp_path, plan_file):
    actuals = actuals_file(tmp_path, ACTUALS.format(dissolved="", contributions=""))
    workbook = run("track", plan_file, actuals, "--format", "xlsx")
    assert workbook.exit_code == 2 and "--output" in workbook.stderr
    alone = run("track", plan_file, actuals, "--exit-cost", "0.5")
    assert alone.exit_code == 2 and "--exit-cost goes with --replan" in alone.stderr
    seed = run("track", plan_file, actuals, "--seed", "3")  # as --exit-cost: never ignored
    assert seed.exit_code == 2 and "--seed goes with --draws" in seed.stderr
    date = run("track", plan_file, actuals, "--as-of", "30/06/2022")
    assert date.exit_code == 2 and "--as-of" in date.stderr
    later = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    future = run("track", plan_file, actuals, "--as-of", later)
    assert future.exit_code == 2 and f"--as-of {later} is after today" in future.stderr


# -- bad input: exit 2, the file, the key path, what was expected --------------------------

BAD_ACTUALS = [
    ("start = 2020-01-01\n[[partnerships]\n", "not valid TOML"),
    ('start = "2020-01-01"\n', "start: expected a date written without quotes (2024-05-31), got "),
    ("start = 2023-01-01\n", "start: 2023-01-01 is after 2022-06-30: the plan has not started"),
    ("begin = 2020-01-01\n", "begin: unknown key 'begin'"),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legl"\nmembers = ["a", "b"]\n',
        "partnerships[0].service: the plan has no partnership for 'legl'; did you mean 'legal'?",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "c"]\n',
        "partnerships[0].members: the plan has no legal partnership of a + c: a partnership "
        "that is not in the plan cannot be tracked; its legal partnership is a + b",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 3\nrunning_cost = 1\ndate = 2022-01-01\n",
        "partnerships[0].years[0].year: year 3 (2022-01-01 to 2022-12-31) has not ended on "
        "2022-06-30: a year in the future has no actuals yet",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 4\nrunning_cost = 1\ndate = 2022-01-01\n",
        "partnerships[0].years[0].year: expected a plan year from 0 (the start) to 3 (the "
        "plan's horizon), got 4",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        '[[partnerships.years]]\nyear = 1\nrunning_cost = "lots"\ndate = 2021-01-01\n',
        "partnerships[0].years[0].running_cost: expected a number >= 0 (pounds), got 'lots'",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nruning_cost = 4\ndate = 2021-01-01\n",
        "partnerships[0].years[0].runing_cost: unknown key 'runing_cost'; did you mean "
        "'running_cost'?",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\ndate = 2021-01-01\n",
        "partnerships[0].years[0].running_cost: missing; expected a number >= 0 (pounds)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 4\ndate = 2021-01-01\n"
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 5\ndate = 2021-01-01\n",
        "partnerships[0].years[1].year: year 1 is given twice (also years[0])",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        '[[partnerships]]\nservice = "legal"\nmembers = ["b", "a"]\n',
        "partnerships[1]: the same partnership as partnerships[0] (legal: a + b)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 420\ndate = 2021-01-01\n"
        "contributions = { a = 200, b = 200, c = 20 }\n",
        "partnerships[0].years[0].contributions.c: 'c' is not in this partnership (a + b)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 420\ndate = 2021-01-01\n"
        "contributions = { a = 200, b = 200 }\n",
        "partnerships[0].years[0].contributions: the contributions add up to £400.00; expected "
        "running_cost + one_off_cost = £420.00",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 420\ndate = 2021-01-01\n"
        "contributions = { a = 420 }\n",
        "partnerships[0].years[0].contributions: no contribution for b: give every member's",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 420\ndate = 2020-11-30\n",
        "partnerships[0].years[0].date: 2020-11-30 is before year 1 ended (2020-12-31)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 420\ndate = 2022-07-01\n",
        "partnerships[0].years[0].date: 2022-07-01 is in the future (after 2022-06-30)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 0\none_off_cost = 5\nrunning_cost = 4\n"
        "date = 2020-01-01\n",
        "partnerships[0].years[0].running_cost: year 0 is the start, when only one-off costs",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "dissolved = { year = 1, exit_cost = 5 }\n"
        "[[partnerships.years]]\nyear = 2\nrunning_cost = 4\ndate = 2022-01-01\n",
        "partnerships[0].years[0].year: year 2 comes after the partnership was dissolved at "
        "the end of year 1 (partnerships[0].dissolved.year)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "dissolved = { year = 1 }\n",
        "partnerships[0].dissolved.exit_cost: missing; expected a number >= 0 (pounds)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "a"]\n',
        "partnerships[0].members: a member is listed twice",
    ),
    ("", "start: missing; expected a date such as 2024-05-31 (no quotes)"),  # an empty file
    ("\ufeffbegin = 2020-01-01\n", "begin: unknown key 'begin'"),  # a BOM is not a key
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = nan\ndate = 2021-01-01\n",
        "partnerships[0].years[0].running_cost: expected a number >= 0 (pounds), got nan "
        "(not finite)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 4\none_off_cost = inf\n"
        "date = 2021-01-01\n",
        "partnerships[0].years[0].one_off_cost: expected a number >= 0 (pounds), got inf "
        "(not finite)",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1\nrunning_cost = 4\ndate = 2021-01-01T09:00:00\n",
        "partnerships[0].years[0].date: expected a date such as 2024-05-31, got a date and time",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "[[partnerships.years]]\nyear = 1.0\nrunning_cost = 4\ndate = 2021-01-01\n",
        "partnerships[0].years[0].year: expected a plan year from 0 (the start) to 3 (the "
        "plan's horizon), got 1.0",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a"]\n',
        "partnerships[0].members: expected the partnership's members, a list of two or more "
        "member ids, got ['a']",
    ),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "dissolved = 1\n",
        "partnerships[0].dissolved: expected a table { year = <plan year>, exit_cost = "
        "<pounds> }, got 1",
    ),
    ("start = 2020-01-01\npartnerships = 3\n", "partnerships: expected a list of tables"),
    (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        "years = { year = 1 }\n",
        "partnerships[0].years: expected a list of tables ([[partnerships.years]]), got a table",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_ACTUALS)
def test_bad_actuals_exit_2_naming_the_file_and_key_path(tmp_path, plan_file, text, expected):
    actuals = actuals_file(tmp_path, text)
    result = run("track", plan_file, actuals, "--as-of", "2022-06-30")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"error: {actuals}: " in result.stderr
    assert f"  {actuals}: {expected}" in result.stderr, result.stderr
    assert result.stdout == ""


def test_a_byte_order_mark_is_read_past(tmp_path, plan_file):
    """As Excel and Notepad save UTF-8: the mark is not part of the first key."""
    text = "\ufeff" + ACTUALS.format(dissolved="", contributions="")
    result = run("track", plan_file, actuals_file(tmp_path, text), "--as-of", "2022-06-30")
    assert result.exit_code == 0, result.stderr
    assert "legal: a + b is at risk" in result.stdout


def test_every_problem_of_an_actuals_file_at_once(tmp_path, plan_file):
    text = """
start = 2020-01-01
[[partnerships]]
service = "legal"
members = ["a", "b"]
[[partnerships.years]]
year = 1
running_cost = -5
date = 2021-01-01
[[partnerships.years]]
year = 9
running_cost = 4
date = "2021-01-01"
[[partnerships]]
service = "payroll"
members = ["a", "b"]
"""
    result = run("track", plan_file, actuals_file(tmp_path, text), "--as-of", "2022-06-30")
    assert result.exit_code == 2
    assert "4 problems found" in result.stderr
    for path in (
        "partnerships[0].years[0].running_cost: expected a number >= 0",
        "partnerships[0].years[1].year: expected a plan year from 0",
        "partnerships[0].years[1].date: expected a date written without quotes",
        "partnerships[1].service: the plan has no partnership for 'payroll'",
    ):
        assert path in result.stderr


def plan_variant(plan_file, change):
    data = json.loads(plan_file.read_text())
    change(data)
    plan_file.write_text(json.dumps(data))
    return plan_file


def _drop_record(data):
    del data["record"]


def _tamper(data):
    data["record"]["consortium_text"] = data["record"]["consortium_text"].replace("300.0", "3000")


def _text_flow(data):
    data["services"]["legal"]["groups"][0]["cash_flows"]["undiscounted"][2] = "100"


def _short_factors(data):
    data["record"]["years"]["discount_factors"] = [1.0, 0.8]


def _infeasible(data):
    data["status"] = "infeasible"


def _no_standalone(data):
    del data["services"]["legal"]["standalone_costs"]


def _newer(data):
    data["record"]["format"] = 99


def _no_npv(data):  # a key deleted by hand, or written as null: "nothing", in JSON's words
    del data["services"]["legal"]["groups"][0]["npv"]


def _null_horizon(data):
    data["record"]["parameters"]["horizon_years"] = None


def _one_member(data):
    data["services"]["legal"]["groups"][0]["members"] = ["a"]


def _allocation_list(data):
    data["services"]["legal"]["groups"][0]["allocation"] = [87.12, 58.08]


def _long_flows(data):
    data["services"]["legal"]["groups"][0]["cash_flows"]["undiscounted"] += [1.0, 2.0]


def _no_name(data):
    del data["consortium"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_drop_record, "record: missing; this plan was written by a sharedsvc that did not keep"),
        (_tamper, "record.consortium_sha256: expected "),
        (
            _text_flow,
            "services.legal.groups[0].cash_flows.undiscounted[2]: expected a number (pounds), "
            "got '100'",
        ),
        (
            _short_factors,
            "record.years.discount_factors: expected a list of 4 numbers (years 0 to 3), got "
            "[1.0, 0.8]",
        ),
        (_infeasible, "status: expected a plan that was solved (optimal or feasible)"),
        (_no_standalone, "services.legal.standalone_costs: missing"),
        (_newer, "record.format: format 99 is newer than this sharedsvc reads (1)"),
        (_no_npv, "services.legal.groups[0].npv: expected a number (pounds), got nothing"),
        (
            _null_horizon,
            "record.parameters.horizon_years: expected a whole number of years from 1 to 100, "
            "got nothing",
        ),
        (
            _one_member,
            "services.legal.groups[0].members: expected a list of two or more distinct member "
            "ids, got ['a']",
        ),
        (_allocation_list, "services.legal.groups[0].allocation: expected a table, got [87.12"),
        (
            _long_flows,
            "services.legal.groups[0].cash_flows.undiscounted: expected a list of 4 numbers "
            "(years 0 to 3), got a list of 6 values",
        ),
        (_no_name, "consortium: expected the consortium's name, got nothing"),
    ],
)
def test_bad_plans_exit_2_naming_the_file_and_key_path(tmp_path, plan_file, change, expected):
    plan_variant(plan_file, change)
    actuals = actuals_file(tmp_path, "start = 2020-01-01\n")
    result = run("track", plan_file, actuals, "--as-of", "2022-06-30")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"  {plan_file}: {expected}" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "expected a JSON object (a plan), got [1, 2]"),
        ('{"a": NaN}', "not valid JSON: NaN is not a number JSON allows"),
    ],
)
def test_a_plan_that_is_not_json_exits_2(tmp_path, content, expected):
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    result = run("track", plan, actuals_file(tmp_path, "start = 2020-01-01\n"))
    assert result.exit_code == 2
    assert f"{plan}: {expected}" in result.stderr


def test_missing_files_exit_2(tmp_path, plan_file):
    absent = tmp_path / "absent.toml"
    result = run("track", plan_file, absent)
    assert result.exit_code == 2 and f"{absent}: no such file" in result.stderr
    result = run("track", tmp_path / "none.json", absent)
    assert result.exit_code == 2 and "none.json: no such file" in result.stderr


def test_a_plan_with_no_partnership_has_nothing_to_track(tmp_path):
    consortium = tmp_path / "none.toml"
    consortium.write_text(
        PAIR.format(extra="").replace("annual_saving = 100.0", "annual_saving = -1.0")
    )
    plan = tmp_path / "plan.json"
    assert run("optimise", consortium, "-q", "-o", plan).exit_code == 0
    result = run("track", plan, actuals_file(tmp_path, "start = 2020-01-01\n"))
    assert result.exit_code == 0, result.stderr
    assert "The plan forms no partnership: there is nothing to track." in result.stdout
    listed = ACTUALS.format(dissolved="", contributions="")
    result = run("track", plan, actuals_file(tmp_path, listed), "--as-of", "2022-06-30")
    assert result.exit_code == 2
    assert "partnerships[0].service: the plan has no partnership for 'legal'; it forms none" in (
        result.stderr
    )


def test_a_wrong_cost_is_one_problem_not_two(tmp_path, plan_file):
    text = (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        '[[partnerships.years]]\nyear = 1\nrunning_cost = "lots"\ndate = 2021-01-01\n'
        "contributions = { a = 200, b = 200 }\n"
    )
    result = run("track", plan_file, actuals_file(tmp_path, text), "--as-of", "2022-06-30")
    assert result.exit_code == 2
    assert "1 problem found" in result.stderr  # the contributions are not also called wrong
    assert "running_cost: expected a number >= 0 (pounds), got 'lots'" in result.stderr


@pytest.mark.parametrize(
    ("running", "expected"),
    [
        ("5", "running_cost: year 0 is the start, when only one-off costs fall: expected none"),
        ('"lots"', "running_cost: expected a number >= 0 (pounds), got 'lots'"),
    ],
)
def test_a_running_cost_in_year_0_is_one_problem(tmp_path, plan_file, running, expected):
    """Not also "expected none" for a value that is no number, nor a sum of contributions
    that leaves it out."""
    text = (
        'start = 2020-01-01\n[[partnerships]]\nservice = "legal"\nmembers = ["a", "b"]\n'
        f"[[partnerships.years]]\nyear = 0\none_off_cost = 60\nrunning_cost = {running}\n"
        "date = 2020-01-15\ncontributions = { a = 30, b = 30 }\n"
    )
    result = run("track", plan_file, actuals_file(tmp_path, text), "--as-of", "2022-06-30")
    assert result.exit_code == 2
    assert "1 problem found" in result.stderr, result.stderr
    assert f"partnerships[0].years[0].{expected}" in result.stderr
