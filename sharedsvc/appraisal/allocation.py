"""Who gets what: the allocation rules, all computed from one coalition-value function.

A `CoalitionGame` gives v(S) for any coalition S of a service's sharers (index
tuples). Today v(S) is the npv of S formed as one group (zero for one member), the
game the `shapley` rule has always used; the fair-shares work (nucleolus, core,
stability checks) reads the same object, so a new definition of v lands in one
place. An `Allocator` applies the consortium's rule to a chosen group, and
`size_problems` refuses, at load time, a rule that cannot be computed for the
largest group the constraints allow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from sharedsvc.constants import AllocationRule
from sharedsvc.errors import Problem, TooLargeError

Coalition = tuple[int, ...]


class CoalitionGame:
    """v(S) for coalitions of one service's sharers, priced in bulk and remembered.

    `price` takes coalitions of two or more (ascending index tuples) and returns
    their values as an array; coalitions of one are worth zero by definition.
    """

    def __init__(self, price: Callable[[Sequence[Coalition]], np.ndarray]):
        self._price = price
        self._values: dict[Coalition, float] = {}

    def value(self, coalition: Coalition) -> float:
        if len(coalition) < 2:
            return 0.0
        if coalition not in self._values:
            self.prime([coalition])
        return self._values[coalition]

    def prime(self, coalitions: Iterable[Coalition]) -> None:
        """Price, in one call, every coalition here that is not yet known."""
        missing = [c for c in dict.fromkeys(coalitions) if len(c) >= 2 and c not in self._values]
        if missing:
            values = np.asarray(self._price(missing), dtype=float)
            self._values.update(zip(missing, values.tolist(), strict=True))

    def subsets(self, group: Coalition) -> list[Coalition]:
        """Every sub-coalition of `group` of two or more, in bitmask order."""
        return [
            tuple(i for b, i in enumerate(group) if mask >> b & 1)
            for mask in range(1, 1 << len(group))
            if mask.bit_count() >= 2
        ]


def equal(value: float, size: int) -> list[float]:
    return [value / size] * size


def proportional(value: float, weights: Sequence[float]) -> list[float]:
    """Shares in proportion to `weights` (standalone costs); equal if they are all zero."""
    total = math.fsum(weights)
    if total <= 0:
        return equal(value, len(weights))
    return [value * w / total for w in weights]


def shapley(size: int, value_of: Callable[[int], float]) -> list[float]:
    """Shapley values of a `size`-player game; `value_of(mask)` values a coalition bitmask.

    Exact, by enumerating all 2 ** size coalitions; callers keep `size` small.
    """
    values = [0.0] * (1 << size)
    for mask in range(1, 1 << size):
        values[mask] = value_of(mask)
    weight = [
        math.factorial(s) * math.factorial(size - s - 1) / math.factorial(size) for s in range(size)
    ]
    shares = []
    for i in range(size):
        bit = 1 << i
        share = 0.0
        for mask in range(1 << size):
            if not mask & bit:
                share += weight[mask.bit_count()] * (values[mask | bit] - values[mask])
        shares.append(share)
    return shares


def largest_computable(rule: AllocationRule, max_shapley_size: int) -> int | None:
    """The largest group `rule` can share out, or None when any size will do."""
    return max_shapley_size if rule == AllocationRule.SHAPLEY else None


def size_problems(
    rule: AllocationRule, largest_groups: Mapping[str, int], max_shapley_size: int
) -> list[Problem]:
    """A problem at `constraints.allocation` for each service whose largest allowed group
    is too big for `rule`: refused when the file is loaded, not after the solve."""
    limit = largest_computable(rule, max_shapley_size)
    if limit is None:
        return []
    return [
        Problem(
            "constraints.allocation",
            f"{rule} allocation of service {service!r} would price 2 ** {size} coalitions "
            f"for its largest allowed group ({size} members); expected groups of at most "
            f"{limit}: set constraints.max_group_size to {limit} or less, or use another "
            "allocation",
        )
        for service, size in largest_groups.items()
        if size > limit
    ]


class Allocator:
    """Shares out a group's npv among its members under one rule, for one service.

    `weights` are the members' standalone costs (for `proportional`); `game` gives
    coalition values (for `shapley`).
    """

    def __init__(
        self,
        rule: AllocationRule,
        weights: np.ndarray,
        game: CoalitionGame,
        max_shapley_size: int,
    ):
        self.rule = AllocationRule(rule)
        self.weights = weights
        self.game = game
        self.max_shapley_size = max_shapley_size

    def shares(self, group: Coalition, npv: float) -> list[float]:
        """Each member's share of `npv`, in the order of `group`."""
        if self.rule == AllocationRule.EQUAL:
            return equal(npv, len(group))
        if self.rule == AllocationRule.PROPORTIONAL:
            return proportional(npv, [float(self.weights[i]) for i in group])
        if len(group) > self.max_shapley_size:  # load refuses such files; this guards the API
            raise TooLargeError(
                f"shapley allocation of a {len(group)}-member group would price "
                f"2 ** {len(group)} coalitions; set constraints.max_group_size to "
                f"{self.max_shapley_size} or less, or use another allocation"
            )
        self.game.prime(self.game.subsets(group))
        return shapley(
            len(group),
            lambda mask: self.game.value(tuple(i for b, i in enumerate(group) if mask >> b & 1)),
        )
