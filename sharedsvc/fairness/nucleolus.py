"""The nucleolus of a service's coalition-structure game, by sequential LPs with row generation.

The chosen groups each share out exactly their npv (members alone get zero).
Among those allocations, the nucleolus first makes the largest excess
v(T) - x(T) over every coalition T that could form (the groups of
`GameGroups` and each member alone) as small as it can be; then, holding the
coalitions that are at that level in every optimal allocation, the next
largest; and so on until the allocation is unique. It lies in the core when the
core is not empty (the first level is then <= 0); otherwise in the least core.

Each stage is an LP, min e s.t. x(T) + e >= v(T), solved by row generation: the
excesses of all coalitions are one array pass, and only the most violated rows
enter the LP. The pitfalls of Guajardo & Jörnsten ("Common mistakes in computing
the nucleolus", EJOR 248, 2016) are avoided thus:

- a coalition is fixed at a stage's level only when its row has a positive dual
  (so it is tight in *every* optimal solution), never because it happens to be
  tight in the one HiGHS returned; at least one such row exists at each stage,
  as the duals of the e-column sum to one;
- the stages stop when the fixed rows determine x (their rank), not when a stage
  finds a unique LP solution or when every coalition has been fixed;
- coalitions whose excess is already determined by the fixed rows (a chosen group,
  a union of groups, a combination of fixed coalitions) are left out: they carry
  no information and would hold a stage at a level it could lower.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from sharedsvc.errors import SolverError
from sharedsvc.fairness.lp import RowLp
from sharedsvc.fairness.separation import RELATIVE_TOLERANCE
from sharedsvc.pricing.coalitions import GameGroups

ROWS_PER_ROUND = 200
DUAL_TOLERANCE = 1e-9
DETERMINED = 1e-9
"""A coalition whose excess moves less than this along random feasible directions is fixed."""


@attrs.frozen(kw_only=True)
class Nucleolus:
    shares: np.ndarray
    """Each sharer's share, in pounds."""
    levels: tuple[float, ...]
    """The excess level of each stage, in pounds: the first is the least-core value."""

    @property
    def least_core(self) -> float:
        """The largest excess the best allocation leaves: <= 0 exactly when the core is
        not empty; otherwise what the unhappiest coalition would gain by leaving."""
        return self.levels[0] if self.levels else 0.0


class _Equalities:
    """The equality rows (groups' budgets, members alone, fixed coalitions) over the sharers."""

    def __init__(self, sharers: int):
        self.sharers = sharers
        self.rows: list[np.ndarray] = []

    def add(self, members: Sequence[int]) -> None:
        row = np.zeros(self.sharers)
        row[list(members)] = 1.0
        self.rows.append(row)

    def free_directions(self, rng: np.random.Generator) -> np.ndarray:
        """Two random directions that keep every equality (columns), or none left."""
        if not self.rows:
            return rng.standard_normal((self.sharers, 2))
        matrix = np.vstack(self.rows)
        _, singular, vt = np.linalg.svd(matrix)
        rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0.0))).sum())
        basis = vt[rank:].T
        if basis.shape[1] == 0:
            return np.zeros((self.sharers, 0))
        return basis @ rng.standard_normal((basis.shape[1], 2))


def nucleolus(
    game: GameGroups,
    sharers: int,
    chosen: Sequence[tuple[tuple[int, ...], float]],
) -> Nucleolus:
    """The nucleolus for a plan: `chosen` lists its groups (positions, npv); every other
    sharer is alone and gets zero."""
    shares = np.zeros(sharers)
    if not chosen:
        return Nucleolus(shares=shares, levels=())
    scale = max(1.0, float(np.abs(game.npv).max(initial=0.0)), *(abs(v) for _, v in chosen))
    limit = RELATIVE_TOLERANCE
    npv = game.npv / scale
    grouped = np.zeros(sharers, dtype=bool)
    for members, _ in chosen:
        grouped[list(members)] = True
    column_lower = np.where(grouped, -np.inf, 0.0)
    column_upper = np.where(grouped, np.inf, 0.0)
    e = sharers  # the excess column
    lp = RowLp(
        costs=np.r_[np.zeros(sharers), 1.0],
        lower=np.r_[column_lower, -np.inf],
        upper=np.r_[column_upper, np.inf],
    )
    equalities = _Equalities(sharers)
    for i in np.flatnonzero(~grouped):
        equalities.add([int(i)])
    for members, value in chosen:
        lp.add_rows([list(members)], [np.ones(len(members))], [value / scale], [value / scale])
        equalities.add(members)
    rng = np.random.default_rng(20261202)
    # coalitions: the game's groups (0..m-1) then each member alone (m..m+n-1)
    count = len(game)
    values = np.r_[npv, np.zeros(sharers)]
    fixed = np.zeros(count + sharers, dtype=bool)
    in_lp: dict[int, int] = {}  # coalition -> its row
    levels: list[float] = []

    def members_of(c: int) -> tuple[int, ...]:
        return game.members(c) if c < count else (c - count,)

    def totals(x: np.ndarray) -> np.ndarray:
        return np.r_[game.totals(x), x]

    for _stage in range(sharers + 1):
        directions = equalities.free_directions(rng)
        if directions.shape[1] == 0:
            break
        moving = np.zeros(count + sharers, dtype=bool)
        for d in directions.T:
            moving |= np.abs(totals(d)) > DETERMINED
        live = moving & ~fixed
        if not live.any():
            break
        for c, row in list(in_lp.items()):  # rows now determined leave the LP (relaxed)
            if not live[c]:
                lp.set_row_bounds(row, -lp.infinity, lp.infinity)
                del in_lp[c]
        waiting = live & ~np.isin(np.arange(count + sharers), list(in_lp))
        # every member alone bounds the LP (a part of a group could otherwise take all)
        alone = np.flatnonzero(waiting[count:]) + count
        groups = np.flatnonzero(waiting[:count])
        groups = groups[np.argsort(-values[groups], kind="stable")[:ROWS_PER_ROUND]]
        _add(lp, np.r_[alone, groups], members_of, values, e, in_lp)
        while True:
            solution, duals = lp.solve()
            x, level = solution[:sharers], solution[e]
            excess = values - totals(x)
            excess[~live] = -np.inf
            excess[list(in_lp)] = -np.inf
            violated = np.flatnonzero(excess > level + limit)
            if not len(violated):
                break
            worst = violated[np.argsort(-excess[violated], kind="stable")[:ROWS_PER_ROUND]]
            _add(lp, worst, members_of, values, e, in_lp)
        levels.append(float(level * scale))
        binding = [c for c, row in in_lp.items() if abs(duals[row]) > DUAL_TOLERANCE]
        if not binding:
            raise SolverError(
                "the nucleolus LP found no binding coalition (numerical trouble); "
                "please report this consortium"
            )
        for c in binding:  # tight in every optimum: hold it at this level from now on
            row = in_lp.pop(c)
            lp.h.changeCoeff(row, e, 0.0)
            lp.set_row_bounds(row, values[c] - level, values[c] - level)
            fixed[c] = True
            equalities.add(members_of(c))
        shares = x
    else:
        raise SolverError("the nucleolus did not settle within one stage per member")
    # the last stage's optimum meets every fixed row, and those rows determine x
    return Nucleolus(shares=shares * scale, levels=tuple(levels))


def _add(lp: RowLp, coalitions, members_of, values, e: int, in_lp: dict[int, int]) -> None:
    if not len(coalitions):
        return
    members = [[*members_of(int(c)), e] for c in coalitions]
    rows = lp.add_rows(
        members,
        [np.ones(len(m)) for m in members],
        values[coalitions],
        np.full(len(coalitions), lp.infinity),
    )
    in_lp.update(zip((int(c) for c in coalitions), rows, strict=True))
