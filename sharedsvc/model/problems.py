"""Every problem of an input file at once, each with its key path: what the consortium
loader and the tracking files' readers (`sharedsvc.tracking`) share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sharedsvc.errors import Problem
from sharedsvc.model.fields import Field, show_value
from sharedsvc.wording import unknown_name


def key_path(path: str, key: str | int) -> str:
    """``members.bromley`` from ``members`` and ``bromley``; ``years[2]`` for an index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Collector:
    """Collects the problems of one input, so that a reader reports them all at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def table(self, raw: dict, key: str, path: str, required: bool = False) -> dict:
        """`raw[key]` as a table; {} (and a problem) when it is something else, or is
        missing and `required`."""
        value = raw.get(key)
        if value is None:
            if required:
                self.problem(path, "missing; expected a table")
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {show_value(value)}")
            return {}
        return value

    def unknown_keys(self, table: dict, allowed: Iterable[str], path: str) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                self.problem(key_path(path, key), unknown_name("key", key, allowed))

    def value(self, raw: Any, path: str, field: Field) -> Any:
        """`raw` converted by `field` (`Field.convert`), or None with a problem."""
        converted, error = field.convert(raw)
        if error:
            self.problem(path, error)
            return None
        return converted
