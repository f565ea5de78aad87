"""Money over time and fair shares: annuity, NPV and the allocation rules.

Discounting follows HM Treasury's Green Book: a constant real rate (3.5% by
default) applied to each year's saving at the end of years 1..horizon; one-off
transition costs fall at the start (year 0) and are not discounted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

ALLOCATION_RULES = ("proportional", "equal", "shapley")


def annuity(horizon_years: int, discount_rate: float) -> float:
    """Present value of £1 a year for `horizon_years` years: sum of (1 + r) ** -t, t = 1..h."""
    return sum((1.0 + discount_rate) ** -t for t in range(1, horizon_years + 1))


def npv(annual_saving: float, transition_cost: float, annuity_factor: float) -> float:
    return annual_saving * annuity_factor - transition_cost


def allocate_equal(value: float, size: int) -> list[float]:
    return [value / size] * size


def allocate_proportional(value: float, weights: Sequence[float]) -> list[float]:
    """Shares in proportion to `weights` (standalone costs); equal if they are all zero."""
    total = math.fsum(weights)
    if total <= 0:
        return allocate_equal(value, len(weights))
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
