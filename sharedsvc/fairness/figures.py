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

from collections.abc import Sequence

from sharedsvc.appraisal.allocation import proportional

NEGLIGIBLE = 1e-9


def split_cash(
    shares: Sequence[float],
    npv: float,
    saving: float,
    transition: float,
    weights: Sequence[float],
    annuity: float,
) -> list[tuple[float, float]]:
    """(annual saving, one-off cost) of each member of a group, in `shares`' order."""
    if abs(npv) > NEGLIGIBLE * max(1.0, abs(saving) * annuity, transition):
        return [(saving * s / npv, transition * s / npv) for s in shares]
    costs = proportional(transition, weights)
    return [
        ((s + c) / annuity if annuity > 0 else 0.0, c) for s, c in zip(shares, costs, strict=True)
    ]
