"""What the built-in service models share: array pricing by group size, common fields."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sharedsvc import CostModel, Field, GroupPrices, Participant


def by_size(groups: Sequence[Sequence[int]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (positions, members) for each group size: members is a (groups, size) index array."""
    sizes = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    for size in np.unique(sizes):
        positions = np.flatnonzero(sizes == size)
        members = np.array([groups[p] for p in positions], dtype=np.int64).reshape(
            len(positions), size
        )
        yield positions, members


def per_group(
    groups: Sequence[Sequence[int]], compute: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply `compute(members)` to each size batch and gather one value per group."""
    out = np.empty(len(groups))
    for positions, members in by_size(groups):
        out[positions] = compute(members)
    return out


def pooling_factor(own: np.ndarray, exponent: float) -> np.ndarray:
    """(pool / own) ** (exponent - 1) for each member of each group (a row of `own`):
    how a member's unit cost falls when its volume joins the group's pool."""
    return (own.sum(axis=1, keepdims=True) / own) ** (exponent - 1.0)


def beyond_the_largest(values: np.ndarray) -> np.ndarray:
    """For each group, the total of all members but the largest: what moves onto its system."""
    return values.sum(axis=1) - values.max(axis=1)


def pairs(size: int) -> float:
    """Relationships among `size` members: governance effort grows with these."""
    return size * (size - 1) / 2


def coordination_field(default: float) -> Field:
    """The yearly cost of governing each pair of partners: no published figure exists."""
    return Field(
        name="coordination_cost",
        unit="pounds a year per pair of members",
        default=default,
        minimum=0,
        source="planning assumption; no published figure",
    )


def transition_field(default: float) -> Field:
    """The one-off cost of bringing each partner in: no published figure exists."""
    return Field(
        name="transition_cost",
        unit="pounds, once, per partner beyond the first",
        default=default,
        minimum=0,
        source="planning assumption; no published figure",
    )


class ArrayCostModel(CostModel):
    """A cost model written once, for a batch of same-size groups, as array code.

    Subclasses give `arrays` (per-member arrays, computed once per pricing) and
    `running`, and optionally `transition` and `income`, each taking a
    (groups, size) array of member indices. The one-group methods and the bulk
    `price_groups` follow from them, so the two can never disagree.
    """

    def arrays(self, participants: Sequence[Participant], params: Mapping[str, Any]) -> tuple:
        raise NotImplementedError

    def running(self, arrays: tuple, members: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def transition(
        self, arrays: tuple, members: np.ndarray, params: Mapping[str, Any]
    ) -> np.ndarray:
        """Default: `transition_cost` for each partner beyond the first."""
        return np.full(len(members), params["transition_cost"] * (members.shape[1] - 1))

    def income(
        self, arrays: tuple, members: np.ndarray, params: Mapping[str, Any]
    ) -> np.ndarray | None:
        return None

    def non_cashable(
        self, arrays: tuple, members: np.ndarray, params: Mapping[str, Any]
    ) -> np.ndarray | None:
        """Non-cash value a year (fraud detected, costs avoided); None means none."""
        return None

    def running_parts(self, participants, params) -> dict[str, float]:
        """The coordination cost every built-in model adds per pair of partners."""
        k = len(participants)
        return {"coordination": params["coordination_cost"] * pairs(k)}

    def _one(self, method, participants, params) -> float:
        members = np.arange(len(participants))[None, :]
        value = method(self.arrays(participants, params), members, params)
        return 0.0 if value is None else float(value[0])

    def group_running_cost(self, participants, params) -> float:
        return self._one(self.running, participants, params)

    def group_transition_cost(self, participants, params) -> float:
        return self._one(self.transition, participants, params)

    def group_added_income(self, participants, params) -> float:
        return self._one(self.income, participants, params)

    def group_non_cashable(self, participants, params) -> float:
        return self._one(self.non_cashable, participants, params)

    def price_groups(self, participants, groups, params) -> GroupPrices:
        arrays = self.arrays(participants, params)
        running = per_group(groups, lambda members: self.running(arrays, members, params))
        transition = per_group(groups, lambda members: self.transition(arrays, members, params))
        income = None
        if type(self).income is not ArrayCostModel.income:
            income = per_group(groups, lambda members: self.income(arrays, members, params))
        non_cashable = None
        if type(self).non_cashable is not ArrayCostModel.non_cashable:
            non_cashable = per_group(
                groups, lambda members: self.non_cashable(arrays, members, params)
            )
        return GroupPrices(
            running=running, transition=transition, income=income, non_cashable=non_cashable
        )
