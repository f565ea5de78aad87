"""Render a `Comparison` (`sharedsvc compare`): totals, members and the partnerships that
change, as tables, JSON, CSV (long form, one value a row) or workbook sheets."""

from __future__ import annotations

import csv
import io
import json

import attrs

from sharedsvc.comparison import Comparison
from sharedsvc.report import tables
from sharedsvc.report.text import printable, typed_table

TOTALS = (
    ("npv", "npv"),
    ("annual saving", "annual_saving"),
    ("transition cost", "transition_cost"),
)


def _differences(comparison: Comparison) -> list[str]:
    return [n for n in comparison.names if n != comparison.reference]


def plans_table(comparison: Comparison) -> tables.Table:
    """Status, gap and totals of each plan, and each plan's difference from the first."""
    names, others = comparison.names, _differences(comparison)
    columns = [("", tables.TEXT), *((n, tables.MONEY) for n in names)]
    columns += [(f"{n} - {comparison.reference}", tables.MONEY) for n in others]
    rows = []
    for label, value in (
        ("status", lambda n: comparison.results[n].status.value),
        ("gap", lambda n: comparison.results[n].gap),
    ):
        rows.append((label, *(value(n) for n in names), *([None] * len(others))))
    for label, key in TOTALS:

        def total(n, key=key):
            return comparison.total(n, key)

        differences = (comparison.difference(n, total) for n in others)
        rows.append((label, *(total(n) for n in names), *differences))
    count = [len(comparison.partnerships(n)) if comparison.solved(n) else None for n in names]
    differences = (None if c is None or count[0] is None else c - count[0] for c in count[1:])
    rows.append(("partnerships", *count, *differences))
    special = {"status": tables.TEXT, "gap": tables.PERCENT, "partnerships": tables.INTEGER}
    found = tables.table("plans", "Plans side by side", columns, rows)
    return attrs.evolve(found, row_kinds=tuple(special.get(row[0]) for row in rows))


def members_table(comparison: Comparison) -> tables.Table:
    names, others = comparison.names, _differences(comparison)
    columns = [("member", tables.TEXT), *((n, tables.MONEY) for n in names)]
    columns += [(f"{n} - {comparison.reference}", tables.MONEY) for n in others]
    rows = []
    for member in comparison.members():

        def share(n, member=member):
            return comparison.member_npv(n, member)

        rows.append(
            (
                member,
                *(share(n) for n in names),
                *(comparison.difference(n, share) for n in others),
            )
        )
    return tables.table("members", "Each member's npv share", columns, rows)


def changes_table(comparison: Comparison) -> tables.Table:
    """The partnerships each plan forms that the first does not, and those it drops."""
    rows = []
    for name in _differences(comparison):
        for service, members in comparison.appeared(name):
            npv = comparison.npv_of(name, (service, members))
            rows.append((name, "appears", service, " + ".join(members), npv))
        for service, members in comparison.disappeared(name):
            npv = comparison.npv_of(comparison.reference, (service, members))
            rows.append((name, "disappears", service, " + ".join(members), npv))
    columns = [
        ("plan", tables.TEXT),
        ("change", tables.TEXT),
        ("service", tables.TEXT),
        ("group", tables.TEXT),
        ("npv", tables.MONEY),
    ]
    return tables.table(
        "changes", f"Partnerships that change from {comparison.reference}", columns, rows
    )


def comparison_tables(comparison: Comparison) -> list[tables.Table]:
    return [plans_table(comparison), members_table(comparison), changes_table(comparison)]


def render(comparison: Comparison, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(comparison.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return _csv(comparison)
    tablefmt = "github" if fmt == "markdown" else "simple"
    markdown = tablefmt == "github"
    parts = []
    for name in comparison.names:
        description = comparison.descriptions.get(name, "")
        result = comparison.results[name]
        line = f"{name}: {result.consortium}, {result.status.value}" + (
            f" ({description})" if description else ""
        )
        parts.append(("- " if markdown else "") + printable(line))
    for found in comparison_tables(comparison):
        heading = ("### " if markdown else "") + found.title
        body = typed_table(found, tablefmt) if found.rows else "No partnership changes."
        parts += ["", heading, "", body]
    return "\n".join(parts) + "\n"


def _csv(comparison: Comparison) -> str:
    """Long form: one value a row (what, service, members, plan, value), to pivot."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["what", "item", "group", "plan", "value"])
    for name in comparison.names:
        result = comparison.results[name]
        writer.writerow(["status", "", "", name, result.status.value])
        writer.writerow(["gap", "", "", name, "" if result.gap is None else f"{result.gap:.6f}"])
        for label, key in TOTALS:
            value = comparison.total(name, key)
            writer.writerow(["total", label, "", name, "" if value is None else f"{value:.2f}"])
        for member in comparison.members():
            value = comparison.member_npv(name, member)
            writer.writerow(["member", member, "", name, "" if value is None else f"{value:.2f}"])
        for service, members in sorted(comparison.partnerships(name)):
            npv = comparison.npv_of(name, (service, members))
            writer.writerow(["partnership", service, " ".join(members), name, f"{npv:.2f}"])
    return out.getvalue()
