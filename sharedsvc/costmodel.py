"""What a cost-model plugin is: its declared fields and parameters, and how it prices.

A cost model answers three questions for a service: what a member spends alone
(`standalone_cost`), what a group would spend a year (`group_running_cost`) and
what forming the group costs once (`group_transition_cost`). The engine derives
saving and NPV from those; a model never discounts. `price_groups` prices many
groups at once and is the hot path: override it with array code when it matters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from sharedsvc.consortium import Member

REQUIRED = attrs.make_class("Required", (), repr=False)()
"""Marks a field without a default: the user must give it."""

LARGEST_NUMBER = 1e15
"""No volume, cost or parameter may exceed this (a quadrillion): larger is a typo."""

_TYPE_WORDS = {"number": "a number", "integer": "a whole number", "boolean": "true or false"}


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
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) < 40 else repr(value[:37] + "...")
    if isinstance(value, int | float):
        return repr(value)
    return f"a {type(value).__name__}"


@attrs.frozen(kw_only=True)
class Participant:
    """What a cost model sees of a member taking part: who it is and its fields."""

    member: Member
    fields: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class FlatGroups:
    """Groups laid end to end, for summing per-member arrays per group with numpy.

    `members` lists every group's member indices in turn; group g's run starts at
    `starts[g]` and is `sizes[g]` long, so `np.add.reduceat(x[members], starts)`
    sums `x` over each group.
    """

    members: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, groups: Sequence[Sequence[int]]) -> FlatGroups:
        sizes = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
        members = np.fromiter(
            (i for g in groups for i in g), dtype=np.int64, count=int(sizes.sum())
        )
        return cls(
            members=members, starts=np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes=sizes
        )

    def sum(self, per_member: np.ndarray) -> np.ndarray:
        """Sum of a per-member array over each group's members (groups must not be empty)."""
        return np.add.reduceat(per_member[self.members], self.starts)


@attrs.frozen(kw_only=True)
class GroupPrices:
    """Figures for many groups at once, one array entry per group."""

    running: np.ndarray
    """Pounds a year the group spends once shared (>= 0)."""
    transition: np.ndarray
    """One-off pounds to form the group (>= 0)."""
    income: np.ndarray | None = None
    """Pounds a year of added income that sharing brings (recoveries); None means none."""


class CostModel:
    """Base class of cost-model plugins. Subclass, declare, implement, register.

    A group's annual saving is the sum of its members' standalone costs, less
    its running cost, plus any added income. Groups of one save nothing.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    member_fields: ClassVar[tuple[Field, ...]] = ()
    parameters: ClassVar[tuple[Field, ...]] = ()

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        """Pounds a year this member spends on the service alone."""
        raise NotImplementedError

    def group_running_cost(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        """Pounds a year the group spends on the service once shared."""
        raise NotImplementedError

    def group_transition_cost(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        """One-off pounds to form the group (systems, TUPE, programme team)."""
        return 0.0

    def group_added_income(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        """Pounds a year of income the group gains by sharing (fraud recoveries, say)."""
        return 0.0

    def check_participant(
        self, participant: Participant, params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """Problems beyond field types, as (key path below the member, message).

        For example a model that needs distances returns
        ``[("location", "expected { lat = ..., lon = ... }: ...")]`` for a member without one.
        """
        return []

    def price_groups(
        self,
        participants: Sequence[Participant],
        groups: Sequence[Sequence[int]],
        params: Mapping[str, Any],
    ) -> GroupPrices:
        """Figures of many groups, given as index tuples into `participants`.

        The default calls the one-group methods; models override it with array
        code. Must agree with the one-at-a-time methods (`sharedsvc.testing`
        checks this).
        """
        running = np.empty(len(groups))
        transition = np.empty(len(groups))
        income = np.empty(len(groups))
        for g, group in enumerate(groups):
            members = [participants[i] for i in group]
            running[g] = self.group_running_cost(members, params)
            transition[g] = self.group_transition_cost(members, params)
            income[g] = self.group_added_income(members, params)
        return GroupPrices(running=running, transition=transition, income=income)
