"""A `Result` as one self-contained HTML page: maps, bars, the cash-flow line, tables.

The page carries everything inline (a `<style>`, SVG drawings from `svg.py`) and loads
nothing: no script, font, style sheet or image, so that it can be mailed, archived and
printed as it is, and opened offline without a request leaving the machine. Like the
text report it renders figures the optimiser computed; the only sums here are the
plan's cash flows year by year, added up as `results.Cash` adds them. Every text that
comes from the consortium or the plugins is escaped (`svg.esc`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
from typing import Any

from sharedsvc.constants import Status
from sharedsvc.model.consortium import Consortium
from sharedsvc.plugins import Registry
from sharedsvc.report import svg, tables
from sharedsvc.report.svg import esc
from sharedsvc.report.text import cell, money, stability_sentences
from sharedsvc.results import Cash, Result, ServiceResult

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f4f4; color: #111;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 1.6em; margin: 0.3em 0; }
h2 { font-size: 1.2em; margin: 0 0 0.5em; }
h3 { font-size: 1em; margin: 0.8em 0 0.3em; }
.panel { background: #fff; border: 1px solid #bbb; border-radius: 4px; padding: 12px 16px;
  margin: 14px 0; break-inside: avoid; page-break-inside: avoid; }
.status { font-size: 1.05em; padding: 8px 12px; border: 2px solid #333; margin: 8px 0; }
.status.optimal { border-color: #777; }
.status.flag { border: 4px double #000; background: #fff3cd; font-weight: bold; }
.message { margin: 6px 0; }
.pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px;
  align-items: start; }
.map-figure { margin: 0 0 8px; max-width: 760px; }
.scroll { overflow-x: auto; }
svg { display: block; width: 100%; height: auto; max-width: 760px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; font-size: 0.92em; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 50%;
  border: 1px solid #222; vertical-align: -0.1em; margin-right: 4px;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.swatch.alone { background: #8c8c8c; }
.note { color: #333; font-size: 0.9em; margin: 4px 0; }
.no { font-weight: bold; text-decoration: underline; }
ul { margin: 4px 0; padding-left: 1.4em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { background: #fff; font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .panel { border: 1px solid #999; border-radius: 0; margin: 0 0 8mm; }
  .pair { display: block; }
  svg { max-width: 100%; }
  th { background: #fff; border-bottom: 2px solid #000; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """A table of cells already escaped; columns in `numeric` align right."""

    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def panel(title: str, body: str, css: str = "", ident: str = "") -> str:
    """A titled section of the page; `body` is inserted as given (already escaped)."""
    attrs = f' id="{esc(ident)}"' if ident else ""
    return f'<section class="panel {esc(css)}"{attrs}><h2>{esc(title)}</h2>{body}</section>'


def _payback(year: int | None) -> str:
    return "never" if year is None else str(year)


def _show(value: Any) -> str:
    """A parameter's value as plain words (not yet escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and float(value).is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _status(result: Result) -> str:
    gap = "unknown" if result.gap is None else f"{result.gap:.2%}"
    if result.status == Status.OPTIMAL:  # "proven optimal" says it all: no gap, no repeat
        line = f"proven optimal; solver {result.solver or 'none'}; {result.seconds:.2f} s"
        return f'<p class="status optimal">{esc(line)}</p>'
    line = (
        f"status: {result.status}; gap {gap}; solver {result.solver or 'none'}; "
        f"{result.seconds:.2f} s"
    )
    message = result.message[0].upper() + result.message[1:] + "."
    warning = (
        "NO PLAN: the constraints cannot all be met"
        if result.status == Status.INFEASIBLE
        else ("NOT PROVEN OPTIMAL" if result.solved else f"NO PLAN ({result.status})")
    )
    return (
        f'<p class="status flag" role="alert">&#9888; {esc(warning)}<br>{esc(line)}</p>'
        f'<p class="message">{esc(message)}</p>'
    )


def _plan_cash(result: Result) -> Cash:
    """The plan's cash flows, every group's added up as `Result` adds them."""
    groups = [g for s in result.services for g in s.groups if g.discounted]
    return sum((Cash(undiscounted=g.cash_flows, discounted=g.discounted) for g in groups), Cash())


def _summary(result: Result) -> str:
    totals = result.totals
    rows = [
        ["npv", money(totals["npv"])],
        ["annual saving", money(totals["annual_saving"])],
        ["transition cost", money(totals["transition_cost"])],
    ]
    cash = _plan_cash(result)
    if cash.discounted:
        rows.append(["payback year", _payback(cash.payback_year)])
    unadjusted = result.unadjusted_totals
    if unadjusted is not None:
        rows += [
            ["npv before optimism bias", money(unadjusted.npv)],
            ["annual saving before optimism bias", money(unadjusted.annual_saving)],
            ["transition cost before optimism bias", money(unadjusted.transition_cost)],
        ]
    if result.stability_cost > 0.005:
        rows.append(["npv given up for stability", money(result.stability_cost)])
    body = _table(["total", ""], ([esc(a), esc(b)] for a, b in rows), {1})
    if result.unfinished:
        body += (
            '<p class="note">Reached the time limit before these services were solved '
            f"(every member alone): {esc(', '.join(result.unfinished))}.</p>"
        )
    if result.uncertain:
        body += (
            '<p class="note">Optimised at the central values of: '
            f"{esc(', '.join(result.uncertain))}.</p>"
        )
    return panel("Summary", body, "summary")


def _service_panel(index: int, service: ServiceResult, consortium: Consortium) -> str:
    taking_part = {p.member.id for p in consortium.participants(service.service)}
    taking_part |= set(service.standalone) | {m for g in service.groups for m in g.members}
    group_of = {m: i for i, g in enumerate(service.groups) for m in g.members}
    members = [
        svg.MapMember(
            id=m.id,
            name=m.name,
            lat=None if m.location is None else m.location.lat,
            lon=None if m.location is None else m.location.lon,
            group=group_of.get(m.id),
            taking_part=m.id in taking_part,
        )
        for m in consortium.members
    ]
    neighbours = [(m.id, n) for m in consortium.members for n in m.neighbours]
    drawing = svg.map_svg(
        members,
        neighbours,
        [g.members for g in service.groups],
        svg_id=f"map-{index}",
        title=f"Map of the {service.service} plan: members coloured by group",
    )
    notes = ""
    unplaced = [m for m in consortium.members if m.location is None]
    if unplaced:
        names = ", ".join(f"{m.name} ({m.id})" for m in unplaced)
        notes += f'<p class="note">Not on the map: {esc(names)}.</p>'
    absent = [m.id for m in consortium.members if m.id not in taking_part]
    if absent:
        notes += f'<p class="note">Not taking part: {esc(", ".join(absent))}.</p>'
    rows = []
    for i, group in enumerate(service.groups):
        stable = {True: "yes", False: '<span class="no">NO</span>', None: ""}[group.stable]
        rows.append(
            [
                f'<span class="swatch" style="background:{svg.group_colour(i)}"></span>{i + 1}',
                esc(" + ".join(group.members)),
                esc(money(group.annual_saving)),
                esc(money(group.transition_cost)),
                esc(money(group.npv)),
                esc(_payback(group.payback_year) if group.discounted else ""),
                stable,
            ]
        )
    for member in service.standalone:
        why = service.why_alone.get(member)
        label = member + (f" ({why})" if why else "")
        rows.append(['<span class="swatch alone"></span>alone', esc(label)] + [""] * 5)
    table = _table(
        ["group", "members", "annual saving", "one-off cost", "npv", "payback", "stable"],
        rows,
        {2, 3, 4, 5},
    )
    figures = (
        f'<p class="note">npv {esc(money(service.npv))}; annual saving '
        f"{esc(money(service.annual_saving))}; one-off cost "
        f"{esc(money(service.transition_cost))}.</p>"
    )
    body = f'<figure class="map-figure">{drawing}{notes}</figure>'
    body += f'<div class="scroll">{figures}{table}</div>'
    return panel(f"{service.service} ({service.model})", body, "service", ident=f"service-{index}")


def _bars(result: Result) -> str:
    by_service = [(s.service, s.npv) for s in result.services]
    by_member = sorted(
        ((m, view.npv) for m, view in result.by_member.items()), key=lambda x: (-x[1], x[0])
    )
    body = "<h3>NPV by service</h3>" + svg.bar_chart(
        by_service, svg_id="bars-services", title="NPV by service"
    )
    body += "<h3>NPV by member</h3>" + svg.bar_chart(
        by_member, svg_id="bars-members", title="NPV by member"
    )
    return panel("Net present value", body, "bars")


def _members(result: Result, consortium: Consortium) -> str:
    names = {m.id: m.name for m in consortium.members}
    rows = []
    for m, view in result.by_member.items():
        gain = view.gain_percent
        rows.append(
            [
                esc(m),
                esc(names.get(m, "")),
                esc(view.kind),
                esc(money(view.npv)),
                esc(money(view.annual_saving)),
                esc(money(view.transition_cost)),
                esc(money(view.standalone_cost)),
                "" if gain is None else esc(f"{gain:.1f}%"),
                esc(_payback(view.payback_year)),
            ]
        )
    headers = [
        "member",
        "name",
        "kind",
        "npv share",
        "annual saving",
        "one-off share",
        "standalone cost",
        "gain",
        "payback year",
    ]
    table = _table(headers, rows, {3, 4, 5, 6, 7, 8})
    return panel("Members", f'<div class="scroll">{table}</div>', "members")


def _cash_flow(result: Result) -> str:
    cash = _plan_cash(result)
    if not cash.discounted:
        return panel("Cash flow", '<p class="note">No group is formed: no cash flows.</p>')
    cumulative = list(accumulate(cash.discounted))
    chart = svg.cash_flow_chart(
        cash.discounted,
        cumulative,
        payback=cash.payback_year,
        svg_id="cash-flow",
        title="The plan's cumulative discounted cash flow by year",
    )
    rows = [
        [str(year), esc(money(flow)), esc(money(discounted)), esc(money(total))]
        for year, (flow, discounted, total) in enumerate(
            zip(cash.undiscounted, cash.discounted, cumulative, strict=True)
        )
    ]
    table = _table(["year", "cash flow", "discounted", "cumulative"], rows, {0, 1, 2, 3})
    body = f'<div class="pair"><div>{chart}</div><div>{table}</div></div>'
    body += (
        '<p class="note">Bars: each year\'s discounted cash flow; line: their running '
        f"total. Payback year: {esc(_payback(cash.payback_year))}.</p>"
    )
    return panel("Cash flow of the plan", body, "cash-flow")


def _rate(rate: float | str) -> str:
    if isinstance(rate, str):
        return f"{rate} (HM Treasury Green Book declining schedule)"
    return f"{rate:.2%} a year (constant, real)"


def _assumptions(result: Result, consortium: Consortium, registry: Registry | None) -> str:
    bias = result.optimism_bias
    rows = [
        ["horizon", f"{result.horizon_years} years"],
        ["discount rate", _rate(result.discount_rate)],
        ["objective", str(result.objective)],
        ["allocation", result.allocation or str(consortium.allocation)],
        ["optimism bias", ", ".join(f"{k} = {_show(v)}" for k, v in bias.items()) or "none"],
        ["non-cash value counted", f"{result.count_non_cashable:.0%}"],
        ["ramp-up (years 1, 2, ...)", _show(consortium.ramp_up) if consortium.ramp_up else "none"],
        ["one-off cost profile (years 0, 1, ...)", _show(consortium.one_off_profile)],
        [
            "double running (years 1, 2, ...)",
            _show(consortium.double_running) if consortium.double_running else "none",
        ],
        ["exit cost (share of one-off)", _show(consortium.exit_cost)],
    ]
    if consortium.settings:
        rows.append(
            ["constraints", "; ".join(f"{k} = {_show(v)}" for k, v in consortium.settings.items())]
        )
    body = _table(["assumption", "value"], ([esc(a), esc(b)] for a, b in rows), set())
    drawn = {(u.service, u.name) for u in consortium.uncertain if u.member is None}
    for service in consortium.services:
        model = None if registry is None else registry.cost_models.get(service.model)
        fields = {} if model is None else {f.name: f for f in model.parameters}
        param_rows = []
        for name, value in service.parameters.items():
            field = fields.get(name)
            if field is None:
                source = "(no plugin registry given)" if registry is None else "(not declared)"
            elif field.required:
                source = f"set in the consortium (no default; {field.source or 'no source'})"
            elif value != field.default:
                source = f"set in the consortium (default {_show(field.default)}: {field.source})"
            else:
                source = field.source
            if (service.id, name) in drawn:
                source = f"central value of a distribution; {source}"
            param_rows.append(
                [
                    esc(name),
                    esc(_show(value)),
                    esc("" if field is None else field.unit),
                    esc(source),
                ]
            )
        body += f"<h3>{esc(service.id)}: cost model {esc(service.model)}</h3>"
        if param_rows:
            body += _table(["parameter", "value", "unit", "source"], param_rows, {1})
        else:
            body += '<p class="note">No parameters.</p>'
    return panel("Assumptions", body, "assumptions")


def tables_html(found: Sequence[tables.Table]) -> str:
    """Typed tables (a benchmark, a comparison) as HTML, each under its title, values
    written as in the text report and numbers aligned right."""
    numeric = (tables.MONEY, tables.UNIT_COST, tables.NUMBER, tables.INTEGER, tables.PERCENT)
    out = []
    for t in found:
        if not t.rows:
            continue
        rows = [
            [esc(cell(value, t.kind(r, c))) for c, value in enumerate(row)]
            for r, row in enumerate(t.rows)
        ]
        right = {c for c, kind in enumerate(t.kinds) if kind in numeric}
        if t.row_kind_columns is not None:
            right |= set(t.row_kind_columns)
        out.append(f"<h3>{esc(t.title)}</h3>" + _table(t.headers, rows, right))
    return '<div class="scroll">' + "".join(out) + "</div>"


def render_html(
    result: Result,
    consortium: Consortium,
    *,
    sections: Sequence[tuple[str, str]] = (),
    title: str | None = None,
    registry: Registry | None = None,
) -> str:
    """The whole report as one HTML5 document that loads nothing from anywhere.

    `sections` are (title, HTML fragment) panels placed before the assumptions; their
    fragments are inserted as given, so the caller builds (and escapes) them. With
    `registry`, the assumptions name each cost-model parameter's unit and source.
    """
    heading = title or result.consortium or consortium.name
    parts = [
        '<header class="panel heading">',
        f"<h1>{esc(heading)}</h1>",
        _status(result),
    ]
    if result.status == Status.INFEASIBLE:
        if result.conflicts:
            items = "".join(f"<li>{esc(c)}</li>" for c in result.conflicts)
            parts.append(f"<h2>Constraints that clash</h2><ul>{items}</ul>")
        else:
            parts.append('<p class="note">No single clash was identified.</p>')
    parts.append("</header>")
    if result.solved:
        parts.append(_summary(result))
        parts += [_service_panel(i, s, consortium) for i, s in enumerate(result.services)]
        parts.append(_bars(result))
        parts.append(_members(result, consortium))
        sentences = stability_sentences(result)
        if sentences:
            items = "".join(f"<li>{esc(x)}</li>" for x in sentences)
            parts.append(panel("Stability", f"<ul>{items}</ul>", "stability"))
        parts.append(_cash_flow(result))
    for section_title, fragment in sections:
        parts.append(panel(section_title, fragment, "extra"))
    parts.append(_assumptions(result, consortium, registry))
    return page(heading, parts)


def page(title: str, parts: Sequence[str]) -> str:
    """One HTML5 document that loads nothing from anywhere: the report's style, then
    `parts` (HTML, already escaped) in order."""
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(parts)
        + "\n</main>\n</body>\n</html>\n"
    )


def committee_report(result: Result, consortium: Consortium, registry: Registry) -> str:
    """The committee's page: the plan, then the benchmark of the members' unit costs."""
    from sharedsvc.benchmarking import benchmark
    from sharedsvc.report.benchmark import benchmark_tables

    found = benchmark(consortium, registry)
    title = "Benchmark: unit costs against members and peers"
    sections = [(title, tables_html(benchmark_tables(found)))] if found else []
    return render_html(result, consortium, sections=sections, registry=registry)
