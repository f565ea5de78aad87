"""A plan set against its actuals: each partnership's and member's saving to date,
planned and realised, the variance and its trend, the forecast of the whole horizon's
npv, the partnerships at risk and the members whose gains have turned negative.

Arithmetic only, from the plan file's figures and the actuals (`docs/tracking.md`
defines each figure):

- a year's planned saving is the plan's undiscounted cash flow for it (ramp-up,
  double running, one-off profile and exit included);
- its realised saving is the members' standalone cost (from the plan; none in year 0)
  less the realised running and one-off costs, plus the counted share of realised
  non-cash value, less a dissolution's exit cost in the year it was unwound;
- the variance is realised less planned; the saving to date adds up the years known;
- the forecast npv discounts, with the plan's own factors, the realised figure of each
  year known, the plan's figure of every other year (a missing year is flagged), and
  nothing after a dissolution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np

from sharedsvc.report.text import money
from sharedsvc.results import pennies
from sharedsvc.tracking.actuals import (
    Actuals,
    Calendar,
    Dissolution,
    PartnershipActuals,
    YearActual,
)
from sharedsvc.tracking.plan import PlannedPartnership, TrackedPlan

if TYPE_CHECKING:
    from sharedsvc.tracking.replan import Replan

ACTUAL = "actual"
"""A year that has ended and has an outturn in the actuals file."""
MISSING = "missing"
"""A year that has ended without one: the forecast uses the plan's figure, flagged."""
FORECAST = "forecast"
"""A year that has not ended: the forecast uses the plan's figure."""
DISSOLVED = "dissolved"
"""A year after the partnership was unwound: its members run the service alone, so
it saves nothing and costs nothing more."""

AT_RISK = "at risk"
BEHIND = "behind"
ON_TRACK = "on track"
AHEAD = "ahead"
NO_ACTUALS = "no actuals"
"""No year has an outturn yet (or only ones with no saving planned, such as year 0)."""

THRESHOLD = 0.8
"""A partnership is at risk once it has realised less than this share of its planned
saving to date (the issue's 80%: London's Capital Ambition programme had 61% of its
reported savings validated by CIPFA)."""
TOLERANCE = 0.05
"""Within this share of the plan either way, a partnership is on track."""
STEADY = 0.005
"""A trend of under half a penny a year either way is steady."""


class ToDate:
    """The variance and the share delivered, from a saving to date planned and realised
    (a partnership's, a member's, the whole plan's)."""

    __slots__ = ()
    planned_to_date: float
    realised_to_date: float

    @property
    def variance_to_date(self) -> float:
        return self.realised_to_date - self.planned_to_date

    @property
    def delivered(self) -> float | None:
        """Realised over planned saving to date, when a saving was planned to date."""
        planned = self.planned_to_date
        return None if planned <= 0 else self.realised_to_date / planned


@attrs.frozen(kw_only=True)
class Year:
    """One plan year of one partnership: what was planned, what is known, what counts."""

    year: int
    first_day: str
    last_day: str
    kind: str
    """`ACTUAL`, `MISSING`, `FORECAST` or `DISSOLVED`."""
    planned: float
    """The plan's undiscounted cash flow for the year."""
    realised: float | None
    """The realised saving, when the year is known (an outturn, or a year after the
    partnership was dissolved, which saves nothing); None otherwise."""
    used: float
    """What the forecast counts for the year: the realised saving, the plan's figure,
    or nothing after a dissolution (the exit cost in its year)."""
    discount_factor: float
    exit_cost: float = 0.0
    """A dissolution's exit cost, booked in this year (in `realised` and `used`)."""
    members_realised: Mapping[str, float] | None = None
    members_used: Mapping[str, float] = attrs.field(factory=dict)
    members_planned: Mapping[str, float] = attrs.field(factory=dict)
    contributions: bool = False
    """Whether the members' gains come from their contributions that year."""
    date: str = ""
    note: str = ""

    @property
    def variance(self) -> float | None:
        return None if self.realised is None else self.realised - self.planned

    @property
    def ratio(self) -> float | None:
        """Realised over planned, when a saving was planned (planned > 0)."""
        if self.realised is None or self.planned <= 0:
            return None
        return self.realised / self.planned

    @property
    def discounted(self) -> float:
        return self.used * self.discount_factor


@attrs.frozen(kw_only=True)
class Trend:
    """How the yearly variance moves: the least-squares slope through the years with an
    outturn (year 0, one-off costs only, left out), in pounds a year."""

    years: tuple[int, ...]
    slope: float | None
    """None with fewer than two such years."""

    @property
    def direction(self) -> str:
        if self.slope is None:
            return "too few years"
        if self.slope > STEADY:
            return "improving"
        if self.slope < -STEADY:
            return "worsening"
        return "steady"


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The least-squares slope of ys on xs; None with fewer than two points."""
    if len(xs) < 2:
        return None
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    dx = x - x.mean()
    return float((dx * (y - y.mean())).sum() / (dx * dx).sum())


@attrs.frozen(kw_only=True)
class MemberShare(ToDate):
    """One member's part of one partnership."""

    member: str
    share: float
    """Its fraction of the partnership's gains (`PlannedPartnership.shares`)."""
    planned_to_date: float
    realised_to_date: float
    plan_npv: float
    """Its allocated share of the plan's npv."""
    forecast_npv: float
    contribution_years: tuple[int, ...] = ()
    """The years whose gain came from its contributions rather than its share."""

    @property
    def negative(self) -> bool:
        """Its forecast gain has turned negative: the split that made it join no longer
        holds (to the penny, so that a rounding never flags it)."""
        return pennies(self.forecast_npv) < 0


@attrs.frozen(kw_only=True)
class PartnershipTracking(ToDate):
    """One partnership of the plan set against its actuals: every year as planned, known
    and counted, its members' parts and its status; the figures to date and the forecast
    are properties of the years, so that they cannot disagree with them."""

    plan: PlannedPartnership
    years: tuple[Year, ...]
    dissolved: Dissolution | None
    members: tuple[MemberShare, ...]
    status: str
    reasons: tuple[str, ...] = ()
    """Why it is at risk, in words."""
    spread: Mapping[str, float] | None = None
    """With draws: the forecast npv's mean, p5, p50, p95 and p_positive."""

    @property
    def label(self) -> str:
        return self.plan.label

    @property
    def known(self) -> tuple[Year, ...]:
        return tuple(y for y in self.years if y.realised is not None)

    @property
    def planned_to_date(self) -> float:
        return math.fsum(y.planned for y in self.known)

    @property
    def realised_to_date(self) -> float:
        return math.fsum(y.realised for y in self.known)

    @property
    def forecast_npv(self) -> float:
        return math.fsum(y.discounted for y in self.years)

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(y.year for y in self.years if y.kind == MISSING)

    @property
    def trend(self) -> Trend:
        counted = [y for y in self.years if y.kind == ACTUAL and y.year >= 1]
        return Trend(
            years=tuple(y.year for y in counted),
            slope=slope([y.year for y in counted], [y.variance for y in counted]),
        )

    @property
    def at_risk(self) -> bool:
        return self.status == AT_RISK


@attrs.frozen(kw_only=True)
class MemberTotal(ToDate):
    """One member over every partnership it is in."""

    member: str
    partnerships: tuple[str, ...]
    planned_to_date: float
    realised_to_date: float
    plan_npv: float
    forecast_npv: float

    @property
    def negative(self) -> bool:
        return pennies(self.forecast_npv) < 0


@attrs.frozen(kw_only=True)
class Tracking(ToDate):
    """A plan against its actuals, as of a date."""

    plan: TrackedPlan
    actuals: Actuals
    partnerships: tuple[PartnershipTracking, ...]
    threshold: float = THRESHOLD
    tolerance: float = TOLERANCE
    draws: int = 0
    """Draws of the plan's uncertain inputs behind each `spread` (0: none)."""
    seed: int = 0
    spread: Mapping[str, float] | None = None
    """With draws: the total forecast npv's mean, p5, p50, p95 and p_positive."""
    replan: Replan | None = None
    """With `--replan`: what re-optimising the remaining years would change."""

    @property
    def calendar(self) -> Calendar:
        return self.actuals.calendar

    @property
    def members(self) -> tuple[MemberTotal, ...]:
        by_member: dict[str, list[tuple[PartnershipTracking, MemberShare]]] = {}
        for p in self.partnerships:
            for share in p.members:
                by_member.setdefault(share.member, []).append((p, share))
        return tuple(
            MemberTotal(
                member=m,
                partnerships=tuple(p.label for p, _ in found),
                planned_to_date=math.fsum(s.planned_to_date for _, s in found),
                realised_to_date=math.fsum(s.realised_to_date for _, s in found),
                plan_npv=math.fsum(s.plan_npv for _, s in found),
                forecast_npv=math.fsum(s.forecast_npv for _, s in found),
            )
            for m, found in sorted(by_member.items())
        )

    @property
    def at_risk(self) -> tuple[PartnershipTracking, ...]:
        return tuple(p for p in self.partnerships if p.at_risk)

    @property
    def negative_gains(self) -> tuple[tuple[PartnershipTracking, MemberShare], ...]:
        """(partnership, member) where the member's forecast gain is below zero."""
        return tuple((p, s) for p in self.partnerships for s in p.members if s.negative)

    @property
    def planned_to_date(self) -> float:
        return math.fsum(p.planned_to_date for p in self.partnerships)

    @property
    def realised_to_date(self) -> float:
        return math.fsum(p.realised_to_date for p in self.partnerships)

    @property
    def plan_npv(self) -> float:
        return self.plan.npv

    @property
    def forecast_npv(self) -> float:
        return math.fsum(p.forecast_npv for p in self.partnerships)


def realised_saving(
    planned: PlannedPartnership, found: YearActual, count_non_cashable: float
) -> float:
    """A year's realised saving from its outturn (before any exit cost): the standalone
    cost the members no longer pay (none in year 0, the start) less what they paid."""
    standalone = planned.standalone_cost if found.year >= 1 else 0.0
    return (
        standalone
        - found.running_cost
        - found.one_off_cost
        + count_non_cashable * found.non_cashable_value
    )


def used_values(
    years: tuple[Year, ...],
    flows: Sequence[float],
    end_exit: float,
    dissolved: Dissolution | None,
) -> list[float]:
    """What the forecast counts for each year given the plan's flows `flows` (the plan
    file's, or a draw's) and `end_exit`, the exit cost the plan pays at the end of the
    horizon (`plan_exit`):
    the realised saving where known, nothing after a dissolution, the plan's figure
    otherwise; a dissolved partnership pays its exit cost in its last year instead of
    the plan's at the end."""
    horizon = len(years) - 1
    out = []
    for y in years:
        if y.realised is not None:
            out.append(y.realised)
        elif y.kind == DISSOLVED:
            out.append(0.0)
        else:
            value = float(flows[y.year])
            if dissolved is not None:
                if y.year == horizon:
                    value += end_exit
                if y.year == dissolved.year:
                    value -= dissolved.exit_cost
            out.append(value)
    return out


def plan_exit(plan: TrackedPlan, partnership: PlannedPartnership) -> float:
    """What the plan pays at the end of its horizon to unwind the partnership."""
    return plan.exit_cost * partnership.transition_cost


def _years(
    plan: TrackedPlan,
    planned: PlannedPartnership,
    found: PartnershipActuals | None,
    calendar: Calendar,
) -> tuple[Year, ...]:
    shares = planned.shares()
    dissolved = None if found is None else found.dissolved
    last = calendar.last_ended
    rows = []
    for t in range(plan.horizon_years + 1):
        entry = None if found is None else found.years.get(t)
        exit_cost = dissolved.exit_cost if dissolved is not None and t == dissolved.year else 0.0
        members_realised = None
        contributions = False
        if dissolved is not None and t > dissolved.year:
            kind = DISSOLVED
            realised = 0.0 if t <= last else None
            if realised is not None:
                members_realised = {m: 0.0 for m in planned.members}
        elif entry is not None:
            kind = ACTUAL
            saving = realised_saving(planned, entry, plan.count_non_cashable)
            realised = saving - exit_cost
            if entry.contributions is not None:
                contributions = True
                gained = plan.count_non_cashable * entry.non_cashable_value
                members_realised = {
                    m: (planned.standalone[m] if t >= 1 else 0.0)
                    - entry.contributions[m]
                    + shares[m] * (gained - exit_cost)
                    for m in planned.members
                }
            else:
                members_realised = {m: shares[m] * realised for m in planned.members}
        else:
            kind = MISSING if calendar.ended(t) else FORECAST
            realised = None
        rows.append(
            Year(
                year=t,
                first_day=calendar.first_day(t).isoformat(),
                last_day=calendar.last_day(t).isoformat(),
                kind=kind,
                planned=planned.flows[t],
                realised=realised,
                used=0.0,  # set below, from every year at once
                discount_factor=plan.discount_factors[t],
                exit_cost=exit_cost,
                members_realised=members_realised,
                members_planned={m: shares[m] * planned.flows[t] for m in planned.members},
                contributions=contributions,
                date="" if entry is None else entry.date.isoformat(),
                note="" if entry is None else entry.note,
            )
        )
    used = used_values(tuple(rows), planned.flows, plan_exit(plan, planned), dissolved)
    return tuple(
        attrs.evolve(
            row,
            used=value,
            members_used=(
                dict(row.members_realised)
                if row.members_realised is not None
                else {m: shares[m] * value for m in planned.members}
            ),
        )
        for row, value in zip(rows, used, strict=True)
    )


def _members(planned: PlannedPartnership, years: tuple[Year, ...]) -> tuple[MemberShare, ...]:
    shares = planned.shares()
    known = [y for y in years if y.realised is not None]
    return tuple(
        MemberShare(
            member=m,
            share=shares[m],
            planned_to_date=math.fsum(y.members_planned[m] for y in known),
            realised_to_date=math.fsum(y.members_realised[m] for y in known),
            plan_npv=planned.allocation[m],
            forecast_npv=math.fsum(y.members_used[m] * y.discount_factor for y in years),
            contribution_years=tuple(y.year for y in years if y.contributions),
        )
        for m in planned.members
    )


def _status(found: PartnershipTracking, threshold: float, tolerance: float) -> PartnershipTracking:
    """The partnership's status and, when at risk, why."""
    if found.dissolved is not None:
        return attrs.evolve(found, status=DISSOLVED, reasons=())
    reasons = []
    delivered = found.delivered
    if delivered is not None and delivered < threshold:
        reasons.append(
            f"realised {delivered:.1%} of its planned saving to date, below {threshold:.0%}"
        )
    forecast = pennies(found.forecast_npv)
    if forecast < 0:
        reasons.append(f"its forecast npv, {money(forecast)}, is below zero")
    if reasons:
        status = AT_RISK
    elif delivered is None:
        status = NO_ACTUALS
    elif delivered < 1 - tolerance:
        status = BEHIND
    elif delivered > 1 + tolerance:
        status = AHEAD
    else:
        status = ON_TRACK
    return attrs.evolve(found, status=status, reasons=tuple(reasons))


def track(
    plan: TrackedPlan,
    actuals: Actuals,
    *,
    threshold: float = THRESHOLD,
    tolerance: float = TOLERANCE,
) -> Tracking:
    """Every partnership of `plan` against `actuals`; a partnership the actuals file does
    not list is tracked with every year that has ended missing."""
    found = []
    for planned in plan.partnerships:
        years = _years(plan, planned, actuals.of(planned), actuals.calendar)
        own = actuals.of(planned)
        partnership = PartnershipTracking(
            plan=planned,
            years=years,
            dissolved=None if own is None else own.dissolved,
            members=_members(planned, years),
            status="",
        )
        found.append(_status(partnership, threshold, tolerance))
    return Tracking(
        plan=plan,
        actuals=actuals,
        partnerships=tuple(found),
        threshold=threshold,
        tolerance=tolerance,
    )
