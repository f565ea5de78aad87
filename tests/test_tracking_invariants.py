"""Invariants of tracking on random plans and actuals (hypothesis): actuals equal to the
plan forecast the plan's npv with no variance; the years' variances add up to the
variance to date; members' figures add up to their partnership's; a dissolved
partnership's later years count nothing."""

from __future__ import annotations

import datetime as dt
import math

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsvc.tracking.actuals import (
    Actuals,
    Calendar,
    Dissolution,
    PartnershipActuals,
    YearActual,
)
from sharedsvc.tracking.compare import DISSOLVED, track
from sharedsvc.tracking.plan import PlannedPartnership, TrackedPlan

START = dt.date(2020, 4, 1)
money = st.floats(min_value=0, max_value=1e7, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def plans(draw):
    """A plan of one to three partnerships, each with its own flows: a one-off cost in
    year 0 and a saving no larger than its members' standalone cost in later years."""
    horizon = draw(st.integers(1, 6))
    rate = draw(st.floats(0, 0.2))
    factors = tuple(1 / (1 + rate) ** t for t in range(horizon + 1))
    partnerships = []
    for k in range(draw(st.integers(1, 3))):
        size = draw(st.integers(2, 3))
        members = tuple(f"m{k}{i}" for i in range(size))
        standalone = {m: draw(money) + 1.0 for m in members}
        total = math.fsum(standalone.values())
        one_off = draw(money)
        savings = [draw(st.floats(-0.5, 1.0)) * total for _ in range(horizon)]
        flows = (-one_off, *(round(s, 2) for s in savings))
        npv = math.fsum(f * d for f, d in zip(flows, factors, strict=True))
        weights = [draw(st.floats(0.01, 1)) for _ in members]
        allocation = {m: npv * w / sum(weights) for m, w in zip(members, weights, strict=True)}
        partnerships.append(
            PlannedPartnership(
                service=f"s{k}",
                members=members,
                standalone=standalone,
                annual_saving=max(savings),
                transition_cost=one_off,
                npv=npv,
                allocation=allocation,
                flows=flows,
            )
        )
    return TrackedPlan(
        source="plan.json",
        consortium="random",
        status="optimal",
        horizon_years=horizon,
        discount_factors=factors,
        exit_cost=0.0,
        count_non_cashable=draw(st.floats(0, 1)),
        allocation="proportional",
        partnerships=tuple(partnerships),
        version="test",
        sha256=None,
        text=None,
    )


def outturn(p: PlannedPartnership, year: int, saving: float) -> YearActual:
    """The outturn of a year in which `p` saved `saving` (running cost where it can be,
    one-off cost where the saving is negative past the standalone cost)."""
    standalone = p.standalone_cost if year >= 1 else 0.0
    running = max(0.0, standalone - saving)
    one_off = running - (standalone - saving)
    return YearActual(
        year=year,
        running_cost=running,
        one_off_cost=one_off,
        date=dt.date(2100, 1, 1),
    )


def calendar(plan: TrackedPlan, ended: int) -> Calendar:
    # as of the day after year `ended` ended
    return Calendar(
        start=START,
        as_of=dt.date(START.year + ended, START.month, START.day),
        horizon_years=plan.horizon_years,
    )


@settings(max_examples=150, deadline=None)
@given(plan=plans(), data=st.data())
def test_actuals_equal_to_the_plan_forecast_its_npv(plan, data):
    ended = data.draw(st.integers(0, plan.horizon_years))
    days = calendar(plan, ended)
    assert days.last_ended == ended
    partnerships = tuple(
        PartnershipActuals(
            service=p.service,
            members=p.members,
            years={t: outturn(p, t, p.flows[t]) for t in range(ended + 1)},
        )
        for p in plan.partnerships
    )
    found = track(plan, Actuals(source="a.toml", calendar=days, partnerships=partnerships))
    for p in found.partnerships:
        scale = 1 + sum(abs(f) for f in p.plan.flows)
        assert p.forecast_npv == pytest.approx(p.plan.npv, abs=1e-9 * scale)
        assert p.variance_to_date == pytest.approx(0, abs=1e-9 * scale)
        assert p.missing == ()
        for share in p.members:
            assert share.forecast_npv == pytest.approx(share.plan_npv, abs=1e-9 * scale)
    assert found.forecast_npv == pytest.approx(found.plan_npv, abs=1e-6 * (1 + abs(found.plan_npv)))


@settings(max_examples=150, deadline=None)
@given(plan=plans(), data=st.data())
def test_variances_and_members_add_up(plan, data):
    ended = data.draw(st.integers(0, plan.horizon_years))
    days = calendar(plan, ended)
    partnerships = []
    for p in plan.partnerships:
        reported = data.draw(st.sets(st.integers(0, ended)))
        dissolved = None
        if data.draw(st.booleans()):
            dissolved = Dissolution(
                year=data.draw(st.integers(0, min(ended + 1, plan.horizon_years))),
                exit_cost=data.draw(money),
            )
            reported = {t for t in reported if t <= dissolved.year}
        years = {}
        for t in sorted(reported):
            found = outturn(p, t, data.draw(st.floats(-1e6, 1e6)))
            if data.draw(st.booleans()):  # contributions that add up to the year's costs
                costs = found.running_cost + found.one_off_cost
                # whole weights: a subnormal one (5e-324) made them add up to 2 where 1.5
                weights = [data.draw(st.integers(0, 100)) for _ in p.members]
                total = sum(weights) or 1.0
                paid = {m: costs * w / total for m, w in zip(p.members, weights, strict=True)}
                if not sum(weights):
                    paid = {m: costs / len(p.members) for m in p.members}
                found = attrs.evolve(found, contributions=paid)
            years[t] = found
        partnerships.append(
            PartnershipActuals(
                service=p.service, members=p.members, years=years, dissolved=dissolved
            )
        )
    result = track(plan, Actuals(source="a.toml", calendar=days, partnerships=tuple(partnerships)))
    for p, entry in zip(result.partnerships, partnerships, strict=True):
        scale = 1e-9 * (1 + sum(abs(y.used) + abs(y.planned) for y in p.years))
        known = [y for y in p.years if y.realised is not None]
        assert math.fsum(y.variance for y in known) == pytest.approx(p.variance_to_date, abs=scale)
        assert p.forecast_npv == pytest.approx(
            math.fsum(y.used * y.discount_factor for y in p.years), abs=scale
        )
        for field in ("planned_to_date", "realised_to_date", "forecast_npv"):
            members = math.fsum(getattr(s, field) for s in p.members)
            assert members == pytest.approx(getattr(p, field), abs=scale)
        if p.dissolved is not None:
            later = [y for y in p.years if y.year > p.dissolved.year]
            assert all(y.kind == DISSOLVED and y.used == 0.0 for y in later)
        gone = entry.dissolved.year if entry.dissolved is not None else plan.horizon_years
        assert p.missing == tuple(t for t in range(min(ended, gone) + 1) if t not in entry.years)
    assert result.forecast_npv == pytest.approx(
        math.fsum(p.forecast_npv for p in result.partnerships)
    )
