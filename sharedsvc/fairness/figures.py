"""Each member's share of the cash: annual saving, one-off cost and payback year.

A rule allocates a group's npv. Each member pays a share of the one-off cost in
proportion to its standalone cost (equally if those are all zero), carries its own
standalone cost in any double running, and receives the annual saving that makes
its own npv exactly its allocated share: saving_i = (share_i + b standalone_i +
c one_off_i) / a, with npv = a saving - b standalone - c one-off
(`CashFlowProfile.weights`). The members' savings and costs add up to the group's.
(Scaling the group's cash by share / npv instead is unstable: a Shapley or
nucleolus share can be large beside a small npv, and the ratio explodes.)
"""

from __future__ import annotations

from collections.abc import Sequence

from sharedsvc.appraisal.allocation import proportional


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
    costs = proportional(transition, standalone)
    if a <= 0:  # no saving falls within the horizon: split it as the costs are
        savings = proportional(saving, standalone)
        return list(zip(savings, costs, standalone, strict=True))
    return [
        ((s + b * own + c * cost) / a, cost, own)
        for s, own, cost in zip(shares, standalone, costs, strict=True)
    ]
