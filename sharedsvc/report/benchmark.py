"""Render a benchmark (`sharedsvc benchmark`): members ranked on each indicator, their
position against published peers, and the sources, as tables, JSON, CSV or sheets."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import attrs

from sharedsvc.benchmarking import IndicatorBenchmark
from sharedsvc.report import tables
from sharedsvc.report.text import cell, money, printable, typed_table


def _value_kind(found: IndicatorBenchmark) -> str:
    unit = found.indicator.unit
    if unit.startswith("fraction"):
        return tables.PERCENT
    return tables.UNIT_COST if unit.startswith("pounds") else tables.NUMBER


def members_table(found: Sequence[IndicatorBenchmark]) -> tables.Table:
    """Each member on each indicator: rank, quartile among the members, and the saving
    at the members' median and top quartile."""
    rows, kinds = [], []
    for b in found:
        n = len(b.members)
        for m in b.members:
            rows.append(
                (
                    b.service,
                    b.indicator.name,
                    m.member,
                    m.value,
                    f"{m.rank} of {n}",
                    f"Q{m.quartile}",
                    b.median,
                    f"{b.best.member} ({_text(b.best.value, _value_kind(b))})",
                    m.saving_to_median,
                    m.saving_to_top_quartile,
                )
            )
            kinds.append(_value_kind(b))
    found_table = tables.table(
        "benchmark",
        "Unit costs and indicators, ranked among the members",
        [
            ("service", tables.TEXT),
            ("indicator", tables.TEXT),
            ("member", tables.TEXT),
            ("value", tables.NUMBER),
            ("rank", tables.TEXT),
            ("quartile", tables.TEXT),
            ("median", tables.NUMBER),
            ("best", tables.TEXT),
            ("saving at median", tables.MONEY),
            ("saving at top quartile", tables.MONEY),
        ],
        rows,
    )
    return attrs.evolve(found_table, row_kinds=tuple(kinds), row_kind_columns=(3, 6))


def peers_table(found: Sequence[IndicatorBenchmark]) -> tables.Table:
    rows = []
    for b in found:
        for m in b.members:
            for p in m.peers:
                kind = _value_kind(b)
                target = "" if p.target is None else f"{p.target_name} {_text(p.target, kind)}"
                like = "yes" if p.peers.comparable else "no: no saving estimated"
                row = (b.service, b.indicator.name, m.member, p.position, target, like)
                rows.append((*row, p.saving, p.peers.source))
    return tables.table(
        "peers",
        "Against published peer figures",
        [
            ("service", tables.TEXT),
            ("indicator", tables.TEXT),
            ("member", tables.TEXT),
            ("position", tables.TEXT),
            ("peer figure", tables.TEXT),
            ("like for like", tables.TEXT),
            ("saving at peer figure", tables.MONEY),
            ("source", tables.TEXT),
        ],
        rows,
    )


def sources_table(found: Sequence[IndicatorBenchmark]) -> tables.Table:
    rows, seen = [], set()
    for b in found:
        for p in b.indicator.peers:
            if (b.indicator.name, p.source) in seen:
                continue
            seen.add((b.indicator.name, p.source))
            kind = _value_kind(b)
            figures = ", ".join(f"{label} {_text(value, kind)}" for label, value in p.figures())
            rows.append((b.indicator.name, figures, p.population, p.source))
    return tables.table(
        "sources",
        "Peer figures and their sources",
        [
            ("indicator", tables.TEXT),
            ("figures", tables.TEXT),
            ("who and when", tables.TEXT),
            ("source", tables.TEXT),
        ],
        rows,
    )


def benchmark_tables(found: Sequence[IndicatorBenchmark]) -> list:
    return [members_table(found), peers_table(found), sources_table(found)]


def _text(value: float, kind: str) -> str:
    return cell(float(value), kind)


def render(consortium: str, found: Sequence[IndicatorBenchmark], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(to_dict(consortium, found), indent=2) + "\n"
    if fmt == "csv":
        return _csv(found)
    tablefmt = "github" if fmt == "markdown" else "simple"
    markdown = tablefmt == "github"
    parts = [("## " if markdown else "") + printable(f"{consortium}: benchmark")]
    if not found:
        return parts[0] + "\n\nNo service's cost model declares indicators.\n"
    for t in benchmark_tables(found):
        if not t.rows:
            continue
        parts += ["", ("### " if markdown else "") + t.title, "", typed_table(t, tablefmt)]
    totals = _totals(found)
    if totals:
        parts += [""] + [("- " if markdown else "") + printable(line) for line in totals]
    return "\n".join(parts) + "\n"


def _totals(found: Sequence[IndicatorBenchmark]) -> list[str]:
    """One sentence per unit cost: what every member at the median would save."""
    lines = []
    for b in found:
        if b.saving_to_median is None:
            continue
        lines.append(
            f"{b.service}: {b.indicator.name}: {money(b.saving_to_median)} a year if every "
            f"member above the median moved to it, {money(b.saving_to_top_quartile or 0.0)} at "
            "the top quartile."
        )
    return lines


def to_dict(consortium: str, found: Sequence[IndicatorBenchmark]) -> dict[str, Any]:
    def pounds(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    services: dict[str, Any] = {}
    for b in found:
        services.setdefault(b.service, {"model": b.model, "indicators": {}})
        services[b.service]["indicators"][b.indicator.name] = {
            "unit": b.indicator.unit,
            "higher_is_better": b.indicator.higher_is_better,
            "per": b.indicator.per,
            "median": b.median,
            "top_quartile": b.top_quartile,
            "best": {"member": b.best.member, "value": b.best.value},
            "saving_to_median": pounds(b.saving_to_median),
            "saving_to_top_quartile": pounds(b.saving_to_top_quartile),
            "members": {
                m.member: {
                    "value": m.value,
                    "volume": m.volume,
                    "rank": m.rank,
                    "quartile": m.quartile,
                    "saving_to_median": pounds(m.saving_to_median),
                    "saving_to_top_quartile": pounds(m.saving_to_top_quartile),
                    "peers": [
                        {
                            "source": p.peers.source,
                            "comparable": p.peers.comparable,
                            "position": p.position,
                            "target": p.target_name,
                            "value": p.target,
                            "saving": pounds(p.saving),
                        }
                        for p in m.peers
                    ],
                }
                for m in b.members
            },
            "peers": [
                {
                    "source": p.source,
                    "population": p.population,
                    "best_quartile": p.best_quartile,
                    "median": p.median,
                    "worst_quartile": p.worst_quartile,
                    "mean": p.mean,
                    "best": p.best,
                }
                for p in b.indicator.peers
            ],
        }
    return {"consortium": consortium, "services": services}


def _csv(found: Sequence[IndicatorBenchmark]) -> str:
    """One row per member per indicator."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "service",
            "indicator",
            "unit",
            "member",
            "value",
            "volume",
            "rank",
            "quartile",
            "median",
            "top_quartile",
            "saving_to_median",
            "saving_to_top_quartile",
        ]
    )
    for b in found:
        for m in b.members:
            writer.writerow(
                [
                    b.service,
                    b.indicator.name,
                    b.indicator.unit,
                    m.member,
                    repr(m.value),
                    "" if m.volume is None else repr(m.volume),
                    m.rank,
                    m.quartile,
                    repr(b.median),
                    repr(b.top_quartile),
                    "" if m.saving_to_median is None else f"{m.saving_to_median:.2f}",
                    "" if m.saving_to_top_quartile is None else f"{m.saving_to_top_quartile:.2f}",
                ]
            )
    return out.getvalue()
