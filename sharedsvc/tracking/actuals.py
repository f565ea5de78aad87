"""An actuals file: what each partnership of a plan really cost, year by year, read and
checked against the plan with every problem reported at once, each with its key path.

    start = 2022-04-01                  # the plan's year 0; year t is the t-th year after it

    [[partnerships]]
    service = "payments"
    members = ["bexley", "bromley", "lewisham"]
    dissolved = { year = 3, exit_cost = 45000 }    # optional: unwound at the end of year 3

    [[partnerships.years]]
    year = 1
    running_cost = 1821982              # what the members spent on the service that year
    one_off_cost = 0                    # one-off spending that year (default 0)
    contributions = { bexley = 600000, bromley = 560000, lewisham = 661982 }   # optional
    date = 2023-05-31                   # when the outturn was recorded
    note = "Outturn, finance committee June 2023"

`docs/tracking.md` defines every figure. "Today" is the date tracked to (`as_of`),
injectable so that a report can be made as it stood on a past date, and tests are
exact on any day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from sharedsvc.errors import TrackingError
from sharedsvc.model.fields import Field, show_value
from sharedsvc.model.load import parse_toml, read_text
from sharedsvc.model.problems import Collector, key_path
from sharedsvc.tracking.plan import PlannedPartnership, TrackedPlan
from sharedsvc.wording import joined, suggestion

TOP_KEYS = ("start", "partnerships")
PARTNERSHIP_KEYS = ("service", "members", "dissolved", "years")
YEAR_KEYS = (
    "year",
    "running_cost",
    "one_off_cost",
    "non_cashable_value",
    "contributions",
    "date",
    "note",
)
DISSOLVED_KEYS = ("year", "exit_cost", "date", "note")
PENNY = 0.005
"""Contributions must add up to the year's costs within half a penny."""

POUNDS = Field(name="amount", unit="pounds", minimum=0)


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day `years` later; 29 February becomes 28 February in other years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@attrs.frozen(kw_only=True)
class Calendar:
    """Which dates each plan year covers, and which years have ended by `as_of`.

    Year 0 is the start date itself (when the plan's first one-off costs fall); year
    t >= 1 runs from the start plus t - 1 years to the day before the start plus t
    years, and has ended once `as_of` is after its last day."""

    start: dt.date
    as_of: dt.date
    """The date tracked to: today, unless given."""
    horizon_years: int

    def first_day(self, year: int) -> dt.date:
        return self.start if year == 0 else add_years(self.start, year - 1)

    def last_day(self, year: int) -> dt.date:
        return self.start if year == 0 else add_years(self.start, year) - dt.timedelta(days=1)

    def ended(self, year: int) -> bool:
        return self.as_of >= self.start if year == 0 else self.as_of > self.last_day(year)

    def period(self, year: int) -> str:
        if year == 0:
            return f"the start, {self.start.isoformat()}"
        return f"{self.first_day(year).isoformat()} to {self.last_day(year).isoformat()}"

    @property
    def last_ended(self) -> int:
        """The last plan year that has ended by `as_of` (0: only the start)."""
        return max(
            (t for t in range(self.horizon_years + 1) if self.ended(t)),
            default=0,
        )


@attrs.frozen(kw_only=True)
class YearActual:
    """One partnership's outturn for one plan year."""

    year: int
    running_cost: float
    """What the members together spent running the service that year: the shared
    service's charges and whatever each still ran in house (double running included)."""
    one_off_cost: float
    non_cashable_value: float = 0.0
    """Value realised that is not cash (fraud detected), counted as the plan counted it."""
    contributions: Mapping[str, float] | None = None
    """What each member paid of the year's running and one-off costs, when known."""
    date: dt.date
    note: str = ""


@attrs.frozen(kw_only=True)
class Dissolution:
    """A partnership unwound before its plan ran out: at the end of plan year `year`."""

    year: int
    exit_cost: float
    """What unwinding it cost, booked in `year` (not also in that year's one-off cost)."""
    date: dt.date | None = None
    note: str = ""


@attrs.frozen(kw_only=True)
class PartnershipActuals:
    """What one partnership of the plan realised: its outturns by plan year (years that
    ended without one are missing, never zero) and its dissolution, if any."""

    service: str
    members: tuple[str, ...]
    years: Mapping[int, YearActual]
    dissolved: Dissolution | None = None


@attrs.frozen(kw_only=True)
class Actuals:
    """An actuals file read and checked against its plan, with the calendar that says
    which plan years have ended by the date tracked to."""

    source: str
    calendar: Calendar
    partnerships: tuple[PartnershipActuals, ...] = ()

    def of(self, partnership: PlannedPartnership) -> PartnershipActuals | None:
        return next(
            (
                p
                for p in self.partnerships
                if p.service == partnership.service and p.members == partnership.members
            ),
            None,
        )


def read_actuals(path: str | Path, plan: TrackedPlan, as_of: dt.date) -> Actuals:
    """Read an actuals file and check it against `plan` as of the date `as_of`;
    `TrackingError` with every problem, each with its key path."""
    text = read_text(path, "an actuals TOML file", error=TrackingError)
    return parse_actuals(text, plan, as_of, source=str(path))


def parse_actuals(
    text: str, plan: TrackedPlan, as_of: dt.date, *, source: str = "<actuals>"
) -> Actuals:
    """Actuals given as TOML text, checked (`read_actuals`)."""
    raw = parse_toml(text, source, error=TrackingError)
    reader = _ActualsReader(plan, as_of)
    found = reader.read(raw)
    if reader.problems or found is None:
        raise TrackingError(source, reader.problems)
    calendar, partnerships = found
    return Actuals(source=source, calendar=calendar, partnerships=partnerships)


def _money(value: float) -> str:
    return f"£{value:,.2f}"


class _ActualsReader(Collector):
    def __init__(self, plan: TrackedPlan, as_of: dt.date):
        super().__init__()
        self.plan = plan
        self.as_of = as_of
        self.horizon = plan.horizon_years

    def date(self, value: Any, path: str, *, required: bool) -> dt.date | None:
        if value is None:
            if required:
                self.problem(path, "missing; expected a date such as 2024-05-31 (no quotes)")
            return None
        if isinstance(value, dt.datetime):
            self.problem(path, f"expected a date such as 2024-05-31, got a date and time {value}")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            self.problem(
                path,
                f"expected a date written without quotes (2024-05-31), got {show_value(value)}",
            )
            return None
        self.problem(path, f"expected a date such as 2024-05-31, got {show_value(value)}")
        return None

    def not_future(self, day: dt.date | None, path: str) -> None:
        if day is not None and day > self.as_of:
            self.problem(path, f"{day} is in the future (after {self.as_of})")

    def note(self, entry: dict, path: str) -> str:
        note = entry.get("note", "")
        if not isinstance(note, str):
            self.problem(key_path(path, "note"), f"expected text, got {show_value(note)}")
            return ""
        return note

    def year_number(self, value: Any, path: str) -> int | None:
        if value is None:
            self.problem(
                path, f"missing; expected a plan year from 0 (the start) to {self.horizon}"
            )
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= self.horizon:
            self.problem(
                path,
                f"expected a plan year from 0 (the start) to {self.horizon} (the plan's "
                f"horizon), got {show_value(value)}",
            )
            return None
        return value

    def amount(self, entry: dict, key: str, path: str, *, required: bool) -> float:
        where = key_path(path, key)
        if key not in entry:
            if required:
                self.problem(where, f"missing; expected {POUNDS.expectation()}")
            return 0.0
        value = self.value(entry[key], where, POUNDS)
        return 0.0 if value is None else float(value)

    def read(self, raw: dict) -> tuple[Calendar, tuple[PartnershipActuals, ...]] | None:
        self.unknown_keys(raw, TOP_KEYS, "")
        start = self.date(raw.get("start"), "start", required=True)
        if start is not None and start > self.as_of:
            self.problem(
                "start",
                f"{start} is after {self.as_of}: the plan has not started, nothing to track yet",
            )
            start = None
        entries = raw.get("partnerships", [])
        if not isinstance(entries, list):
            self.problem(
                "partnerships",
                f"expected a list of tables ([[partnerships]]), got {show_value(entries)}",
            )
            entries = []
        calendar = (
            None
            if start is None
            else Calendar(start=start, as_of=self.as_of, horizon_years=self.horizon)
        )
        found: list[PartnershipActuals] = []
        seen: dict[tuple[str, tuple[str, ...]], int] = {}
        for i, entry in enumerate(entries):
            partnership = self.partnership(entry, f"partnerships[{i}]", calendar, seen, i)
            if partnership is not None:
                found.append(partnership)
        if calendar is None:
            return None
        return calendar, tuple(found)

    def planned(self, entry: dict, path: str) -> PlannedPartnership | None:
        service = entry.get("service")
        services = self.plan.services()
        if not isinstance(service, str):
            self.problem(
                key_path(path, "service"),
                "missing; expected a service of the plan"
                if service is None
                else f"expected a service's id, got {show_value(service)}",
            )
            return None
        if service not in services:
            hint = suggestion(service, services) or (
                f"; it forms partnerships for {joined(services)}" if services else "; it forms none"
            )
            self.problem(
                key_path(path, "service"), f"the plan has no partnership for {service!r}{hint}"
            )
            return None
        members = entry.get("members")
        if (
            not isinstance(members, list)
            or not all(isinstance(m, str) for m in members)
            or len(members) < 2
        ):
            self.problem(
                key_path(path, "members"),
                "expected the partnership's members, a list of two or more member ids, got "
                + show_value(members),
            )
            return None
        if len(set(members)) != len(members):
            self.problem(key_path(path, "members"), "a member is listed twice")
            return None
        found = self.plan.partnership(service, tuple(members))
        if found is None:
            theirs = [" + ".join(p.members) for p in self.plan.partnerships if p.service == service]
            verb = "is" if len(theirs) == 1 else "are"
            self.problem(
                key_path(path, "members"),
                f"the plan has no {service} partnership of {' + '.join(sorted(members))}: "
                f"a partnership that is not in the plan cannot be tracked; its {service} "
                f"partnership{'' if len(theirs) == 1 else 's'} {verb} {joined(theirs, 'and')}",
            )
        return found

    def partnership(
        self,
        entry: Any,
        path: str,
        calendar: Calendar | None,
        seen: dict[tuple[str, tuple[str, ...]], int],
        index: int,
    ) -> PartnershipActuals | None:
        if not isinstance(entry, dict):
            self.problem(path, f"expected a table ([[partnerships]]), got {show_value(entry)}")
            return None
        self.unknown_keys(entry, PARTNERSHIP_KEYS, path)
        planned = self.planned(entry, path)
        if planned is not None:
            key = (planned.service, planned.members)
            if key in seen:
                self.problem(
                    path,
                    f"the same partnership as partnerships[{seen[key]}] ({planned.label}): "
                    "give each partnership once, with all its years",
                )
                planned = None
            else:
                seen[key] = index
        dissolved = None
        if "dissolved" in entry:
            dissolved = self.dissolution(entry["dissolved"], key_path(path, "dissolved"), calendar)
        years_raw = entry.get("years", [])
        if not isinstance(years_raw, list):
            self.problem(
                key_path(path, "years"),
                f"expected a list of tables ([[partnerships.years]]), got {show_value(years_raw)}",
            )
            years_raw = []
        years: dict[int, YearActual] = {}
        where: dict[int, int] = {}
        for k, raw in enumerate(years_raw):
            year_path = f"{path}.years[{k}]"
            found = self.year(raw, year_path, planned, calendar)
            if found is None:
                continue
            if found.year in years:
                self.problem(
                    key_path(year_path, "year"),
                    f"year {found.year} is given twice (also years[{where[found.year]}]): "
                    "give each year once",
                )
                continue
            if dissolved is not None and found.year > dissolved.year:
                self.problem(
                    key_path(year_path, "year"),
                    f"year {found.year} comes after the partnership was dissolved at the end "
                    f"of year {dissolved.year} ({path}.dissolved.year): its members run the "
                    "service alone then; expected no actuals",
                )
                continue
            years[found.year] = found
            where[found.year] = k
        if planned is None:
            return None
        return PartnershipActuals(
            service=planned.service,
            members=planned.members,
            years=dict(sorted(years.items())),
            dissolved=dissolved,
        )

    def ended_year(self, entry: dict, path: str, calendar: Calendar | None) -> int | None:
        """The entry's `year`: a plan year that has ended (`None` with a problem if not)."""
        year = self.year_number(entry.get("year"), key_path(path, "year"))
        if year is None or calendar is None:
            return year
        if not calendar.ended(year):
            self.problem(
                key_path(path, "year"),
                f"year {year} ({calendar.period(year)}) has not ended on {self.as_of}: "
                "a year in the future has no actuals yet",
            )
            return None
        return year

    def dissolution(self, raw: Any, path: str, calendar: Calendar | None) -> Dissolution | None:
        if not isinstance(raw, dict):
            self.problem(
                path,
                "expected a table { year = <plan year>, exit_cost = <pounds> }, got "
                + show_value(raw),
            )
            return None
        self.unknown_keys(raw, DISSOLVED_KEYS, path)
        year = self.year_number(raw.get("year"), key_path(path, "year"))
        if year is not None and calendar is not None and calendar.first_day(year) > self.as_of:
            self.problem(
                key_path(path, "year"),
                f"year {year} ({calendar.period(year)}) has not begun on {self.as_of}: a "
                "dissolution is recorded once it is under way",
            )
            year = None
        exit_cost = self.amount(raw, "exit_cost", path, required=True)
        day = self.date(raw.get("date"), key_path(path, "date"), required=False)
        self.not_future(day, key_path(path, "date"))
        note = self.note(raw, path)
        if year is None:
            return None
        return Dissolution(year=year, exit_cost=exit_cost, date=day, note=note)

    def year(
        self,
        raw: Any,
        path: str,
        planned: PlannedPartnership | None,
        calendar: Calendar | None,
    ) -> YearActual | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a table ([[partnerships.years]]), got {show_value(raw)}")
            return None
        self.unknown_keys(raw, YEAR_KEYS, path)
        before = len(self.problems)
        year = self.ended_year(raw, path, calendar)
        amounts = len(self.problems)
        running = self.amount(raw, "running_cost", path, required=year != 0)
        non_cash = self.amount(raw, "non_cashable_value", path, required=False)
        if year == 0:  # one problem a key: a wrong value is not also said to be there
            for key, value in (("running_cost", running), ("non_cashable_value", non_cash)):
                if value != 0:
                    self.problem(
                        key_path(path, key),
                        "year 0 is the start, when only one-off costs fall: expected none",
                    )
        one_off = self.amount(raw, "one_off_cost", path, required=year == 0)
        costs = running + one_off if len(self.problems) == amounts else None
        day = self.date(raw.get("date"), key_path(path, "date"), required=True)
        self.not_future(day, key_path(path, "date"))
        if (
            day is not None
            and year is not None
            and calendar is not None
            and day < calendar.last_day(year)
        ):
            self.problem(
                key_path(path, "date"),
                f"{day} is before year {year} ended ({calendar.last_day(year)}): actuals "
                "are a whole year's outturn, recorded once the year is over",
            )
        contributions = None
        if "contributions" in raw:
            contributions = self.contributions(
                raw["contributions"],
                key_path(path, "contributions"),
                planned,
                costs,  # None: the costs are wrong already, so is no sum
            )
        note = self.note(raw, path)
        if year is None or day is None or len(self.problems) > before:
            return None
        return YearActual(
            year=year,
            running_cost=running,
            one_off_cost=one_off,
            non_cashable_value=non_cash,
            contributions=contributions,
            date=day,
            note=note,
        )

    def contributions(
        self, raw: Any, path: str, planned: PlannedPartnership | None, costs: float | None
    ) -> dict[str, float] | None:
        if not isinstance(raw, dict):
            self.problem(
                path, f"expected a table {{ <member> = <pounds>, ... }}, got {show_value(raw)}"
            )
            return None
        if planned is None:
            return None
        paid: dict[str, float] = {}
        for member, value in raw.items():
            where = key_path(path, member)
            if member not in planned.members:
                self.problem(
                    where,
                    f"{member!r} is not in this partnership ({' + '.join(planned.members)})",
                )
                continue
            amount = self.value(value, where, POUNDS)
            if amount is not None:
                paid[member] = float(amount)
        missing = [m for m in planned.members if m not in raw]
        if missing:
            self.problem(
                path,
                f"no contribution for {joined(missing)}: give every member's, or none",
            )
            return None
        if len(paid) != len(planned.members) or costs is None:
            return None
        total = math.fsum(paid.values())
        if abs(total - costs) > PENNY:
            self.problem(
                path,
                f"the contributions add up to {_money(total)}; expected running_cost + "
                f"one_off_cost = {_money(costs)}, what the members paid between them",
            )
            return None
        return {m: paid[m] for m in planned.members}
