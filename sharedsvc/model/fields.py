"""Typed declarations of the values a user gives: member fields and model parameters.

A `Field` says what a value must be (type, unit, bounds), its default and the
source of that default; `convert` turns a raw TOML value into the stored value or
says, in words, why it is wrong. The loader uses it for every number it reads, and
cost models declare their inputs with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from sharedsvc.wording import counted

REQUIRED = attrs.make_class("Required", (), repr=False)()
"""Marks a field without a default: the user must give it."""

LARGEST_NUMBER = 1e15
"""No volume, cost or parameter may exceed this (a quadrillion): larger is a typo."""

_TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "list": "a list",
}


def frozen(value: Any) -> Any:
    """A read-only copy of a TOML value: lists become tuples, tables read-only mappings."""
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    return value


@attrs.frozen(kw_only=True)
class Field:
    """A member field or model parameter: its type, unit, bounds, default and source."""

    name: str
    type: str = "number"
    unit: str = ""
    description: str = ""
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    source: str = ""
    """Where the default comes from (publisher, title, year), for defensible numbers."""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def expectation(self) -> str:
        """Words for what a valid value looks like, for error messages and docs."""
        words = _TYPE_WORDS.get(self.type, self.type)
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        text = words + (" " + " and ".join(bounds) if bounds else "")
        return text + (f" ({self.unit})" if self.unit else "")

    def convert(self, value: Any) -> tuple[Any, str | None]:
        """Return (value as stored, None) or (None, why it is wrong)."""
        if self.type == "list":  # its model checks the entries (`CostModel.check_parameters`)
            if isinstance(value, list):
                return frozen(value), None
            return None, f"expected {self.expectation()}, got {show_value(value)}"
        if self.type == "boolean":
            if isinstance(value, bool):
                return value, None
            return None, f"expected true or false, got {show_value(value)}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"expected {self.expectation()}, got {show_value(value)}"
        if self.type == "integer" and not (isinstance(value, int) or float(value).is_integer()):
            return None, f"expected {self.expectation()}, got {show_value(value)}"
        number = float(value)
        if not math.isfinite(number):
            return None, f"expected {self.expectation()}, got {show_value(value)} (not finite)"
        if abs(number) > LARGEST_NUMBER:
            return (
                None,
                f"expected {self.expectation()}, got {show_value(value)} (implausibly large)",
            )
        low_ok = (
            self.minimum is None
            or number > self.minimum
            or (number == self.minimum and not self.exclusive_minimum)
        )
        if not low_ok or (self.maximum is not None and number > self.maximum):
            return None, f"expected {self.expectation()}, got {show_value(value)}"
        return (int(number) if self.type == "integer" else number), None


def show_value(value: Any) -> str:
    """A value as a message shows it, in the words of the file it came from: text quoted,
    numbers as written, "nothing" for a key that is missing (or null in a JSON file),
    "a table" for a TOML table or JSON object, a short list whole; not Python's words
    (`None`, `dict`) for them."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) < 40 else repr(value[:37] + "...")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        if len(value) <= SHOWN_ITEMS and all(_scalar(v) for v in value):
            return "[" + ", ".join(show_value(v) for v in value) + "]"
        return f"a list of {counted(len(value), 'value')}"
    return f"a {type(value).__name__}"


SHOWN_ITEMS = 4
"""A list this short, of numbers and text, is shown whole in a message."""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""Ids (members, services, scenarios) must match it whole (`fullmatch`): `$` would let a
trailing newline through."""
