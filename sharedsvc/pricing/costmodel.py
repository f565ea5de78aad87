"""What a cost-model plugin is: its declared fields and parameters, and how it prices.

A cost model answers three questions for a service: what a member spends alone
(`standalone_cost`), what a group would spend a year (`group_running_cost`) and
what forming the group costs once (`group_transition_cost`). The engine derives
saving and NPV from those; a model never discounts. `price_groups` prices many
groups at once and is the hot path: override it with array code when it matters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from sharedsvc.model.consortium import Participant
from sharedsvc.model.fields import Field
from sharedsvc.pricing.indicators import Indicator, Measure


@attrs.frozen(kw_only=True)
class GroupPrices:
    """Figures for many groups at once, one array entry per group."""

    running: np.ndarray
    """Pounds a year the group spends once shared (>= 0)."""
    transition: np.ndarray
    """One-off pounds to form the group (>= 0)."""
    income: np.ndarray | None = None
    """Pounds a year of added cash income that sharing brings; None means none."""
    non_cashable: np.ndarray | None = None
    """Pounds a year of value that is not cash (fraud detected or prevented, costs
    avoided); None means none. Reported apart, and counted in the saving at the
    consortium's `count_non_cashable` fraction (`docs/appraisal.md`)."""


class CostModel:
    """Base class of cost-model plugins. Subclass, declare, implement, register.

    A group's annual saving is the sum of its members' standalone costs, less
    its running cost, plus any added income. Groups of one save nothing.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    member_fields: ClassVar[tuple[Field, ...]] = ()
    parameters: ClassVar[tuple[Field, ...]] = ()
    indicators: ClassVar[tuple[Indicator, ...]] = ()
    """What `measure` reports about each member, for `sharedsvc benchmark`: unit costs
    (with the volume they are per) and other indicators, with peer figures and sources."""

    def measure(self, participant: Participant, params: Mapping[str, Any]) -> Mapping[str, Measure]:
        """This member's value of each declared indicator, by name (an indicator it
        cannot measure is left out). The default measures nothing."""
        return {}

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

    def group_non_cashable(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        """Pounds a year of non-cash value the group adds by sharing (fraud detected, say)."""
        return 0.0

    def running_parts(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> Mapping[str, float]:
        """Named parts of the group's running cost worth seeing apart, pounds a year, such
        as ``{"coordination": 45000.0}``: `sharedsvc explain` then says "coordination cost
        £45,000 a year outweighs the rest of the saving, £30,000". The default names none."""
        return {}

    def check_participant(
        self, participant: Participant, params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """Problems beyond field types, as (key path below the member, message).

        For example a model that needs distances returns
        ``[("location", "expected { lat = ..., lon = ... }: ...")]`` for a member without one.
        """
        return []

    def check_parameters(
        self, params: Mapping[str, Any], members: Sequence[str]
    ) -> list[tuple[str, str]]:
        """Problems of the service's parameters beyond their types, as (key path below
        the service, message); `members` are the ids of everyone taking part.

        For example a model whose parameter lists groups returns
        ``[("groups[0].members[1]", "unknown member 'x'")]``.
        """
        return []

    def allowed_groups(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> Sequence[Sequence[int]] | None:
        """The only groups this model can price, as index tuples into `participants`;
        None (the default) means any group. A model priced from a list of known groups
        (`table`) returns them, and no other group is ever formed or priced."""
        return None

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
        figures = []
        for group in groups:
            members = [participants[i] for i in group]
            figures.append(
                (
                    self.group_running_cost(members, params),
                    self.group_transition_cost(members, params),
                    self.group_added_income(members, params),
                    self.group_non_cashable(members, params),
                )
            )
        # object arrays keep each value as the model returned it, for the engine to check
        columns = [np.array([f[k] for f in figures], dtype=object) for k in range(4)]
        return GroupPrices(
            running=columns[0], transition=columns[1], income=columns[2], non_cashable=columns[3]
        )
