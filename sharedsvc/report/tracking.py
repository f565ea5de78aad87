"""Render a `Tracking` (`sharedsvc track`): typed tables for the terminal, Markdown, a
workbook and an HTML page; JSON; CSV in long form. No arithmetic beyond the sums and
differences the tracking's own properties give (`tracking/compare.py`)."""

from __future__ import annotations

import csv
import io
import json
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from sharedsvc.appraisal.cashflows import payback_year
from sharedsvc.report import svg, tables
from sharedsvc.report.html import page, panel, tables_html
from sharedsvc.report.svg import esc
from sharedsvc.report.text import money, printable, typed_table
from sharedsvc.results import pennies
from sharedsvc.wording import counted

if TYPE_CHECKING:
    from sharedsvc.tracking.compare import PartnershipTracking, Tracking
    from sharedsvc.tracking.replan import Replan

SPREAD = (("mean", "mean"), ("p5", "P5"), ("p50", "P50"), ("p95", "P95"))


def _members(p: PartnershipTracking) -> str:
    return " + ".join(p.plan.members)


def _dissolved(p: PartnershipTracking) -> str:
    if p.dissolved is None:
        return ""
    return f"end of year {p.dissolved.year}, exit cost {money(p.dissolved.exit_cost)}"


def _years_list(years) -> str:
    return ", ".join(str(y) for y in years)


def _gains_from(share) -> str:
    """Where a member's realised gains come from: its share, or its contributions."""
    if not share.contribution_years:
        return "share"
    years = share.contribution_years
    word = "year" if len(years) == 1 else "years"
    return f"contributions in {word} {_years_list(years)}, share otherwise"


def _ended(found: Tracking) -> str:
    """Which plan years have ended, in words ("years 0 to 0" says nothing)."""
    last = found.calendar.last_ended
    return "year 0, the start, ended" if last == 0 else f"years 0 to {last} ended"


def summary_table(found: Tracking) -> tables.Table:
    """What was tracked, as of when, and the totals."""
    plan, calendar = found.plan, found.calendar
    rows: list[tuple[str, Any, str]] = [
        ("consortium", plan.consortium, tables.TEXT),
        ("plan file", plan.source, tables.TEXT),
        ("plan made by sharedsvc", plan.version, tables.TEXT),
        ("consortium SHA-256", plan.sha256 or "not recorded", tables.TEXT),
        ("actuals file", found.actuals.source, tables.TEXT),
        ("start (year 0)", calendar.start.isoformat(), tables.TEXT),
        ("as of", calendar.as_of.isoformat(), tables.TEXT),
        ("last year ended", calendar.last_ended, tables.INTEGER),
        ("horizon (years)", plan.horizon_years, tables.INTEGER),
        ("at risk below", found.threshold, tables.PERCENT),
        ("on track within", found.tolerance, tables.PERCENT),
        ("planned saving to date", found.planned_to_date, tables.MONEY),
        ("realised saving to date", found.realised_to_date, tables.MONEY),
        ("variance to date", found.variance_to_date, tables.MONEY),
        ("delivered to date", found.delivered, tables.PERCENT),
        ("plan npv", found.plan_npv, tables.MONEY),
        ("forecast npv", found.forecast_npv, tables.MONEY),
        ("forecast npv less plan npv", found.forecast_npv - found.plan_npv, tables.MONEY),
    ]
    if found.spread is not None:
        rows += [
            (f"forecast npv {label}", found.spread[key], tables.MONEY) for key, label in SPREAD
        ]
        rows += [
            ("P(forecast npv > 0)", found.spread["p_positive"], tables.PERCENT),
            ("draws (seed)", f"{found.draws:,} ({found.seed})", tables.TEXT),
        ]
    rows += [
        ("partnerships at risk", len(found.at_risk), tables.INTEGER),
        ("members' negative forecast gains", len(found.negative_gains), tables.INTEGER),
    ]
    return tables.Table(
        name="summary",
        title="Tracking",
        headers=("item", "value"),
        kinds=(tables.TEXT, tables.TEXT),
        rows=tuple((a, b) for a, b, _ in rows),
        row_kinds=tuple(kind for _, _, kind in rows),
    )


def partnerships_table(found: Tracking) -> tables.Table:
    """Each partnership: status, saving to date, variance and trend, and the forecast."""
    columns = [
        ("service", tables.TEXT),
        ("partnership", tables.TEXT),
        ("status", tables.TEXT),
        ("planned to date", tables.MONEY),
        ("realised to date", tables.MONEY),
        ("variance", tables.MONEY),
        ("delivered", tables.PERCENT),
        ("trend a year", tables.MONEY),
        ("trend", tables.TEXT),
        ("plan npv", tables.MONEY),
        ("forecast npv", tables.MONEY),
    ]
    if found.spread is not None:
        columns += [(f"forecast {label}", tables.MONEY) for key, label in SPREAD if key != "mean"]
        columns.append(("P(forecast > 0)", tables.PERCENT))
    columns += [("missing years", tables.TEXT), ("dissolved", tables.TEXT)]
    rows = []
    for p in found.partnerships:
        trend = p.trend
        row = [
            p.plan.service,
            _members(p),
            p.status,
            p.planned_to_date,
            p.realised_to_date,
            p.variance_to_date,
            p.delivered,
            trend.slope,
            trend.direction,
            p.plan.npv,
            p.forecast_npv,
        ]
        if found.spread is not None:
            row += [p.spread[key] for key, _ in SPREAD if key != "mean"]
            row.append(p.spread["p_positive"])
        row += [_years_list(p.missing), _dissolved(p)]
        rows.append(row)
    return tables.table("partnerships", "Partnerships against the plan", columns, rows)


def years_table(found: Tracking) -> tables.Table:
    """Every partnership's every year: planned, realised, and what the forecast counts."""
    rows = []
    for p in found.partnerships:
        for y in p.years:
            rows.append(
                (
                    p.plan.service,
                    _members(p),
                    y.year,
                    y.first_day,
                    y.last_day,
                    y.kind,
                    y.planned,
                    y.realised,
                    y.variance,
                    y.ratio,
                    y.used,
                    y.discounted,
                    y.exit_cost or None,
                    y.note,
                )
            )
    columns = [
        ("service", tables.TEXT),
        ("partnership", tables.TEXT),
        ("year", tables.INTEGER),
        ("from", tables.TEXT),
        ("to", tables.TEXT),
        ("kind", tables.TEXT),
        ("planned", tables.MONEY),
        ("realised", tables.MONEY),
        ("variance", tables.MONEY),
        ("realised/planned", tables.PERCENT),
        ("in forecast", tables.MONEY),
        ("discounted", tables.MONEY),
        ("exit cost", tables.MONEY),
        ("note", tables.TEXT),
    ]
    return tables.table("years", "Year by year (year 0 is the start)", columns, rows)


def shares_table(found: Tracking) -> tables.Table:
    """Each member's part of each partnership, and whether its gain has turned negative."""
    rows = []
    for p in found.partnerships:
        for s in p.members:
            rows.append(
                (
                    p.plan.service,
                    _members(p),
                    s.member,
                    s.share,
                    s.planned_to_date,
                    s.realised_to_date,
                    s.variance_to_date,
                    s.plan_npv,
                    s.forecast_npv,
                    _gains_from(s),
                    "NEGATIVE" if s.negative else "",
                )
            )
    columns = [
        ("service", tables.TEXT),
        ("partnership", tables.TEXT),
        ("member", tables.TEXT),
        ("share", tables.PERCENT),
        ("planned to date", tables.MONEY),
        ("realised to date", tables.MONEY),
        ("variance", tables.MONEY),
        ("plan npv share", tables.MONEY),
        ("forecast gain", tables.MONEY),
        ("gains from", tables.TEXT),
        ("gain", tables.TEXT),
    ]
    return tables.table("member shares", "Members in each partnership", columns, rows)


def members_table(found: Tracking) -> tables.Table:
    rows = [
        (
            m.member,
            len(m.partnerships),
            m.planned_to_date,
            m.realised_to_date,
            m.variance_to_date,
            m.plan_npv,
            m.forecast_npv,
            "NEGATIVE" if m.negative else "",
        )
        for m in found.members
    ]
    columns = [
        ("member", tables.TEXT),
        ("partnerships", tables.INTEGER),
        ("planned to date", tables.MONEY),
        ("realised to date", tables.MONEY),
        ("variance", tables.MONEY),
        ("plan npv share", tables.MONEY),
        ("forecast gain", tables.MONEY),
        ("gain", tables.TEXT),
    ]
    return tables.table("members", "Members over all their partnerships", columns, rows)


def findings(found: Tracking) -> list[str]:
    """One sentence per thing a committee must hear: each partnership at risk and why,
    each negative gain, each missing year, each dissolution."""
    if not found.partnerships:
        return ["The plan forms no partnership: there is nothing to track."]
    out = []
    for p in found.at_risk:
        out.append(f"{p.label} is at risk: {'; '.join(p.reasons)}.")
    for p, s in found.negative_gains:
        out.append(
            f"{p.label}: {s.member}'s forecast gain is {money(s.forecast_npv)} (the plan "
            f"allocated it {money(s.plan_npv)}): the split that made it join no longer holds."
        )
    for p in found.partnerships:
        if p.missing:
            years = _years_list(p.missing)
            word = "year" if len(p.missing) == 1 else "years"
            out.append(
                f"{p.label}: no actuals for {word} {years}, which ended; the forecast uses "
                "the plan's figures there."
            )
        if p.dissolved is not None:
            out.append(
                f"{p.label} was dissolved at the end of year {p.dissolved.year} (exit cost "
                f"{money(p.dissolved.exit_cost)}): its later years save nothing."
            )
    if not out:
        out.append("Every partnership is on track or ahead, and every year that ended is reported.")
    return out


def replan_tables(replan: Replan) -> list[tables.Table]:
    """What re-optimising the remaining years would change, and what it is worth."""
    rows: list[tuple[str, Any, str]] = [
        (
            "re-planned from the end of year",
            f"{replan.from_year} ({replan.from_date})",
            tables.TEXT,
        ),
        ("remaining years", replan.remaining_years, tables.INTEGER),
        ("status", replan.status, tables.TEXT),
        ("message", replan.message, tables.TEXT),
        ("exit cost (share of one-off cost)", replan.exit_share, tables.PERCENT),
        ("npv keeping today's partnerships", replan.continue_npv, tables.MONEY),
        ("npv of the re-plan", replan.replan_npv, tables.MONEY),
        ("difference", replan.difference, tables.MONEY),
    ]
    summary = tables.Table(
        name="replan",
        title=f"Re-plan of the remaining {counted(replan.remaining_years, 'year')}",
        headers=("item", "value"),
        kinds=(tables.TEXT, tables.TEXT),
        rows=tuple((a, b) for a, b, _ in rows),
        row_kinds=tuple(kind for _, _, kind in rows),
    )
    changes = tables.table(
        "replan changes",
        "What to change",
        [
            ("service", tables.TEXT),
            ("partnership", tables.TEXT),
            ("change", tables.TEXT),
            ("annual saving", tables.MONEY),
            ("one-off cost", tables.MONEY),
            ("npv over the remaining years", tables.MONEY),
            ("note", tables.TEXT),
        ],
        [
            (
                c.service,
                " + ".join(c.members),
                c.action,
                c.annual_saving,
                c.one_off,
                c.npv,
                c.note,
            )
            for c in replan.changes
        ],
    )
    return [summary, changes]


def tracking_tables(found: Tracking) -> list[tables.Table]:
    """Every table of a tracking, for formats that hold many (a workbook's sheets)."""
    found_tables = [
        summary_table(found),
        tables.table(
            "findings", "Findings", [("finding", tables.TEXT)], [(s,) for s in findings(found)]
        ),
        partnerships_table(found),
        members_table(found),
        shares_table(found),
        years_table(found),
    ]
    if found.replan is not None:
        found_tables += replan_tables(found.replan)
    return found_tables


def render(found: Tracking, fmt: str = "table") -> str:
    """`found` in `fmt`: table, markdown, json, csv or html."""
    if fmt == "json":
        return json.dumps(to_dict(found), indent=2) + "\n"
    if fmt == "csv":
        return _csv(found)
    if fmt == "html":
        return tracking_page(found)
    tablefmt = "github" if fmt == "markdown" else "simple"
    markdown = tablefmt == "github"
    heading = ("## " if markdown else "") + printable(
        f"{found.plan.consortium}: tracked to {found.calendar.as_of.isoformat()} ({_ended(found)})"
    )
    parts = [heading, ""]
    parts += [("- " if markdown else "") + printable(s) for s in findings(found)]
    for t in tracking_tables(found):
        if t.name == "findings":
            continue
        title = ("### " if markdown else "") + t.title
        parts += ["", title, "", typed_table(t, tablefmt)]
    return "\n".join(parts) + "\n"


def _spread(value) -> dict[str, float] | None:
    return None if value is None else dict(value)


def _partnership_dict(p: PartnershipTracking) -> dict[str, Any]:
    trend = p.trend
    return {
        "service": p.plan.service,
        "members": list(p.plan.members),
        "status": p.status,
        "reasons": list(p.reasons),
        "planned_to_date": pennies(p.planned_to_date),
        "realised_to_date": pennies(p.realised_to_date),
        "variance_to_date": pennies(p.variance_to_date),
        "delivered": None if p.delivered is None else round(p.delivered, 6),
        "trend": {
            "years": list(trend.years),
            "slope": None if trend.slope is None else pennies(trend.slope),
            "direction": trend.direction,
        },
        "plan_npv": pennies(p.plan.npv),
        "forecast_npv": pennies(p.forecast_npv),
        "forecast_draws": _spread(p.spread),
        "missing_years": list(p.missing),
        "dissolved": None
        if p.dissolved is None
        else {
            "year": p.dissolved.year,
            "exit_cost": pennies(p.dissolved.exit_cost),
            "date": None if p.dissolved.date is None else p.dissolved.date.isoformat(),
            "note": p.dissolved.note,
        },
        "years": [
            {
                "year": y.year,
                "first_day": y.first_day,
                "last_day": y.last_day,
                "kind": y.kind,
                "planned": pennies(y.planned),
                "realised": None if y.realised is None else pennies(y.realised),
                "variance": None if y.variance is None else pennies(y.variance),
                "ratio": None if y.ratio is None else round(y.ratio, 6),
                "used": pennies(y.used),
                "discount_factor": y.discount_factor,
                "discounted": pennies(y.discounted),
                "exit_cost": pennies(y.exit_cost),
                "contributions": y.contributions,
                "date": y.date or None,
                "note": y.note,
            }
            for y in p.years
        ],
        "member_shares": {
            s.member: {
                "share": round(s.share, 6),
                "planned_to_date": pennies(s.planned_to_date),
                "realised_to_date": pennies(s.realised_to_date),
                "variance_to_date": pennies(s.variance_to_date),
                "plan_npv": pennies(s.plan_npv),
                "forecast_npv": pennies(s.forecast_npv),
                "contribution_years": list(s.contribution_years),
                "negative": s.negative,
            }
            for s in p.members
        },
    }


def replan_dict(replan: Replan) -> dict[str, Any]:
    return {
        "from_year": replan.from_year,
        "from_date": replan.from_date,
        "remaining_years": replan.remaining_years,
        "status": replan.status,
        "gap": replan.gap,
        "exit_share": replan.exit_share,
        "message": replan.message,
        "continue_npv": pennies(replan.continue_npv),
        "replan_npv": None if replan.replan_npv is None else pennies(replan.replan_npv),
        "difference": None if replan.difference is None else pennies(replan.difference),
        "changes": [
            {
                "service": c.service,
                "members": list(c.members),
                "change": c.action,
                "annual_saving": None if c.annual_saving is None else pennies(c.annual_saving),
                "one_off": None if c.one_off is None else pennies(c.one_off),
                "npv": pennies(c.npv),
                "note": c.note,
            }
            for c in replan.changes
        ],
    }


def to_dict(found: Tracking) -> dict[str, Any]:
    """The tracking as JSON (`docs/tracking.md` lists every key)."""
    plan, calendar = found.plan, found.calendar
    data: dict[str, Any] = {
        "consortium": plan.consortium,
        "plan": {
            "source": plan.source,
            "sharedsvc_version": plan.version,
            "consortium_sha256": plan.sha256,
            "horizon_years": plan.horizon_years,
            "npv": pennies(plan.npv),
        },
        "actuals": {"source": found.actuals.source, "start": calendar.start.isoformat()},
        "as_of": calendar.as_of.isoformat(),
        "last_year_ended": calendar.last_ended,
        "threshold": found.threshold,
        "tolerance": found.tolerance,
        "totals": {
            "planned_to_date": pennies(found.planned_to_date),
            "realised_to_date": pennies(found.realised_to_date),
            "variance_to_date": pennies(found.variance_to_date),
            "delivered": None if found.delivered is None else round(found.delivered, 6),
            "plan_npv": pennies(found.plan_npv),
            "forecast_npv": pennies(found.forecast_npv),
            "forecast_draws": _spread(found.spread),
        },
        "partnerships": [_partnership_dict(p) for p in found.partnerships],
        "members": {
            m.member: {
                "partnerships": list(m.partnerships),
                "planned_to_date": pennies(m.planned_to_date),
                "realised_to_date": pennies(m.realised_to_date),
                "variance_to_date": pennies(m.variance_to_date),
                "plan_npv": pennies(m.plan_npv),
                "forecast_npv": pennies(m.forecast_npv),
                "negative": m.negative,
            }
            for m in found.members
        },
        "at_risk": [p.label for p in found.at_risk],
        "negative_gains": [
            {
                "service": p.plan.service,
                "members": list(p.plan.members),
                "member": s.member,
                "forecast_npv": pennies(s.forecast_npv),
            }
            for p, s in found.negative_gains
        ],
        "findings": findings(found),
    }
    if found.draws:
        data["draws"] = {"draws": found.draws, "seed": found.seed}
    if found.replan is not None:
        data["replan"] = replan_dict(found.replan)
    return data


CSV_COLUMNS = (
    "service",
    "partnership",
    "level",
    "member",
    "year",
    "first_day",
    "last_day",
    "kind",
    "planned",
    "realised",
    "variance",
    "used",
    "discounted",
    "status",
    "planned_to_date",
    "realised_to_date",
    "variance_to_date",
    "plan_npv",
    "forecast_npv",
    "note",
)
"""One row per partnership, year and level: the partnership's row, then one per member
with the member's part; the last columns repeat the row's level's totals, so that rows
filtered or pivoted never lose them."""


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _csv(found: Tracking) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in found.partnerships:
        label = _members(p)
        shares = {s.member: s for s in p.members}
        for y in p.years:
            period = [y.year, y.first_day, y.last_day, y.kind]
            writer.writerow(
                [
                    p.plan.service,
                    label,
                    "partnership",
                    "",
                    *period,
                    _number(y.planned),
                    _number(y.realised),
                    _number(y.variance),
                    _number(y.used),
                    _number(y.discounted),
                    p.status,
                    _number(p.planned_to_date),
                    _number(p.realised_to_date),
                    _number(p.variance_to_date),
                    _number(p.plan.npv),
                    _number(p.forecast_npv),
                    y.note,
                ]
            )
            for member in p.plan.members:
                s = shares[member]
                realised = None if y.members_realised is None else y.members_realised[member]
                planned = y.members_planned[member]
                used = y.members_used[member]
                writer.writerow(
                    [
                        p.plan.service,
                        label,
                        "member",
                        member,
                        *period,
                        _number(planned),
                        _number(realised),
                        _number(None if realised is None else realised - planned),
                        _number(used),
                        _number(used * y.discount_factor),
                        "gain negative" if s.negative else "",
                        _number(s.planned_to_date),
                        _number(s.realised_to_date),
                        _number(s.variance_to_date),
                        _number(s.plan_npv),
                        _number(s.forecast_npv),
                        "",
                    ]
                )
    return out.getvalue()


def tracking_section(found: Tracking) -> str:
    """The tracking as an HTML fragment: the findings, a chart of the forecast's cash
    flow (realised where known) and every table. A page of its own (`tracking_page`)
    or a section of the committee report (`html.render_html(sections=...)`)."""
    items = "".join(f"<li>{esc(s)}</li>" for s in findings(found))
    body = f"<h3>Findings</h3><ul>{items}</ul>"
    flows = [0.0] * (found.plan.horizon_years + 1)
    for p in found.partnerships:
        for y in p.years:
            flows[y.year] += y.discounted
    body += svg.cash_flow_chart(
        flows,
        list(accumulate(flows)),
        payback=payback_year(flows),
        svg_id="tracking-cash-flow",
        title="The forecast's discounted cash flow by year: realised where known",
    )
    body += (
        '<p class="note">Bars: each year\'s discounted cash flow as the forecast counts it '
        "(realised where known, the plan's figures elsewhere); line: their running total.</p>"
    )
    body += tables_html([t for t in tracking_tables(found) if t.name != "findings"])
    return body


def tracking_page(found: Tracking) -> str:
    """A self-contained HTML page of the tracking, in the committee report's style."""
    title = f"Tracking: {found.plan.consortium}"
    status = (
        f"tracked to {found.calendar.as_of.isoformat()}; {_ended(found)}; "
        f"{len(found.at_risk)} of {len(found.partnerships)} partnerships at risk"
    )
    flag = " flag" if found.at_risk or found.negative_gains else ""
    heading = f'<p class="status{flag}">{esc(status)}</p>'
    return page(
        title,
        [
            f'<header class="panel heading"><h1>{esc(title)}</h1>{heading}</header>',
            panel("Against the plan", tracking_section(found), "tracking"),
        ],
    )
