"""Render a `Result` as a table, JSON, CSV or Markdown. No arithmetic happens here.

Every piece of text is made printable first (`printable`): names are checked when a
file is loaded, but labels and messages may come from plugins, and a newline or an
escape sequence must never forge a line or rewrite a terminal. JSON escapes on its own.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata

import attrs
from tabulate import tabulate

from sharedsvc.constants import Status
from sharedsvc.report import tables
from sharedsvc.results import Result

FORMATS = ("table", "json", "csv", "markdown")


def printable(text: str, *, markdown: bool = False) -> str:
    """`text` with control characters, line separators and bidirectional overrides shown
    as escapes (``\\x1b``), and for Markdown tables ``|`` escaped."""
    out = []
    for c in str(text):
        if (
            unicodedata.category(c) in ("Cc", "Zl", "Zp")
            or "\u202a" <= c <= "\u202e"
            or ("\u2066" <= c <= "\u2069")
        ):
            out.append(c.encode("unicode_escape").decode("ascii"))
        elif markdown and c == "|":
            out.append("\\|")
        else:
            out.append(c)
    return "".join(out)


def _table(rows, headers, tablefmt: str) -> str:
    markdown = tablefmt == "github"
    cells = [[printable(cell, markdown=markdown) for cell in row] for row in rows]
    return tabulate(cells, headers, tablefmt=tablefmt, disable_numparse=True)


def table(rows, headers, tablefmt: str) -> str:
    """A table of printable cells ("simple" for terminals, "github" for Markdown)."""
    return _table(rows, headers, tablefmt)


def money(value: float) -> str:
    rounded = round(value)
    return f"-£{-rounded:,}" if rounded < 0 else f"£{rounded:,}"


def render(result: Result, fmt: str = "table", *, years: bool = False) -> str:
    """`result` in format `fmt`; with `years`, tables add the year-by-year cash flows."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return _csv(result)
    tablefmt = "github" if fmt == "markdown" else "simple"
    text = _tables(result, tablefmt)
    if years and result.solved:
        flows = tables.cash_flows(result)
        if flows is None:
            text += "\nNo group is formed, so there are no cash flows.\n"
        else:
            heading = ("### " if tablefmt == "github" else "") + flows.title
            text += "\n" + heading + "\n\n" + typed_table(flows, tablefmt) + "\n"
    return text


def result_tables(result: Result) -> list[tables.Table]:
    """Every table of a plan, for formats that hold many (a workbook's sheets)."""
    found = [tables.summary(result)]
    if result.solved:
        found += [tables.groups(result), tables.members(result)]
        flows = tables.cash_flows(result)
        if flows is not None:
            found.append(flows)
        sentences = stability_sentences(result)
        if sentences:
            found.append(
                tables.table(
                    "stability", "Stability", [("finding", tables.TEXT)], [(s,) for s in sentences]
                )
            )
    if result.conflicts:
        found.append(
            tables.table(
                "conflicts",
                "Why no plan exists",
                [("conflict", tables.TEXT)],
                [(c,) for c in result.conflicts],
            )
        )
    return found


def cell(value, kind: str) -> str:
    """One value as a person reads it: £1,234 for money, 5.0% for a fraction."""
    if value is None:
        return ""
    if kind == tables.MONEY:
        return money(value)
    if kind == tables.UNIT_COST:
        return f"£{value:,.2f}"
    if kind == tables.PERCENT:
        return f"{value:.1%}"
    if kind == tables.INTEGER and isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if kind == tables.NUMBER and isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def typed_table(found: tables.Table, tablefmt: str) -> str:
    """A `tables.Table` with each value written as `cell` says."""
    rows = [
        [cell(value, found.kind(r, c)) for c, value in enumerate(row)]
        for r, row in enumerate(found.rows)
    ]
    return _table(rows, found.headers, tablefmt)


def _heading(result: Result) -> str:
    gap = "" if result.gap is None or result.status == Status.OPTIMAL else f", gap {result.gap:.2%}"
    return (
        f"{result.consortium}: {result.status}{gap} "
        f"(objective {result.objective}, solver {result.solver}, "
        f"{result.seconds:.2f} s)"
    )


TOTAL_ITEMS = (
    "npv",
    "annual saving",
    "transition cost",
    "npv before optimism bias",
    "annual saving before optimism bias",
    "transition cost before optimism bias",
)
"""The rows of `tables.summary` that the terminal's totals table shows."""


def _tables(result: Result, tablefmt: str) -> str:
    markdown = tablefmt == "github"
    heading = ("## " if markdown else "") + printable(_heading(result))
    parts = [heading]
    if result.status != Status.OPTIMAL:  # the heading says "optimal" already
        parts += ["", printable(result.message[0].upper() + result.message[1:] + ".")]
    if not result.solved:
        return "\n".join(parts) + "\n"
    parts += ["", typed_table(tables.groups(result), tablefmt)]
    parts += ["", typed_table(tables.members(result), tablefmt)]
    summary = tables.summary(result)
    keep = [i for i, row in enumerate(summary.rows) if row[0] in TOTAL_ITEMS]
    totals = attrs.evolve(
        summary,
        headers=("total", ""),
        rows=tuple(summary.rows[i] for i in keep),
        row_kinds=tuple(summary.row_kinds[i] for i in keep),
    )
    parts += ["", typed_table(totals, tablefmt)]
    sentences = stability_sentences(result)
    if sentences:
        parts += [""] + [("- " if markdown else "") + printable(x) for x in sentences]
    return "\n".join(parts) + "\n"


def _who(members) -> str:
    names = list(members)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def stability_sentences(result: Result) -> list[str]:
    """One sentence per service on whether any coalition would walk away."""
    out = []
    rule = result.allocation or "the chosen"
    for service in result.services:
        stability = service.stability
        if stability is None:
            continue
        if stability.stable:
            out.append(
                f"{service.service}: stable under {rule} allocation: no group would "
                "do better on its own."
            )
            continue
        blocking = stability.blocking
        if len(blocking.members) == 1:
            what = f"{blocking.members[0]} would be £{round(blocking.excess):,} better off alone"
        else:
            what = (
                f"{_who(blocking.members)} would save £{round(blocking.excess):,} more on their own"
            )
        cost = stability.cost_of_stability
        subsidy = (
            f"; a subsidy of £{round(cost):,} would make some split stable"
            if cost > 0.005
            else '; another split of the same plan (allocation = "nucleolus") would be stable'
        )
        out.append(f"{service.service}: NOT stable under {rule} allocation: {what}{subsidy}.")
    if result.stability_cost > 0.005:
        out.append(f"Stability cost £{round(result.stability_cost):,} of npv.")
    return out


CSV_COLUMNS = (
    "service",
    "group",
    "member",
    "group_members",
    "group_annual_saving",
    "group_transition_cost",
    "group_npv",
    "member_npv",
    "member_annual_saving",
    "member_transition_cost",
    "member_standalone_cost",
    "group_stable",
    "service_stable",
    "why_alone",
    "plan_status",
    "plan_gap",
    "plan_npv",
    "plan_annual_saving",
    "plan_transition_cost",
    "plan_message",
)
"""The last six repeat on every row, so a plan 15% from the optimum never reads like an
optimal one, however the rows are filtered or pivoted."""

NOT_TAKING_PART = "not taking part"


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def _csv(result: Result) -> str:
    """One row per member per service: easy to pivot in a spreadsheet. A plan with no
    groups to show (infeasible) still has one row, with its status."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    plan = [result.status.value, "" if result.gap is None else f"{result.gap:.6f}"]
    if result.solved:
        totals = result.totals
        plan += [f"{totals[k]:.2f}" for k in ("npv", "annual_saving", "transition_cost")]
    else:
        plan += ["", "", ""]
    plan.append(result.message)
    if not result.solved:
        writer.writerow([""] * (len(CSV_COLUMNS) - len(plan)) + plan)
    for service in result.services:
        stable = None if service.stability is None else service.stability.stable
        for number, group in enumerate(service.groups, start=1):
            for member in group.members:
                cash = service.cash.get(member)
                writer.writerow(
                    [
                        service.service,
                        number,
                        member,
                        " ".join(group.members),
                        f"{group.annual_saving:.2f}",
                        f"{group.transition_cost:.2f}",
                        f"{group.npv:.2f}",
                        f"{group.allocation[member]:.2f}",
                        f"{cash.annual_saving:.2f}" if cash else "",
                        f"{cash.transition_cost:.2f}" if cash else "",
                        f"{service.standalone_costs.get(member, 0.0):.2f}",
                        _flag(group.stable),
                        _flag(stable),
                        "",
                        *plan,
                    ]
                )
        for member in service.standalone:
            alone_cost = f"{service.standalone_costs.get(member, 0.0):.2f}"
            zeros = ["0.00"] * 6
            why = service.why_alone.get(member, "")
            alone = [service.service, "", member, member, *zeros, alone_cost, ""]
            writer.writerow([*alone, _flag(stable), why, *plan])
        for member in tables.not_taking_part(result, service.service):
            writer.writerow([service.service, "", member, "", *[""] * 9, NOT_TAKING_PART, *plan])
    return out.getvalue()
