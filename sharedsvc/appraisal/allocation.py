"""Who gets what: the allocation rules, all computed from one coalition-value function.

A `CoalitionGame` gives v(S) for any coalition S of a service's sharers (index
tuples): the best partition of S into groups that could form (zero for one
member). The `shapley` rule and the fair-shares checks (`sharedsvc.fairness`) read
that one definition. An `Allocator` applies the consortium's rule to a chosen group, and
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
    """v(S) for coalitions of one service's sharers: the best partition of S into groups
    that could form on their own, zero for one member.

    `price` takes coalitions of two or more (ascending index tuples) and returns
    their npv as one group; `allowed` says whether a coalition could form as one
    group at all (`pricing/coalitions.py`). Where every subset is allowed and npv is
    superadditive, v(S) is simply npv(S); where forming S whole is forbidden or
    worth less than splitting it, v(S) is what S gets by splitting.
    """

    def __init__(
        self,
        price: Callable[[Sequence[Coalition]], np.ndarray],
        allowed: Callable[[Coalition], bool] = lambda coalition: True,
    ):
        self._price = price
        self._allowed = allowed
        self._worth: dict[Coalition, float | None] = {}

    def worth(self, coalition: Coalition) -> float | None:
        """npv(S) as one group; None when S could not form as one group."""
        if len(coalition) < 2:
            return 0.0
        if coalition not in self._worth:
            self.prime([coalition])
        return self._worth[coalition]

    def prime(self, coalitions: Iterable[Coalition]) -> None:
        """Price, in one call, every allowed coalition here that is not yet known."""
        missing = [c for c in dict.fromkeys(coalitions) if len(c) >= 2 and c not in self._worth]
        allowed = [c for c in missing if self._allowed(c)]
        if allowed:  # priced first: a model that raises leaves nothing half-remembered
            values = np.asarray(self._price(allowed), dtype=float)
            self._worth.update(zip(allowed, values.tolist(), strict=True))
        self._worth.update((c, None) for c in missing if c not in self._worth)

    def values_within(self, group: Coalition) -> list[float]:
        """v of every sub-coalition of `group`, indexed by bitmask over `group`'s order.

        A dynamic programme over subsets: the member of lowest position joins one
        allowed part, and the rest is split best (3 ** k steps for k members)."""
        size = len(group)
        self.prime(self.subsets(group))
        worth: list[float | None] = [None] * (1 << size)
        for mask in range(1, 1 << size):
            worth[mask] = self.worth(tuple(i for b, i in enumerate(group) if mask >> b & 1))
        best = [0.0] * (1 << size)
        for mask in range(1, 1 << size):
            low = mask & -mask
            rest = mask ^ low
            top = best[rest]  # the lowest member alone
            sub = rest
            while sub:
                part = worth[sub | low]
                if part is not None:
                    value = part + best[rest ^ sub]
                    if value > top:
                        top = value
                sub = (sub - 1) & rest
            best[mask] = top
        return best

    def value(self, coalition: Coalition) -> float:
        """v(S): the best partition of S into groups that could form."""
        return self.values_within(tuple(coalition))[-1] if len(coalition) >= 2 else 0.0

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
        if self.rule.plan_wide:
            # known only once the plan is (`sharedsvc.fairness`); before that, for the
            # figure checks, an equal split: every share has the sign of the group's npv
            return equal(npv, len(group))
        if self.rule == AllocationRule.PROPORTIONAL:
            return proportional(npv, [float(self.weights[i]) for i in group])
        if len(group) > self.max_shapley_size:  # load refuses such files; this guards the API
            raise TooLargeError(
                f"shapley allocation of a {len(group)}-member group would price "
                f"2 ** {len(group)} coalitions; set constraints.max_group_size to "
                f"{self.max_shapley_size} or less, or use another allocation"
            )
        values = self.game.values_within(group)
        values[-1] = npv  # the group itself shares out exactly its own npv
        return shapley(len(group), values.__getitem__)
