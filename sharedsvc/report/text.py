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

from sharedsvc.constants import Status
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
        text += "\n" + _years(result, tablefmt) + "\n"
    return text


def _years(result: Result, tablefmt: str) -> str:
    """Rows: years 0..horizon; columns: each service's net cash flow, the total, the
    total discounted and its running sum (the payback is where it turns positive)."""
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
        return "No group is formed, so there are no cash flows."
    rows, running = [], 0.0
    for year, value in enumerate(discounted):
        running += value
        rows.append(
            [str(year)]
            + [money(flows[year]) for flows in by_service.values()]
            + [
                money(sum(flows[year] for flows in by_service.values())),
                money(value),
                money(running),
            ]
        )
    headers = ["year", *by_service, "total", "discounted", "cumulative discounted"]
    heading = ("### " if tablefmt == "github" else "") + "Cash flows by year (year 0 is the start)"
    return heading + "\n\n" + _table(rows, headers, tablefmt)


def _heading(result: Result) -> str:
    gap = "" if result.gap is None or result.status == Status.OPTIMAL else f", gap {result.gap:.2%}"
    return (
        f"{result.consortium}: {result.status}{gap} "
        f"(objective {result.objective}, solver {result.solver}, "
        f"{result.seconds:.2f} s)"
    )


def _tables(result: Result, tablefmt: str) -> str:
    markdown = tablefmt == "github"
    heading = ("## " if markdown else "") + printable(_heading(result))
    parts = [heading]
    if result.status != Status.OPTIMAL:  # the heading says "optimal" already
        parts += ["", printable(result.message[0].upper() + result.message[1:] + ".")]
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
                    {True: "yes", False: "NO", None: ""}[group.stable],
                ]
            )
        if service.standalone:
            rows.append(
                [service.service, "alone: " + ", ".join(service.standalone), "", "", "", ""]
            )
    headers = ["service", "group", "annual saving", "transition", "npv", "stable"]
    parts += ["", _table(rows, headers, tablefmt)]
    member_rows = []
    for m, view in result.by_member.items():
        gain = view.gain_percent
        member_rows.append(
            [
                m,
                view.kind,
                money(view.npv),
                money(view.annual_saving),
                money(view.transition_cost),
                money(view.standalone_cost),
                "" if gain is None else f"{gain:.1f}%",
                "never" if view.payback_year is None else str(view.payback_year),
            ]
        )
    member_headers = [
        "member",
        "kind",
        "npv share",
        "annual saving",
        "one-off share",
        "standalone cost",
        "gain",
        "payback year",
    ]
    parts += ["", _table(member_rows, member_headers, tablefmt)]
    totals = result.totals
    total_rows = [
        ["npv", money(totals["npv"])],
        ["annual saving", money(totals["annual_saving"])],
        ["transition cost", money(totals["transition_cost"])],
    ]
    unadjusted = result.unadjusted_totals
    if unadjusted is not None:
        total_rows += [
            ["npv of this plan before optimism bias", money(unadjusted.npv)],
            ["annual saving before optimism bias", money(unadjusted.annual_saving)],
            ["transition cost before optimism bias", money(unadjusted.transition_cost)],
        ]
    parts += ["", _table(total_rows, ["total", ""], tablefmt)]
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
)


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def _csv(result: Result) -> str:
    """One row per member per service: easy to pivot in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
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
                    ]
                )
        for member in service.standalone:
            alone_cost = f"{service.standalone_costs.get(member, 0.0):.2f}"
            zeros = ["0.00"] * 6
            writer.writerow(
                [service.service, "", member, member, *zeros, alone_cost, "", _flag(stable)]
            )
    return out.getvalue()
