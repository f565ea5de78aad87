"""What a simulation found, as JSON, tables, CSV or Markdown. Statistics only; no pricing."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

import numpy as np

from sharedsvc.report.text import money, printable
from sharedsvc.report.text import table as _table
from sharedsvc.uncertainty.simulate import Simulation


def spread(values: np.ndarray) -> dict[str, float]:
    """Mean and the 5th, 50th and 95th percentiles, in pounds to the penny."""
    if not len(values):
        return {"mean": 0.0, "p5": 0.0, "p50": 0.0, "p95": 0.0}
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return {
        "mean": round(float(np.mean(values)), 2) + 0.0,
        "p5": round(float(p5), 2) + 0.0,
        "p50": round(float(p50), 2) + 0.0,
        "p95": round(float(p95), 2) + 0.0,
    }


def positive(values: np.ndarray) -> float:
    """The share of draws in which the value is above zero."""
    return round(float(np.mean(values > 0)), 6) if len(values) else 0.0


def to_dict(sim: Simulation) -> dict[str, Any]:
    services: dict[str, Any] = {s.service: {"groups": []} for s in sim.result.services}
    for k, (service, members) in enumerate(sim.plan.groups):
        column = sim.groups[:, k]
        services[service]["groups"].append(
            {"members": list(members), "npv": spread(column), "p_positive": positive(column)}
        )
    members = {
        m: {"npv": spread(sim.members[:, i]), "p_positive": positive(sim.members[:, i])}
        for i, m in enumerate(sim.plan.members)
    }
    extra = {}
    again = sim.reoptimised
    if again is not None:
        draws = sim.draws  # a draw with no plan chooses no partnership
        for service in services:
            chosen = Counter(
                " + ".join(members) for plan in again.plans for s, members in plan if s == service
            )
            services[service]["chosen_share"] = {
                group: round(n / draws, 6) for group, n in sorted(chosen.items())
            }
        frequency = Counter(again.plans)

        def described(plan):
            return {
                "groups": [{"service": s, "members": list(m)} for s, m in plan],
                "frequency": round(frequency[plan] / draws, 6),
                "expected_npv": round(again.expected[plan], 2),
            }

        extra["reoptimised"] = {
            "npv": spread(again.totals[~np.isnan(again.totals)]),
            "infeasible_draws": int(np.isnan(again.totals).sum()),
            "plans": [described(p) for p in again.expected],
            "best_in_expectation": described(again.best_in_expectation) if again.expected else None,
        }
    counts = Counter("never" if y is None else str(y) for y in sim.paybacks)
    order = sorted((k for k in counts if k != "never"), key=int) + (
        ["never"] if "never" in counts else []
    )
    return {
        "consortium": sim.result.consortium,
        "draws": sim.draws,
        "seed": sim.seed,
        "inputs": list(sim.inputs),
        "central": {
            "npv": round(sim.result.totals["npv"], 2) + 0.0,
            "status": sim.result.status.value,
        },
        "totals": {"npv": spread(sim.totals), "p_positive": positive(sim.totals)},
        "services": services,
        "members": members,
        "payback_years": {k: round(counts[k] / sim.draws, 6) for k in order},
        "tornado": [
            {
                "input": s.input,
                "p10": s.p10,
                "p90": s.p90,
                "npv_at_p10": round(s.low, 2),
                "npv_at_p90": round(s.high, 2),
                "swing": round(s.swing, 2),
            }
            for s in sim.tornado
        ],
        "switching_values": [
            {
                "input": s.input,
                "central": s.central,
                "switching_value": s.value,
                "change_percent": None if s.change_percent is None else round(s.change_percent, 2),
            }
            for s in sim.switching
        ],
        **extra,
    }


def render(sim: Simulation, fmt: str = "table") -> str:
    data = to_dict(sim)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    if fmt == "csv":
        return _csv(data)
    tablefmt = "github" if fmt == "markdown" else "simple"
    heading = ("## " if tablefmt == "github" else "") + printable(
        f"{data['consortium']}: {sim.draws:,} draws, seed {sim.seed} "
        f"(plan optimised at the central values: npv {money(data['central']['npv'])})"
    )
    total = data["totals"]
    rows = [
        [
            "total",
            money(total["npv"]["mean"]),
            money(total["npv"]["p5"]),
            money(total["npv"]["p50"]),
            money(total["npv"]["p95"]),
            f"{total['p_positive']:.1%}",
        ]
    ]
    for service, body in data["services"].items():
        for group in body["groups"]:
            npv = group["npv"]
            rows.append(
                [
                    f"{service}: " + " + ".join(group["members"]),
                    money(npv["mean"]),
                    money(npv["p5"]),
                    money(npv["p50"]),
                    money(npv["p95"]),
                    f"{group['p_positive']:.1%}",
                ]
            )
    headers = ["npv", "mean", "P5", "P50", "P95", "P(npv > 0)"]
    member_rows = [
        [
            m,
            money(v["npv"]["mean"]),
            money(v["npv"]["p5"]),
            money(v["npv"]["p95"]),
            f"{v['p_positive']:.1%}",
        ]
        for m, v in data["members"].items()
    ]
    parts = [heading, "", _table(rows, headers, tablefmt), ""]
    parts += [_table(member_rows, ["member", "mean", "P5", "P95", "P(npv > 0)"], tablefmt), ""]
    payback = [[year, f"{share:.1%}"] for year, share in data["payback_years"].items()]
    parts += [_table(payback, ["payback year", "share of draws"], tablefmt), ""]
    if data["tornado"]:
        tornado = [
            [t["input"], money(t["npv_at_p10"]), money(t["npv_at_p90"]), money(t["swing"])]
            for t in data["tornado"][:10]
        ]
        parts += [
            _table(tornado, ["input (P10 to P90)", "npv at P10", "npv at P90", "swing"], tablefmt),
            "",
        ]
        switching = [
            [
                s["input"],
                f"{s['central']:,.4g}",
                "none in range" if s["switching_value"] is None else f"{s['switching_value']:,.4g}",
                "" if s["change_percent"] is None else f"{s['change_percent']:+.1f}%",
            ]
            for s in data["switching_values"]
        ]
        parts += [
            _table(switching, ["input", "central", "npv = 0 at", "change"], tablefmt),
            "",
        ]
    else:
        parts += ["No input is given as a distribution, so every draw is the central plan.", ""]
    again = data.get("reoptimised")
    if again:
        shares = [
            [service, group, f"{share:.1%}"]
            for service, body in data["services"].items()
            for group, share in body.get("chosen_share", {}).items()
        ]
        parts += [
            printable(
                f"Re-optimised for each draw: optimum npv mean {money(again['npv']['mean'])}, "
                f"P5 {money(again['npv']['p5'])}, P95 {money(again['npv']['p95'])}."
            ),
            "",
            _table(shares, ["service", "partnership", "chosen in"], tablefmt),
            "",
        ]
        best = again["best_in_expectation"] or {"groups": [], "frequency": 0.0, "expected_npv": 0.0}
        groups = "; ".join(f"{g['service']}: {' + '.join(g['members'])}" for g in best["groups"])
        parts += [
            printable(
                f"Best plan in expectation (chosen in {best['frequency']:.1%} of draws, mean npv "
                f"{money(best['expected_npv'])} over all draws): {groups or 'everyone alone'}."
            ),
            "",
        ]
    return "\n".join(parts)


def _csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["what", "service", "members", "mean", "p5", "p50", "p95", "p_positive"])

    def row(what, service, members, body):
        npv = body["npv"]
        writer.writerow(
            [
                what,
                service,
                members,
                npv["mean"],
                npv["p5"],
                npv["p50"],
                npv["p95"],
                body["p_positive"],
            ]
        )

    row("total", "", "", data["totals"])
    for service, body in data["services"].items():
        for group in body["groups"]:
            row("group", service, " ".join(group["members"]), group)
    for member, body in data["members"].items():
        row("member", "", member, body)
    return out.getvalue()
