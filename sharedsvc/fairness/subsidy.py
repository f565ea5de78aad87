"""The cost of stability: the least subsidy that would let nobody walk away.

The LP relaxation of the service's set-partitioning problem over every group
that could form, max sum npv(T) l_T with each member covered at most once, has
as its dual min sum y_i subject to y(T) >= npv(T) for every T and y >= 0: the
cheapest allocation that no group blocks. By Bondareva–Shapley for coalition
structures, the plan's value can be split stably exactly when it reaches that
LP bound; otherwise the difference, LP bound minus plan value, is the smallest
total subsidy that makes some split stable. The dual is solved here by row
generation: start from the plan's groups, add the most violated groups, repeat.
"""

from __future__ import annotations

import attrs
import numpy as np

from sharedsvc.fairness.lp import RowLp
from sharedsvc.fairness.separation import tolerance
from sharedsvc.pricing.coalitions import GameGroups

ROWS_PER_ROUND = 200
"""Most violated groups added per round of row generation."""


@attrs.frozen(kw_only=True)
class StableFloor:
    """The LP bound of a service and the cheapest allocation that no group blocks."""

    bound: float
    shares: np.ndarray


def cheapest_unblocked(game: GameGroups, sharers: int, start: list[int]) -> StableFloor:
    """min sum y s.t. y(T) >= npv(T) for every group T of `game`, y >= 0.

    `start` are positions in `game` to begin with (the plan's groups)."""
    if sharers == 0 or not len(game):
        return StableFloor(bound=0.0, shares=np.zeros(sharers))
    scale = max(1.0, float(np.abs(game.npv).max()))
    lp = RowLp(costs=np.ones(sharers), lower=np.zeros(sharers), upper=np.full(sharers, np.inf))
    added = np.zeros(len(game), dtype=bool)
    limit = tolerance(game) / scale
    npv = game.npv / scale

    def add(rows: np.ndarray) -> None:
        added[rows] = True
        lp.add_rows(
            [game.members(int(r)) for r in rows],
            [np.ones(int(game.groups.sizes[r])) for r in rows],
            npv[rows],
            np.full(len(rows), lp.infinity),
        )

    first = np.unique(np.asarray(start, dtype=np.int64))
    best = np.argsort(-npv, kind="stable")[:ROWS_PER_ROUND]
    add(np.union1d(first, best))
    while True:
        y, _ = lp.solve()
        gap = npv - game.totals(y)
        gap[added] = -np.inf
        violated = np.flatnonzero(gap > limit)
        if not len(violated):
            break
        add(violated[np.argsort(-gap[violated], kind="stable")[:ROWS_PER_ROUND]])
    y = np.maximum(y, 0.0) * scale
    return StableFloor(bound=float(y.sum()), shares=y)
