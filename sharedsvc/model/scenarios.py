"""Named scenarios: overrides of a consortium file kept inside it, as calliope keeps
`scenarios` and `overrides` beside its model.

    [scenarios.with_nhs]
    description = "The NHS trust joins for payments and HR"
    [scenarios.with_nhs.members.nhs_trust]        # a member added
    kind = "nhs"
    ...
    [scenarios.no_bromley.members.bromley.services.payments]
    share = false                                  # a value changed
    [scenarios.leaner]
    remove = ["members.lewisham", "constraints.max_partnerships"]

A scenario's tables are merged into the file's (a table into a table, key by key; any
other value replaces the one below it); then the key paths in `remove` are deleted; a
member removed is also dropped from every `neighbours` list. Several scenarios apply
left to right. The result is validated as any consortium file is, so a problem names
its key path in the merged document and the scenario that made it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sharedsvc.errors import ConsortiumError, Problem
from sharedsvc.model.fields import ID_PATTERN
from sharedsvc.wording import unknown_name

KEY = "scenarios"
BASE = "base"
"""The name of the file without any scenario, in `compare` and in results."""
OVERRIDABLE = ("consortium", "members", "services", "constraints")
SCENARIO_KEYS = ("description", "remove", *OVERRIDABLE)


def split(raw: dict, source: str) -> tuple[dict, dict[str, dict]]:
    """The document without its `[scenarios]` table, and the scenarios by name; a
    `ConsortiumError` when the table is not one of scenario tables."""
    document = {k: v for k, v in raw.items() if k != KEY}
    table = raw.get(KEY, {})
    problems = []
    if not isinstance(table, dict):
        raise ConsortiumError(source, [Problem(KEY, "expected a table of [scenarios.<name>]")])
    for name, body in table.items():
        path = f"{KEY}.{name}"
        if not ID_PATTERN.fullmatch(name):
            problems.append(
                Problem(
                    path,
                    f"scenario name {name!r}: expected lowercase letters, digits, '-' and '_' "
                    "(starting with a letter or digit)",
                )
            )
            continue
        if name == BASE:
            problems.append(Problem(path, f"{BASE!r} names the file without scenarios"))
        elif not isinstance(body, dict):
            problems.append(Problem(path, "expected a table"))
            continue
        for key, value in body.items() if isinstance(body, dict) else ():
            if key not in SCENARIO_KEYS:
                problems.append(Problem(f"{path}.{key}", unknown_name("key", key, SCENARIO_KEYS)))
            elif key == "description" and not isinstance(value, str):
                problems.append(Problem(f"{path}.{key}", "expected text"))
            elif key == "remove" and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                problems.append(Problem(f"{path}.{key}", "expected a list of key paths"))
            elif key in OVERRIDABLE and not isinstance(value, dict):
                problems.append(Problem(f"{path}.{key}", "expected a table"))
    if problems:
        raise ConsortiumError(source, problems)
    return document, table


def description(scenarios: dict[str, dict], name: str) -> str:
    return "" if name == BASE else scenarios[name].get("description", "")


def apply(document: dict, scenarios: dict[str, dict], names: Sequence[str], source: str) -> dict:
    """`document` with the named scenarios applied left to right (a new dict)."""
    merged = copy.deepcopy(document)
    for name in names:
        if name == BASE:
            continue
        if name not in scenarios:
            problem = unknown_name("scenario", name, scenarios)
            raise ConsortiumError(source, [Problem(KEY, problem)])
        body = scenarios[name]
        _merge(merged, {k: v for k, v in body.items() if k in OVERRIDABLE})
        problems = []
        for i, path in enumerate(body.get("remove", [])):
            if not _remove(merged, path):
                where = f"{KEY}.{name}.remove[{i}]"
                problems.append(Problem(where, f"{path!r} is not a key of the file"))
        if problems:
            raise ConsortiumError(source, problems)
    return merged


def _merge(below: dict, above: dict) -> None:
    for key, value in above.items():
        if isinstance(value, dict) and isinstance(below.get(key), dict):
            _merge(below[key], value)
        else:
            below[key] = copy.deepcopy(value)


def _remove(document: dict, path: str) -> bool:
    """Delete the key at a dotted `path`; a member removed leaves every neighbours list."""
    *parents, last = path.split(".")
    table: Any = document
    for part in parents:
        table = table.get(part) if isinstance(table, dict) else None
    if not isinstance(table, dict) or last not in table:
        return False
    del table[last]
    if parents == ["members"]:
        for body in document.get("members", {}).values():
            listed = body.get("neighbours") if isinstance(body, dict) else None
            if isinstance(listed, list) and last in listed:
                body["neighbours"] = [n for n in listed if n != last]
    return True
