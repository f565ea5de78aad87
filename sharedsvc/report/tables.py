"""A result as typed tables: the one place that decides which rows and columns a plan
shows, so that the terminal table, Markdown, the spreadsheet and the HTML report say
the same thing. Values stay numbers here; each format decides how to write them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from sharedsvc.results import Result

MONEY = "money"
UNIT_COST = "unit cost"
"""Pounds per unit: shown with pence (£3.41), not rounded to the pound."""
PERCENT = "percent"
"""A fraction (0.05 is 5%)."""
TEXT = "text"
INTEGER = "integer"
NUMBER = "number"


@attrs.frozen
class Table:
    """Rows of values under headers, each column of one kind (`MONEY`, `PERCENT`, ...);
    `name` is short enough for a spreadsheet tab (31 characters at most)."""

    name: str
    title: str
    headers: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_kinds: tuple[str | None, ...] | None = None
    """For tables whose rows hold values of different kinds (a summary; a benchmark of
    costs and shares): each row's kind for the `row_kind_columns`, or None to keep the
    columns' kinds."""
    row_kind_columns: tuple[int, ...] | None = None
    """The columns `row_kinds` applies to; None for every column but the first."""

    def kind(self, row: int, column: int) -> str:
        if self.row_kinds is not None and self.row_kinds[row] is not None:
            columns = self.row_kind_columns
            if (column > 0) if columns is None else (column in columns):
                return self.row_kinds[row]
        return self.kinds[column]


def table(name: str, title: str, columns: Sequence[tuple[str, str]], rows) -> Table:
    return Table(
        name=name,
        title=title,
        headers=tuple(h for h, _ in columns),
        kinds=tuple(k for _, k in columns),
        rows=tuple(tuple(r) for r in rows),
    )


def not_taking_part(result: Result, service: str) -> list[str]:
    """Members of the consortium that do not take part in `service` at all."""
    return sorted(m for m, taking in result.participation.items() if service not in taking)


def summary(result: Result) -> Table:
    """The plan's status, gap and totals: what must never be lost from any format."""
    rate_kind = PERCENT if isinstance(result.discount_rate, float) else TEXT  # "green-book"
    rows: list[tuple[str, Any, str]] = [
        ("consortium", result.consortium, TEXT),
        ("status", result.status.value, TEXT),
        ("gap", result.gap, PERCENT),
        ("message", result.message, TEXT),
        ("objective", result.objective.value, TEXT),
        ("solver", result.solver, TEXT),
        ("seconds", round(result.seconds, 2), NUMBER),
        ("horizon (years)", result.horizon_years, INTEGER),
        ("discount rate", result.discount_rate, rate_kind),
        ("allocation", result.allocation, TEXT),
    ]
    if result.solved:
        totals = result.totals
        rows += [
            ("npv", totals["npv"], MONEY),
            ("annual saving", totals["annual_saving"], MONEY),
            ("transition cost", totals["transition_cost"], MONEY),
        ]
        unadjusted = result.unadjusted_totals
        if unadjusted is not None:
            rows += [
                ("npv before optimism bias", unadjusted.npv, MONEY),
                ("annual saving before optimism bias", unadjusted.annual_saving, MONEY),
                ("transition cost before optimism bias", unadjusted.transition_cost, MONEY),
            ]
    return Table(
        name="summary",
        title="Summary",
        headers=("item", "value"),
        kinds=(TEXT, TEXT),
        rows=tuple((what, value) for what, value, _ in rows),
        row_kinds=tuple(kind for _, _, kind in rows),
    )


def groups(result: Result) -> Table:
    """One row per group formed, then the members alone (and why) and those not taking
    part, service by service."""
    rows = []
    for service in result.services:
        for group in service.groups:
            stable = {True: "yes", False: "NO", None: ""}[group.stable]
            rows.append(
                (
                    service.service,
                    " + ".join(group.members),
                    group.annual_saving,
                    group.transition_cost,
                    group.npv,
                    stable,
                )
            )
        for member in service.standalone:
            why = service.why_alone.get(member)
            label = f"alone: {member}" + (f" ({why})" if why else "")
            rows.append((service.service, label, None, None, None, ""))
        absent = not_taking_part(result, service.service)
        if absent:
            rows.append(
                (service.service, "not taking part: " + ", ".join(absent), None, None, None, "")
            )
    return table(
        "groups",
        "Groups by service",
        [
            ("service", TEXT),
            ("group", TEXT),
            ("annual saving", MONEY),
            ("transition", MONEY),
            ("npv", MONEY),
            ("stable", TEXT),
        ],
        rows,
    )


def members(result: Result) -> Table:
    """Each member's share of the plan."""
    rows = []
    for m, view in result.by_member.items():
        gain = view.gain_percent
        rows.append(
            (
                m,
                view.kind,
                view.npv,
                view.annual_saving,
                view.transition_cost,
                view.standalone_cost,
                None if gain is None else gain / 100,
                "never" if view.payback_year is None else view.payback_year,
            )
        )
    return table(
        "members",
        "Members",
        [
            ("member", TEXT),
            ("kind", TEXT),
            ("npv share", MONEY),
            ("annual saving", MONEY),
            ("one-off share", MONEY),
            ("standalone cost", MONEY),
            ("gain", PERCENT),
            ("payback year", TEXT),
        ],
        rows,
    )


def cash_flows(result: Result) -> Table | None:
    """Years 0..horizon: each service's net cash flow, the total, the total discounted
    and its running sum (the payback is where it turns positive); None with no group."""
    by_service = {}
    for service in result.services:
        flows = [g.cash_flows for g in service.groups if g.cash_flows]
        if flows:
            by_service[service.service] = [sum(v) for v in zip(*flows, strict=True)]
    discounted = [
        sum(v)
        for v in zip(
            *(g.discounted for s in result.services for g in s.groups if g.discounted),
            strict=True,
        )
    ]
    if not discounted:
        return None
    rows, running = [], 0.0
    for year, value in enumerate(discounted):
        running += value
        rows.append(
            (
                year,
                *(flows[year] for flows in by_service.values()),
                sum(flows[year] for flows in by_service.values()),
                value,
                running,
            )
        )
    columns = [("year", INTEGER), *((s, MONEY) for s in by_service)]
    columns += [("total", MONEY), ("discounted", MONEY), ("cumulative discounted", MONEY)]
    return table("cash flows", "Cash flows by year (year 0 is the start)", columns, rows)
