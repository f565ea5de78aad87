"""Render an `Explanation` (`sharedsvc explain`): per service, where the member is and
the best alternatives with their exact re-optimised value; then the binding
constraints and what relaxing each is worth."""

from __future__ import annotations

import csv
import io
import json

from sharedsvc.alternatives import Alternative, Explanation, ServiceExplanation
from sharedsvc.report import tables
from sharedsvc.report.text import money, printable, typed_table


def alternatives_table(explanation: Explanation) -> tables.Table:
    rows = []
    for s in explanation.services:
        listed = list(s.alternatives) + ([s.requested] if s.requested is not None else [])
        for a in listed:
            kind = "asked" if a is s.requested else "alternative"
            why = a.why
            if a.at_most is not None:
                most = "unknown" if a.at_most == float("inf") else money(a.at_most)
                why = f"not proven in the time given: at most {most}; " + why
            rows.append(
                (
                    s.service,
                    kind,
                    " + ".join(a.members),
                    a.value,
                    a.difference,
                    a.annual_saving,
                    a.transition_cost,
                    a.npv,
                    why,
                )
            )
    return tables.table(
        "alternatives",
        f"Best groups with {explanation.member}, each re-optimised with it forced in",
        [
            ("service", tables.TEXT),
            ("", tables.TEXT),
            ("group", tables.TEXT),
            ("plan " + explanation.objective, tables.MONEY),
            ("vs plan", tables.MONEY),
            ("group saving a year", tables.MONEY),
            ("one-off", tables.MONEY),
            ("group npv", tables.MONEY),
            ("why", tables.TEXT),
        ],
        rows,
    )


def relaxations_table(explanation: Explanation) -> tables.Table:
    rows = [
        (r.path, r.change, r.value, r.gain, "yes" if r.binding else "no", r.note)
        for r in explanation.relaxations
    ]
    return tables.table(
        "constraints",
        "Each constraint relaxed by one unit, the plan re-optimised",
        [
            ("constraint", tables.TEXT),
            ("change", tables.TEXT),
            ("plan " + explanation.objective, tables.MONEY),
            ("worth", tables.MONEY),
            ("binding", tables.TEXT),
            ("note", tables.TEXT),
        ],
        rows,
    )


def explanation_tables(explanation: Explanation) -> list[tables.Table]:
    return [alternatives_table(explanation), relaxations_table(explanation)]


def _where(member: str, s: ServiceExplanation) -> str:
    if s.group is not None:
        others = [m for m in s.group if m != member]
        return f"{s.service}: {member} shares with {', '.join(others)}"
    return f"{s.service}: {member} is alone ({s.why_alone or 'the plan leaves it alone'})"


def _coverage(member: str, s: ServiceExplanation) -> str:
    if not s.groups_with_member:
        return f"{s.service}: no other allowed group contains {member}."
    line = (
        f"{s.service}: {s.groups_with_member:,} other allowed groups contain {member}; "
        f"{s.evaluated:,} re-optimised"
    )
    if s.proven:
        if s.unlisted_at_most is not None:
            line += (
                f"; none of the rest can give a plan worth more than "
                f"{money(s.unlisted_at_most)}: those shown are the best"
            )
        return line + "."
    line += f"; the solve limit came first: those shown are the best of the {s.evaluated:,} solved"
    if s.unlisted_at_most is not None:
        line += f", and no other can give more than {money(s.unlisted_at_most)} (LP bound)"
    return line + " (raise --max-solves to prove more)."


def render(explanation: Explanation, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(explanation.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return _csv(explanation)
    markdown = fmt == "markdown"
    tablefmt = "github" if markdown else "simple"
    bullet = "- " if markdown else ""
    heading = (
        f"{explanation.consortium}: why {explanation.member} is where it is "
        f"(plan {explanation.objective} {money(explanation.plan_value)}, {explanation.status})"
    )
    parts = [("## " if markdown else "") + printable(heading), ""]
    parts += [bullet + printable(note) for note in explanation.notes]
    parts += [bullet + printable(_where(explanation.member, s)) for s in explanation.services]
    found = alternatives_table(explanation)
    if found.rows:
        parts += ["", ("### " if markdown else "") + found.title, "", typed_table(found, tablefmt)]
    parts += [""] + [
        bullet + printable(_coverage(explanation.member, s)) for s in explanation.services
    ]
    relaxed = relaxations_table(explanation)
    if relaxed.rows:
        parts += ["", ("### " if markdown else "") + relaxed.title, ""]
        parts.append(typed_table(relaxed, tablefmt))
        binding = [r for r in explanation.relaxations if r.binding]
        parts.append("")
        if binding:
            parts += [
                bullet + printable(f"Binding: {r.path} ({r.change}) is worth {money(r.gain)}.")
                for r in binding
            ]
        else:
            parts.append(bullet + "No constraint binds: relaxing any of them gains nothing.")
    return "\n".join(parts) + "\n"


def _csv(explanation: Explanation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["what", "service", "members", "value", "difference", "group_npv", "why_or_change"]
    )

    def row(what: str, a: Alternative) -> list:
        return [
            what,
            a.service,
            " ".join(a.members),
            "" if a.value is None else f"{a.value:.2f}",
            "" if a.difference is None else f"{a.difference:.2f}",
            "" if a.npv is None else f"{a.npv:.2f}",
            a.why,
        ]

    for s in explanation.services:
        for a in s.alternatives:
            writer.writerow(row("alternative", a))
        if s.requested is not None:
            writer.writerow(row("asked", s.requested))
    for r in explanation.relaxations:
        value = "" if r.value is None else f"{r.value:.2f}"
        gain = "" if r.gain is None else f"{r.gain:.2f}"
        writer.writerow(["relaxed", "", r.path, value, gain, "", f"{r.change} {r.note}".strip()])
    return out.getvalue()
