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
LISTED = 2048
"""A member with at most this many window groups has them listed as Python tuples once
per search (fast to branch over); one with more has them read from arrays at each node."""


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
    **options,
) -> LevelPlan | None:
    """`Service.best_within` for one search (`Service.of`'s arguments, then its own);
    None where the search does not apply."""
    service = Service.of(groups, members, values, units)
    return None if service is None else service.best_within(level, duals, slope, **options)


@attrs.frozen(eq=False)
class Service:
    """One service's groups, their worth and units, with what every search within one
    of its levels reuses (a search of HR on London's boroughs, 243,000 groups, spent
    more time sorting them afresh than branching)."""

    groups: FlatGroups
    members: int
    values: np.ndarray
    units: np.ndarray
    alone_of: np.ndarray
    """Each member's group of one."""
    gain: np.ndarray
    """What a group adds over its members alone (0 for groups of one)."""
    masks: np.ndarray
    least_units: float
    """No group of two or more uses fewer units (HR on London's boroughs: 438)."""
    greedy_orders: tuple[np.ndarray, ...]
    """The greedy starts that do not depend on the duals: by gain and by gain per unit,
    each cut to `GREEDY_GROUPS` and then to the groups of two or more that gain."""

    @classmethod
    def of(
        cls, groups: FlatGroups, members: int, values: np.ndarray, units: np.ndarray
    ) -> Service | None:
        """None where the search does not apply: more than `MAX_MEMBERS` members, some
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
        units = np.asarray(units, dtype=float)
        gain = values - groups.sum(values[alone_of])
        masks = groups.masks()
        orders = tuple(
            _greedy_order(key, sizes, gain) for key in (gain, gain / np.maximum(units, 1))
        )
        return cls(
            groups=groups,
            members=members,
            values=values,
            units=units,
            alone_of=alone_of,
            gain=gain,
            masks=masks,
            least_units=float(units[sizes > 1].min(initial=math.inf)),
            greedy_orders=orders,
        )

    def _greedy(self, order: np.ndarray, level: int) -> np.ndarray:
        """Groups taken in `order` while they fit the level and overlap none taken."""
        taken, mask, used = [], 0, 0.0
        listed = zip(
            order.tolist(), self.masks[order].tolist(), self.units[order].tolist(), strict=True
        )
        for j, group_mask, group_units in listed:
            if level - used < self.least_units:
                break  # no group fits what is left
            if group_mask & mask or used + group_units > level:
                continue
            taken.append(j)
            mask |= group_mask
            used += group_units
        return np.array(taken, dtype=np.int64)

    def best_within(
        self,
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
    ) -> LevelPlan:
        """The best plan with units(x) <= level (module docstring). `duals`: the LP's
        member duals, `slope` its dual on the level row per unit (any values give a
        valid proof; the LP's optimal ones give a small search). `seed`: a plan within
        the level to start from. With `count_range`, only plans whose number of groups
        of two or more lies in it are proven (`count_dual`: the LP's dual on that
        count), as in one branch of the split on the count (`levels.py`); plans outside
        it found on the way are still plans."""
        groups, members, units, gain = self.groups, self.members, self.units, self.gain
        sizes = groups.sizes
        alone = self.values[self.alone_of]
        everyone_alone = float(alone.sum())
        y = np.asarray(duals, dtype=float)[:members]
        top, reduced = dual_bound(
            groups, self.values, units, level, y, slope, count_dual, count_range
        )
        """D: every plan within the level (and the count's range) is worth at most D
        plus its groups' rc^-."""
        reduced = np.minimum(reduced, 0.0)
        alone_reduced = np.minimum(alone - y, 0.0)
        tolerance = 1e-10 * max(1.0, abs(top))
        fits = (sizes > 1) & (units <= level)

        best, chosen = everyone_alone, np.empty(0, dtype=np.int64)
        by_gain, by_ratio = self.greedy_orders
        for order in (by_gain, _greedy_order(reduced, sizes, gain), by_ratio):
            picked = self._greedy(order, level)
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
        member_order = np.argsort(-(y - alone), kind="stable").tolist()
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
        units_of = [units[options] for options in of_member]
        masks_of = [self.masks[options] for options in of_member]
        listed: list[list | None] = [None] * members
        """A member's window groups as tuples (j, rc^-, the h of its members, mask,
        units, gain), made when the branching first reaches the member, if it has at
        most `LISTED` of them (a tuple costs about 250 bytes: on random-40, listing
        every window in full took the peak memory from 3.2 to 4.1 GB)."""

        def read(m: int, picked: np.ndarray):
            """Member m's window groups at the positions `picked`, as tuples."""
            chosen = of_member[m][picked]
            return zip(
                chosen.tolist(),
                reduced[chosen].tolist(),
                group_share[chosen].tolist(),
                masks_of[m][picked].tolist(),
                units_of[m][picked].tolist(),
                gain[chosen].tolist(),
                strict=True,
            )

        def options(m: int, picked: np.ndarray):
            """`read`, from the member's list where it has one."""
            if len(of_member[m]) > LISTED:
                return read(m, picked)
            if listed[m] is None:
                listed[m] = list(read(m, np.arange(len(of_member[m]))))
            every = listed[m]
            return [every[i] for i in picked.tolist()]

        share_of = share.tolist()
        alone_reduced_of = alone_reduced.tolist()
        most = count_range[1]

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
            """Members before `position` are decided (`mask`); `spent`: their rc^-;
            `rest`: the undecided members' h."""
            nonlocal best, chosen, nodes
            nodes += 1
            if nodes > max_nodes:
                raise _OutOfBudget
            if nodes % 1024 == 0:
                stop.check()
                if deadline is not None and time.perf_counter() > deadline:
                    raise _OutOfBudget
            while position < members and (mask >> member_order[position]) & 1:
                position += 1
            if position == members:
                if worth > best:
                    best, chosen = worth, np.array(path, dtype=np.int64)
                return
            m = member_order[position]
            if count < most:
                # a child's undecided members add at most 0: those below the floor lose
                floor = best - top - spent - tolerance
                cut = int(falling[m].searchsorted(-floor, "right"))
                fit = (units_of[m][:cut] <= level - used) & (
                    (masks_of[m][:cut] & np.uint64(mask)) == 0
                )
                for j, rc, group_h, group_mask, group_units, group_gain in options(
                    m, fit.nonzero()[0]
                ):
                    if top + spent + rc < best - tolerance:
                        break  # the rest are worse still: sorted by reduced cost
                    left = rest - group_h
                    if top + spent + rc + left < best - tolerance:
                        continue
                    path.append(j)
                    visit(
                        position + 1,
                        mask | group_mask,
                        used + group_units,
                        worth + group_gain,
                        spent + rc,
                        left,
                        count + 1,
                    )
                    path.pop()
            left = rest - share_of[m]
            if top + spent + alone_reduced_of[m] + left >= best - tolerance:
                visit(
                    position + 1,
                    mask | (1 << m),
                    used,
                    worth,
                    spent + alone_reduced_of[m],
                    left,
                    count,
                )

        proven = True
        try:
            visit(0, 0, 0.0, everyone_alone, 0.0, float(share.sum()), 0)
        except _OutOfBudget:
            proven = False
        covered = np.zeros(members, dtype=bool)
        covered[groups.members[groups.member_positions(chosen)]] = True
        positions = np.concatenate([chosen, self.alone_of[~covered]])
        return LevelPlan(
            positions=np.sort(positions),
            value=best,
            proven=proven,
            bound=best + tolerance if proven else top,
            nodes=nodes,
        )


def _greedy_order(key: np.ndarray, sizes: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """The first `GREEDY_GROUPS` groups by `key` (highest first, ties by position), of
    which those of two or more that gain: where a greedy start looks."""
    order = _top(key, GREEDY_GROUPS)
    return order[(sizes[order] > 1) & (gain[order] > 0)]


def _top(key: np.ndarray, count: int) -> np.ndarray:
    """The positions of the `count` highest of `key`, highest first, ties by position:
    the start of a stable argsort of -key, without sorting the rest."""
    negative = -key
    if len(key) <= count:
        return np.argsort(negative, kind="stable")
    kth = np.partition(negative, count - 1)[count - 1]
    below = np.flatnonzero(negative < kth)
    tied = np.flatnonzero(negative == kth)[: count - len(below)]
    chosen = np.concatenate([below, tied])
    return chosen[np.lexsort((chosen, negative[chosen]))]


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
