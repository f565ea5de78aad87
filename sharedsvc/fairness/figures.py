"""Each member's share of the cash: annual saving, one-off cost and payback year.

A rule allocates a group's npv. A member's cash flows are taken to be the same
fraction of the group's as its share of the npv (share / npv): it pays that
fraction of the one-off cost and receives that fraction of the annual saving,
so its own npv is exactly its share. Where a group's npv is zero, so that no
fraction is defined, the one-off cost is split in proportion to standalone cost
(equally if those are all zero) and the annual saving is what makes the
member's npv its share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sharedsvc.appraisal.allocation import proportional

NEGLIGIBLE = 1e-9


def split_cash(
    shares: Sequence[float],
    npv: float,
    saving: float,
    transition: float,
    standalone: Sequence[float],
    weights: tuple[float, float, float],
) -> list[tuple[float, float, float]]:
    """(annual saving, one-off cost, standalone cost) of each member of a group, in
    `shares`' order, such that each member's npv (`CashFlowProfile.weights`) is its share."""
    a, b, c = weights
    total = math.fsum(standalone)
    if abs(npv) > NEGLIGIBLE * max(1.0, abs(saving) * a, transition * c, total * b):
        return [(saving * s / npv, transition * s / npv, total * s / npv) for s in shares]
    costs = proportional(transition, standalone)
    return [
        ((s + b * own + c * cost) / a if a > 0 else 0.0, cost, own)
        for s, own, cost in zip(shares, standalone, costs, strict=True)
    ]
