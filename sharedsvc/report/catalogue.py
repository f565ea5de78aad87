"""What the installed plugins offer, for `sharedsvc plugins` and the generated docs.

`describe` gathers plugins, cost models (fields, parameters, defaults, sources,
formulas) and rules from a registry; `render` prints that as a table, JSON or
Markdown. `docs/cost-models.md` is this module's Markdown, checked by a test.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

import attrs
from tabulate import tabulate

from sharedsvc.errors import UsageError
from sharedsvc.model.fields import REQUIRED, Field
from sharedsvc.plugins import Registry
from sharedsvc.pricing.costmodel import CostModel
from sharedsvc.pricing.indicators import Indicator, Peers

FORMATS = ("table", "json", "markdown")


def show_default(field: Field) -> str:
    if field.default is REQUIRED:
        return "required"
    if field.default is None:
        return "optional"
    return f"{field.default:g}" if isinstance(field.default, float) else repr(field.default)


def documentation(model: CostModel) -> str:
    """The model's own docstring, else its module's: where its formulas are written."""
    own = type(model).__doc__
    if own and own is not CostModel.__doc__:
        return inspect.cleandoc(own)
    module = sys.modules.get(type(model).__module__)
    return inspect.cleandoc(module.__doc__ or "") if module else ""


def _field(f: Field) -> dict[str, Any]:
    return {
        "name": f.name,
        "type": f.type,
        "unit": f.unit,
        "default": show_default(f),
        "expects": f.expectation(),
        "description": f.description,
        "source": f.source,
    }


def _indicator(i: Indicator) -> dict[str, Any]:
    return {
        "name": i.name,
        "unit": i.unit,
        "better": "higher" if i.higher_is_better else "lower",
        "per": i.per,
        "description": i.description,
        "peers": [attrs.asdict(p) for p in i.peers],
    }


def _peer_text(described: dict[str, Any]) -> str:
    """One source's figures in words, from `describe`'s form of its `Peers`."""
    peers = Peers(**described)
    figures = ", ".join(f"{label} {value:,.2f}" for label, value in peers.figures())
    return f"{figures} ({peers.population}): {peers.source}"


def describe(registry: Registry) -> dict[str, Any]:
    return {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "builtin": p.builtin,
                "cost_models": list(p.cost_models),
                "rules": list(p.rules),
            }
            for p in registry.plugins
        ],
        "cost_models": {
            name: {
                "plugin": registry.owner_of_model(name),
                "summary": model.summary,
                "documentation": documentation(model),
                "member_fields": [_field(f) for f in model.member_fields],
                "parameters": [_field(f) for f in model.parameters],
                "indicators": [_indicator(i) for i in model.indicators],
            }
            for name, model in sorted(registry.cost_models.items())
        },
        "rules": {
            key: {
                "plugin": registry.owners[("rule", key)],
                "summary": rule.summary,
                "expects": rule.expects,
            }
            for key, rule in sorted(registry.rules.items())
        },
        "failures": [{"name": f.name, "reason": f.reason} for f in registry.failures],
    }


def render(data: dict[str, Any], fmt: str = "table", only: str | None = None) -> str:
    """Everything, or with `only` one cost model or rule with its full documentation."""
    if only is not None:
        data = _only(data, only)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    markdown = fmt == "markdown"
    out: list[str] = []
    if only is None and not markdown:
        rows = [
            [
                p["name"],
                p["distribution"],
                p["version"],
                ", ".join(p["cost_models"]) or "-",
                ", ".join(p["rules"]) or "-",
            ]
            for p in data["plugins"]
        ]
        out += [tabulate(rows, ["plugin", "distribution", "version", "cost models", "rules"]), ""]
    for name, model in data["cost_models"].items():
        out += _model(name, model, markdown, full=markdown or only is not None)
    if data["rules"]:
        rows = [[key, r["expects"], r["summary"], r["plugin"]] for key, r in data["rules"].items()]
        out += ["## Rules ([constraints] keys)" if markdown else "rules ([constraints] keys):", ""]
        out += [_table(rows, ["key", "expects", "meaning", "plugin"], markdown), ""]
    if data["failures"]:
        out += ["failed to load:"] + [f"  {f['name']}: {f['reason']}" for f in data["failures"]]
    return "\n".join(out).rstrip() + "\n"


def _only(data: dict[str, Any], name: str) -> dict[str, Any]:
    models = {k: v for k, v in data["cost_models"].items() if k == name}
    rules = {k: v for k, v in data["rules"].items() if k == name}
    if not models and not rules:
        known = ", ".join(sorted([*data["cost_models"], *data["rules"]]))
        raise UsageError(f"no cost model or rule named {name!r}; installed: {known}")
    return {**data, "cost_models": models, "rules": rules, "failures": []}


def _table(rows, headers, markdown: bool) -> str:
    return tabulate(
        rows, headers, tablefmt="github" if markdown else "simple", disable_numparse=True
    )


def _model(name: str, model: dict[str, Any], markdown: bool, full: bool) -> list[str]:
    heading = f"cost model {name} (plugin {model['plugin']}): {model['summary']}"
    out = [f"## `{name}`" if markdown else heading, ""]
    if markdown:
        out += [f"{model['summary']} (plugin `{model['plugin']}`)", ""]
    if full and model["documentation"]:
        doc = model["documentation"]
        out += (["```text", doc, "```"] if markdown else [doc]) + [""]
    for title, key in (("Member fields", "member_fields"), ("Parameters", "parameters")):
        if model[key]:
            rows = [
                [f["name"], f["expects"], f["default"], f["source"] or f["description"]]
                for f in model[key]
            ]
            out += [f"### {title}" if markdown else f"  {title.lower()}:", ""]
            table = _table(rows, ["name", "expects", "default", "source / meaning"], markdown)
            out += [table if markdown else "\n".join("    " + line for line in table.splitlines())]
            out += [""]
    if model.get("indicators"):
        rows = [
            [
                i["name"],
                i["unit"],
                i["better"],
                "; ".join(_peer_text(p) for p in i["peers"]) or "none published: members only",
            ]
            for i in model["indicators"]
        ]
        out += ["### Benchmark indicators" if markdown else "  benchmark indicators:", ""]
        table = _table(rows, ["indicator", "unit", "better", "peer figures (source)"], markdown)
        out += [table if markdown else "\n".join("    " + line for line in table.splitlines())]
        out += [""]
    return out


REFERENCE_HEADER = """\
# Cost models and rules

The reference for the built-in cost models: their formulas, member fields, parameters,
defaults and the source of every default. Where no published figure exists, the source
column says so. This page is generated from the models themselves; after changing a
model, regenerate it with

    sharedsvc plugins --reference > docs/cost-models.md

A test fails while it is out of date.

"""


def reference_markdown(registry: Registry) -> str:
    return REFERENCE_HEADER + render(describe(registry), "markdown")
