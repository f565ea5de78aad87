"""One service's best plan within a level of a budget-like row, exactly, by branching
on members inside the LP's reduced-cost window.

Why: the knapsack over a budget's levels (`levels.py`) takes each service's value at a
level from its LP, and a wide service's LP is loose there: on benchmarks' random-40 the
best SEN-transport plan within one step of the budget is worth £6.17m and the LP says
£7.57m (a fifth of a group of five); HR within five steps £19.63m against £20.27m.
HiGHS did not prove HR at three steps in 500 s; this search proves it in 41 nodes.

How. Let y be the LP's member duals at the level, mu >= 0 its dual on the level row
(per unit), and rc_j = c_j - y(g_j) - mu u_j each group's reduced cost. Any plan x
within L units (each member in one group, every member alone allowed) is worth

    c x = rc(x) + sum y + mu u(x)  <=  D + sum of rc_j^- over its groups,
    D = sum y + mu L + sum over all groups of rc_j^+,

for any y and mu >= 0 (no optimality of the duals is assumed: round-off only loosens
D). So every plan better than the best known uses only groups with rc_j^- >= best - D,
and its groups' rc^- add up to no less than best - D. The search takes the members in
order of what staying alone would cost them (y_m less their value alone) and gives
each, in turn, one of its window's groups that fits the units left and overlaps no
group chosen, or leaves it alone, pruning a branch once D plus its rc^- falls to the
best plan's value. Finished, no plan is worth more than the best found (to a ten-
billionth); stopped by its node or time budget, the best found is only a plan.
"""

from __future__ import annotations

import math
import time

import attrs
import numpy as np

from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.solver.search import MAX_MEMBERS
from sharedsvc.stopping import StopToken

GREEDY_GROUPS = 20_000
"""Each greedy start looks at this many groups in its order at most."""


@attrs.frozen(kw_only=True)
class LevelPlan:
    """The best plan found within a level, and whether it is proven best."""

    positions: np.ndarray
    """The plan's groups (groups of one for members alone), by position."""
    value: float
    proven: bool
    bound: float
    """No plan within the level is worth more (the plan's value when proven)."""
    nodes: int


class _OutOfBudget(Exception):
    """The node or time budget ran out: the best plan so far is not proven."""


def best_within(
    groups: FlatGroups,
    members: int,
    values: np.ndarray,
    units: np.ndarray,
    level: int,
    duals: np.ndarray,
    slope: float,
    *,
    max_nodes: int,
    deadline: float | None,
    stop: StopToken,
    seed: np.ndarray | None = None,
    count_dual: float = 0.0,
    count_range: tuple[float, float] = (-math.inf, math.inf),
) -> LevelPlan | None:
    """The best plan with units(x) <= level (module docstring). `duals`: the LP's member
    duals, `slope` its dual on the level row per unit (any values give a valid proof;
    the LP's optimal ones give a small search). `seed`: a plan within the level to start
    from. With `count_range`, only plans whose number of groups of two or more lies in
    it are proven (`count_dual`: the LP's dual on that count), as in one branch of the
    split on the count (`levels.py`); plans outside it found on the way are still
    plans. None where the search does not apply: more than `MAX_MEMBERS` members, some
    member without exactly one group of one, or a group of one that uses the row."""
    if members > MAX_MEMBERS or len(values) == 0:
        return None
    sizes = groups.sizes
    singles = np.flatnonzero(sizes == 1)
    alone_of = np.full(members, -1, dtype=np.int64)
    alone_of[groups.members[groups.starts[singles]]] = singles
    if len(singles) != members or (alone_of < 0).any() or (units[singles] != 0).any():
        return None  # some member has no group of one, or two
    values = np.asarray(values, dtype=float)
    alone = values[alone_of]
    everyone_alone = float(alone.sum())
    gain = values - groups.sum(alone)
    """What a group adds over its members alone (0 for groups of one)."""
    y = np.asarray(duals, dtype=float)[:members]
    top, reduced = dual_bound(groups, values, units, level, y, slope, count_dual, count_range)
    """D: every plan within the level (and the count's range) is worth at most D plus
    its groups' rc^-."""
    reduced = np.minimum(reduced, 0.0)
    alone_reduced = np.minimum(alone - y, 0.0)
    tolerance = 1e-10 * max(1.0, abs(top))
    masks = groups.masks()
    fits = (sizes > 1) & (units <= level)

    best, chosen = everyone_alone, np.empty(0, dtype=np.int64)
    starts = [
        np.argsort(-key, kind="stable") for key in (gain, reduced, gain / np.maximum(units, 1))
    ]
    for order in starts:
        picked = _greedy(order[:GREEDY_GROUPS], fits, gain, masks, units, level)
        worth = everyone_alone + float(gain[picked].sum())
        if worth > best:
            best, chosen = worth, picked
    if seed is not None:
        seed = np.asarray(seed, dtype=np.int64)
        seed = seed[sizes[seed] > 1]
        if units[seed].sum() <= level and everyone_alone + gain[seed].sum() > best:
            best, chosen = everyone_alone + float(gain[seed].sum()), seed

    window = np.flatnonzero(fits & (reduced >= best - top - tolerance))
    window = window[np.argsort(-reduced[window], kind="stable")]
    # each member's window groups, best reduced cost first
    owners = groups.members[groups.member_positions(window)]
    rank = np.repeat(np.arange(len(window)), sizes[window])
    by_owner = np.lexsort((rank, owners))
    cuts = np.searchsorted(owners[by_owner], np.arange(members + 1))
    of_member = [window[rank[by_owner[cuts[m] : cuts[m + 1]]]] for m in range(members)]
    falling = [-reduced[options] for options in of_member]
    """Each member's groups' -rc^-, ascending: the groups above a floor are a prefix."""
    member_order = np.argsort(-(y - alone), kind="stable")
    share = alone_reduced.copy()
    """h_m: the most a member adds to a plan's rc^-, alone or as its share of a window
    group (rc_j^- / size): the undecided members add at most the sum of theirs."""
    if len(window):
        np.maximum.at(
            share,
            owners,
            np.repeat(reduced[window] / sizes[window], sizes[window]),
        )
    group_share = groups.sum(share)

    nodes = 0
    path: list[int] = []

    def visit(
        position: int,
        mask: int,
        used: float,
        worth: float,
        spent: float,
        rest: float,
        count: int,
    ) -> None:
        """Members before `position` are decided (`mask`); `spent`: their rc^-; `rest`:
        the undecided members' h."""
        nonlocal best, chosen, nodes
        nodes += 1
        if nodes % 1024 == 0:
            stop.check()
            if nodes > max_nodes or (deadline is not None and time.perf_counter() > deadline):
                raise _OutOfBudget
        while position < members and (mask >> int(member_order[position])) & 1:
            position += 1
        if position == members:
            if worth > best:
                best, chosen = worth, np.array(path, dtype=np.int64)
            return
        m = int(member_order[position])
        options = of_member[m] if count < count_range[1] else of_member[m][:0]
        if len(options):
            # a child's undecided members add at most 0: those below the floor lose
            floor = best - top - spent - tolerance
            options = options[: np.searchsorted(falling[m], -floor, side="right")]
            options = options[
                (units[options] <= level - used) & ((masks[options] & np.uint64(mask)) == 0)
            ]
        for j in options:
            if top + spent + reduced[j] < best - tolerance:
                break  # the rest are worse still: sorted by reduced cost
            left = rest - group_share[j]
            if top + spent + reduced[j] + left < best - tolerance:
                continue
            path.append(int(j))
            visit(
                position + 1,
                mask | int(masks[j]),
                used + units[j],
                worth + gain[j],
                spent + reduced[j],
                left,
                count + 1,
            )
            path.pop()
        left = rest - share[m]
        if top + spent + alone_reduced[m] + left >= best - tolerance:
            visit(position + 1, mask | (1 << m), used, worth, spent + alone_reduced[m], left, count)

    proven = True
    try:
        visit(0, 0, 0.0, everyone_alone, 0.0, float(share.sum()), 0)
    except _OutOfBudget:
        proven = False
    covered = np.zeros(members, dtype=bool)
    covered[groups.members[groups.member_positions(chosen)]] = True
    positions = np.concatenate([chosen, alone_of[~covered]])
    return LevelPlan(
        positions=np.sort(positions),
        value=best,
        proven=proven,
        bound=best + tolerance if proven else top,
        nodes=nodes,
    )


def dual_bound(
    groups: FlatGroups,
    values: np.ndarray,
    units: np.ndarray,
    level: int,
    duals: np.ndarray,
    slope: float,
    count_dual: float = 0.0,
    count_range: tuple[float, float] = (-math.inf, math.inf),
) -> tuple[float, np.ndarray]:
    """(D, rc): every plan x within the level whose count of groups of two or more is
    in `count_range` is worth at most D + the sum of min(rc_j, 0) over its groups, for
    any member `duals` and any `slope` and `count_dual` (module docstring)."""
    mu = max(0.0, float(slope))
    fewest, most = count_range
    # nu n(x) <= nu * (most if nu >= 0 else fewest) for a plan with n(x) in the range; a
    # dual of the wrong sign for an open end counts as none
    nu = float(count_dual)
    if (nu > 0 and not math.isfinite(most)) or (nu < 0 and not math.isfinite(fewest)):
        nu = 0.0
    reduced = values - groups.sum(duals) - mu * units - nu * (groups.sizes > 1)
    top = float(np.sum(duals)) + mu * level + float(np.maximum(reduced, 0.0).sum())
    top += nu * (most if nu > 0 else fewest) if nu else 0.0
    return top, reduced


def _greedy(
    order: np.ndarray,
    fits: np.ndarray,
    gain: np.ndarray,
    masks: np.ndarray,
    units: np.ndarray,
    level: int,
) -> np.ndarray:
    """Groups taken in `order` while they gain, fit and overlap none taken."""
    taken, mask, used = [], 0, 0.0
    for j in order[fits[order] & (gain[order] > 0)]:
        if masks[j] & np.uint64(mask) or used + units[j] > level:
            continue
        taken.append(int(j))
        mask |= int(masks[j])
        used += units[j]
    return np.array(taken, dtype=np.int64)
