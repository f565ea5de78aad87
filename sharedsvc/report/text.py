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

from tabulate import tabulate

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


def money(value: float) -> str:
    rounded = round(value)
    return f"-£{-rounded:,}" if rounded < 0 else f"£{rounded:,}"


def render(result: Result, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return _csv(result)
    return _tables(result, "github" if fmt == "markdown" else "simple")


def _heading(result: Result) -> str:
    gap = "" if result.gap is None else f", gap {result.gap:.2%}"
    return (
        f"{result.consortium}: {result.status}{gap} "
        f"(objective {result.objective}, solver {result.solver}, "
        f"{result.seconds:.2f} s)"
    )


def _tables(result: Result, tablefmt: str) -> str:
    markdown = tablefmt == "github"
    heading = ("## " if markdown else "") + printable(_heading(result))
    message = printable(result.message[0].upper() + result.message[1:] + ".")
    parts = [heading, "", message]
    if not result.solved:
        return "\n".join(parts) + "\n"
    rows = []
    for service in result.services:
        for group in service.groups:
            rows.append(
                [
                    service.service,
                    " + ".join(group.members),
                    money(group.annual_saving),
                    money(group.transition_cost),
                    money(group.npv),
                ]
            )
        if service.standalone:
            rows.append([service.service, "alone: " + ", ".join(service.standalone), "", "", ""])
    headers = ["service", "group", "annual saving", "transition", "npv"]
    parts += ["", _table(rows, headers, tablefmt)]
    member_rows = [
        [m, result.kinds.get(m, ""), money(v)] for m, v in sorted(result.members.items())
    ]
    parts += ["", _table(member_rows, ["member", "kind", "npv share"], tablefmt)]
    totals = result.totals
    total_rows = [
        ["npv", money(totals["npv"])],
        ["annual saving", money(totals["annual_saving"])],
        ["transition cost", money(totals["transition_cost"])],
    ]
    parts += ["", _table(total_rows, ["total", ""], tablefmt)]
    return "\n".join(parts) + "\n"


CSV_COLUMNS = (
    "service",
    "group",
    "member",
    "group_members",
    "group_annual_saving",
    "group_transition_cost",
    "group_npv",
    "member_npv",
)


def _csv(result: Result) -> str:
    """One row per member per service: easy to pivot in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for service in result.services:
        for number, group in enumerate(service.groups, start=1):
            for member in group.members:
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
                    ]
                )
        for member in service.standalone:
            writer.writerow([service.service, "", member, member, "0.00", "0.00", "0.00", "0.00"])
    return out.getvalue()
