"""A bound for services tied by a budget-like row, from each service's LP at each step
of its use of the row, combined by a knapsack.

Why: prices on a row blur how a plan uses it. On benchmarks' random-40 (a £3m
transition budget over 8 services) a group's transition cost is £250,000 per extra
member for HR and £120,000 for SEN transport, so a plan spends the budget in steps; at
the best price (£17.22 a pound) the LP fills the £3m with 0.79 of an HR group of five
and 4.6 SEN groups, and the Lagrangian bound stays the LP's, 1.2% above the best plan.
No plan can spend the budget that way.

How. Take one row a x <= upper whose coefficients are all >= 0. Count its use in
units of q, rounding each group's coefficient down: u_j = floor(a_j / q). A plan that
meets the row uses sum u_j x_j <= upper / q units in all, an integer, and service s
uses some whole number k_s of them. With the other rows priced (lambda, as in
`lagrange.py`), service s is worth at most V_s(k_s), its LP with sum u_j x_j <= k_s.
So no plan is worth more than

    max over whole k_s with sum k_s <= floor(upper / q) of  sum_s V_s(k_s)
        + the other services' bounds + what the other rows' prices add,

a knapsack over at most `max_units` units. V_s is concave in k (the LP's value as its
right-hand side grows), so the dual y of the row at an evaluated k_0 gives
V_s(k) <= V_s(k_0) + y (k - k_0) for every k. The knapsack runs over these tangents,
the levels it picks are evaluated, and it is run again, until every level it picks is
known: its maximum is then the maximum over the true V_s. Any round's value is already
a proven bound (the tangents lie above V_s), so a deadline only loosens it.

q is the greatest common divisor of the coefficients when they are whole numbers
(exact: random-40's steps of £250,000 and £120,000 give units of £10,000), times the
first of 1, 2, 4, 5, 10, ... that gives at most `max_units` units and a knapsack of at
most `max_work` steps (London's divisor of £40 becomes £400); otherwise upper / n.
Rounding down keeps the bound valid whatever q is.

Tighter than the LP at a level: a level the knapsack picks again once its LP is known
is searched for the service's best plan (`level_search.py`), whose value replaces the
LP's where proven; one the search cannot prove is split on the number of groups (every
plan has a whole number), then searched again with more nodes while the knapsack keeps
picking it. The best plans found are combined by the same knapsack into a plan. With
one row and exact units, once every picked level is proven, the knapsack's value is the
optimum and that plan reaches it (random-40: 105,355,313 in 19 s). London's £400 units
are not exact for HR, yet there too the bound fell to the plan combined (60,934,862).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np

from sharedsvc.solver import lagrange
from sharedsvc.solver.level_search import LevelPlan
from sharedsvc.solver.relaxation import LpSolution, Relaxation, solve_lp
from sharedsvc.stopping import StopToken

LevelLp = Callable[[str, np.ndarray, np.ndarray | None], Relaxation | None]
"""(service, units, counted) -> the service's LP relaxation with one more row of the
given coefficients (its right-hand side is set per level) and, if `counted` is given,
then a row counting those columns (the groups of two or more), free; None if the
service has no LP."""

LevelSearcher = Callable[
    [int, np.ndarray, float, float, tuple[float, float], np.ndarray | None, int],
    LevelPlan | None,
]
"""(level, member duals, level row's dual, count row's dual, the count's range, a plan
within the level or None, most nodes) -> one service's best plan within the level and
in the range (`level_search.Service.best_within`), or None where the search does not
apply."""

LevelSearch = Callable[[str, np.ndarray, np.ndarray], LevelSearcher | None]
"""(service, column costs, units) -> the service's `LevelSearcher` under those costs
and units, made once per service (what its searches share is prepared there), or None
where the search does not apply."""

DEEPER = 8
"""A level searched again gets this many times the nodes of its last search."""


@attrs.frozen(kw_only=True)
class LevelBound:
    """What the knapsack over the levels proved."""

    bound: float
    """No plan meeting the rows is worth more."""
    row: str
    """The row counted in levels."""
    unit: float
    """One level, in the row's own measure."""
    levels: dict[str, int]
    """The levels the last knapsack picked, per service in the row."""
    evaluations: int
    """LPs solved: one per (service, level), two more per level split."""
    exact: int = 0
    """Levels whose best plan the search proved."""
    plan: dict[str, np.ndarray] | None = None
    """The best plans found at the levels, one per service, combined by a knapsack
    within the row (positions among each service's groups); None if some service has
    none or the row leaves one out. Worth `plan_value` under the other rows' prices;
    it may break those rows, and the row itself where q does not divide its
    coefficients (they are rounded down): check it before taking it."""
    plan_value: float = -math.inf


def budget_row(coupled: lagrange.Coupled, prices: np.ndarray) -> int | None:
    """The row worth counting in levels: an upper bound over coefficients >= 0 (so its
    lower bound, if any, is <= 0 and always met), priced above zero by the Lagrangian
    (a row it leaves unpriced is not what limits the bound); of those, the one whose
    price times bound is largest. None if there is none."""
    best, best_weight = None, 0.0
    for r in range(len(coupled.rows)):
        if not math.isfinite(coupled.upper[r]) or coupled.upper[r] < 0:
            continue
        if math.isfinite(coupled.lower[r]) and coupled.lower[r] > 0:
            continue
        if any((coupled.usage[s][r] < 0).any() for s in coupled.services):
            continue
        weight = prices[r] * coupled.upper[r]
        if prices[r] > 0 and weight > best_weight:
            best, best_weight = r, weight
    return best


def unit_of(
    usages: Sequence[np.ndarray], upper: float, max_units: int, max_work: float = 2e7
) -> float:
    """q: for whole-number coefficients, the smallest multiple of their greatest common
    divisor (times 1, 2, 4, 5, 10, ...) that gives at most `max_units` units of `upper`
    and a knapsack of at most `max_work` steps (`knapsack_work`); otherwise, or if none
    does, upper / n for the largest n that does. `usages`: each service's coefficients."""
    positive = np.concatenate([u[u > 0] for u in usages]) if usages else np.zeros(0)
    if upper <= 0 or not len(positive):
        return 1.0
    if np.all(positive == np.round(positive)) and positive.max() < 2**53:
        divisor = int(np.gcd.reduce(np.unique(positive).astype(np.int64)))
        for multiple in _MULTIPLES:
            q = float(divisor * multiple)
            if q > upper:
                break
            if upper / q <= max_units and knapsack_work(usages, upper, q) <= max_work:
                return q
    # every service at one unit per level at worst: capacity^2 x (services - 1) steps
    fine = math.isqrt(int(max_work / max(1, len(usages) - 1)))
    return max(upper / max(1, min(max_units, fine)), 1e-12)


_MULTIPLES = sorted({b * 10**e for b in (1, 2, 4, 5) for e in range(16)})


def knapsack_work(usages: Sequence[np.ndarray], upper: float, unit: float) -> int:
    """About how many steps `_knapsack` takes with the row counted in `unit`s: the
    capacity times the levels of every service but the one with the most (each service
    has a level per multiple of its own step, up to its most)."""
    capacity = math.floor(upper / unit + 1e-9)
    counts = []
    for usage in usages:
        units, step = _units_and_step(usage, unit)
        counts.append(int(min(capacity, units.sum())) // step + 1)
    return capacity * (sum(counts) - max(counts, default=0))


def _units_and_step(usage: np.ndarray, unit: float) -> tuple[np.ndarray, int]:
    """Each group's use of the row in whole `unit`s (rounded down), and the service's
    step: a plan's use is a multiple of it (random-40's HR: 25 units of £10,000)."""
    units = np.floor(usage / unit + 1e-12)
    positive = units[units > 0].astype(np.int64)
    return units, int(np.gcd.reduce(positive)) if len(positive) else 1


def level_bound(
    coupled: lagrange.Coupled,
    prices: np.ndarray,
    parts: Mapping[str, float],
    service_lp: LevelLp,
    *,
    deadline: float | None,
    stop: StopToken,
    sift_min_columns: int,
    max_units: int = 100_000,
    max_work: float = 2e7,
    row: int | None = None,
    start: Mapping[str, np.ndarray] | None = None,
    search: LevelSearch | None = None,
    search_nodes: tuple[int, int] = (100_000, 2_000_000),
) -> LevelBound | None:
    """The knapsack bound over one row's levels (module docstring), with the other rows
    at `prices`; `parts` are the services' bounds under `prices` (the Lagrangian's),
    used for the services the row leaves out. `start`: each service's column values in
    the block's LP; the levels either side of its use of the row there are solved first
    (their tangents are the ones that matter); without it, each service's highest
    level. `search`: each service's best plan at a level, which replaces its LP's value
    there where proven; `search_nodes`: its first and largest node budgets. None when
    no row qualifies, a service's part is unknown, or the deadline comes before every
    service has a first level."""
    r = budget_row(coupled, prices) if row is None else row
    if r is None:
        return None
    upper = float(coupled.upper[r])
    inside = [s for s in coupled.services if (coupled.usage[s][r] > 0).any()]
    outside = [s for s in coupled.services if s not in inside]
    if not inside or any(not math.isfinite(parts.get(s, math.inf)) for s in outside):
        return None
    unit = unit_of([coupled.usage[s][r] for s in inside], upper, max_units, max_work)
    capacity = math.floor(upper / unit + 1e-9)
    others = prices.copy()
    others[r] = 0.0
    fixed = sum(parts[s] for s in outside) + coupled.constant(others)
    curves = {}
    for s in inside:
        if deadline is not None and time.perf_counter() >= deadline:
            return None  # copying a wide service's LP cannot be stopped midway
        units, step = _units_and_step(coupled.usage[s][r], unit)
        counted = None
        if coupled.alone.get(s) is not None:  # every group but the members alone
            counted = np.ones(len(units), dtype=bool)
            counted[np.asarray(coupled.alone[s], dtype=np.int64)] = False
        lp = service_lp(s, units, counted)
        if lp is None:
            return None
        costs = coupled.costs(s, others)
        lp.set_costs(costs)
        most = int(min(capacity, units.sum()))
        line = None
        exact = np.array_equal(units * unit, coupled.usage[s][r])
        if exact and prices[r] >= 0 and math.isfinite(parts.get(s, math.inf)):
            # units exact: a plan of s at level k is worth at most its part under all
            # the prices plus the row's price on k units, so the knapsack is never
            # above the Lagrangian bound
            line = (parts[s], prices[r] * unit)
        searcher = None if search is None else search(s, costs, units)
        curves[s] = _Curve(lp, most - most % step, step, line, searcher, counted, search_nodes)

    def solved(curve: _Curve, level: int, tighten: bool = False) -> bool:
        """Solve (or `tighten`) `curve` at `level` by the deadline; False once out of time."""
        if deadline is not None and time.perf_counter() >= deadline:
            return False
        left = None if deadline is None else max(0.1, deadline - time.perf_counter())
        step = curve.tighten if tighten else curve.evaluate
        return step(level, left, stop, sift_min_columns)

    first = {}
    for s in inside:
        curve = curves[s]
        if start is None:
            first[s] = {curve.most}
        else:
            across = float(coupled.usage[s][r] @ start[s]) / unit / curve.step
            either_side = (math.floor(across), math.ceil(across))
            first[s] = {curve.level_of(curve.step * k) for k in either_side}
    stopped = not all(solved(curves[s], level) for s in inside for level in sorted(first[s]))
    while True:
        stop.check()
        envelopes = {s: c.envelope() for s, c in curves.items()}
        value, levels = _knapsack(envelopes, capacity)
        if stopped:
            break
        work = {s: curves[s].settled(levels[s], envelopes[s]) for s in inside}
        missing = [s for s in inside if not curves[s].known(work[s])]
        if missing:
            stopped = not all(solved(curves[s], work[s]) for s in missing)
            continue
        # every level picked is solved: search those not yet searched, split those the
        # search did not prove (two more LPs each), or search them deeper: only where
        # the knapsack looks
        loose = [s for s in inside if curves[s].loose(work[s])]
        if not loose:
            break
        # a deeper search costs eight times the last: only one per round, and only when
        # no level picked has a first search or a split left (the knapsack may move on)
        cheap = [s for s in loose if curves[s].deepening(work[s]) == 0]
        if not cheap:
            cheap = [min(loose, key=lambda s: curves[s].deepening(work[s]))]
        stopped = not all(solved(curves[s], work[s], tighten=True) for s in cheap)
    if not math.isfinite(value):
        return None  # some service had no level solved in time, or none feasible
    plan, plan_value = None, -math.inf
    found = {s: c.found() for s, c in curves.items()}
    if not outside and all(math.isfinite(f.max()) for f in found.values()):
        plan_value, plan_levels = _knapsack(found, capacity)
        if math.isfinite(plan_value):
            plan = {s: curves[s].plan_within(k) for s, k in plan_levels.items()}
    return LevelBound(
        bound=value + fixed,
        row=coupled.rows[r].name,
        unit=unit,
        levels={s: curves[s].level_of(k) for s, k in levels.items()},
        evaluations=sum(c.lps for c in curves.values()),
        exact=sum(len(c.proven) for c in curves.values()),
        plan=plan,
        plan_value=plan_value,
    )


_FREE = (-math.inf, math.inf)
SLACK = 1e-6
"""A tangent's bound is raised by this share of its LP's value: HiGHS's duals and
values are exact to its tolerances, not to the last digit."""


class _Curve:
    """One service's V(k) for k = 0..most: the levels solved so far and their tangents."""

    def __init__(
        self,
        lp: Relaxation,
        most: int,
        step: int,
        line: tuple[float, float] | None = None,
        search: LevelSearcher | None = None,
        counted: np.ndarray | None = None,
        search_nodes: tuple[int, int] = (100_000, 2_000_000),
    ):
        self.lp = lp
        self.search = search
        """The service's search within a level, if it applies."""
        self.counted = counted
        """The columns the LP's last row counts (groups of two or more), if it has one."""
        self.plans: dict[int, tuple[np.ndarray, float]] = {}
        """Per level: the best plan found within it and its worth."""
        self.proven: set[int] = set()
        """Levels where `values` is the best plan's worth (proven by the search)."""
        self.most = most
        self.step = step
        """Every plan's level is a multiple of it: the others are left out."""
        self.line = line
        """(a, b): no plan at level k is worth more than a + b k, if known."""
        self.values: dict[int, float] = {}
        """Per level solved: a bound on its best plan (the LP's, the split's, or the
        best plan's where the search proved it)."""
        self.tangents = np.full(most + 1, math.inf)
        """For k = 0..most: the least of the bounds that LPs' duals on the row give at k
        (tangents of the LP's curve, and of the split LPs' curves)."""
        self.groups: dict[int, float] = {}
        """Per level solved: the number of groups of two or more the LP takes."""
        self.refined: set[int] = set()
        """Levels split on the number of groups, or found not worth splitting."""
        self.branches: dict[int, list[tuple[np.ndarray, tuple[float, float]]]] = {}
        """Per level solved: each branch's LP duals and count range (the level's LP, or
        the two of the split), to search."""
        self.nodes: dict[int, int] = {}
        """Per level searched: the node budget of its last search."""
        self.search_nodes = search_nodes
        self.lps = 0
        """LPs solved so far."""
        self.scale = 1.0
        """The largest LP value met (at least 1): what round-off is measured against."""

    def known(self, level: int) -> bool:
        return self.level_of(level) in self.values

    def loose(self, level: int) -> bool:
        """Whether `tighten` could still lower the level's bound: solved, not proven, and
        not yet searched, split, or searched with the most nodes."""
        level = self.level_of(level)
        if level not in self.branches or level in self.proven:
            return False
        if level in self.groups and level not in self.refined:
            return True
        return self.search is not None and self.nodes.get(level, 0) < self.search_nodes[1]

    def deepening(self, level: int) -> int:
        """The nodes of the search that `tighten` would do next at a loose `level`; 0
        for a first search or a split (whose searches get the nodes of the last)."""
        level = self.level_of(level)
        if level not in self.nodes or (level in self.groups and level not in self.refined):
            return 0
        return min(self.search_nodes[1], DEEPER * self.nodes[level])

    def level_of(self, level: int) -> int:
        """The level a plan using at most `level` units can be at most."""
        return min(level, self.most) // self.step * self.step

    def evaluate(
        self, level: int, time_limit: float | None, stop: StopToken, sift_min_columns: int
    ) -> bool:
        """Solve the LP at `level`; False if it did not finish in time. The level is
        searched only if the knapsack picks it again (`tighten`): on London's boroughs
        it left most levels it had just tried once their LP was known."""
        level = self.level_of(level)
        solution = self._solve(level, _FREE, time_limit, stop, sift_min_columns)
        if solution.status == "infeasible":  # some member may not be alone at this level
            self.values[level] = -math.inf
            return True
        if not solution.optimal:
            return False
        self.values[level] = float(solution.objective)
        self.scale = max(self.scale, abs(self.values[level]))
        self._add_tangents([(level, solution)])
        if self.counted is not None:
            self.groups[level] = float(solution.values[self.counted].sum())
        self.branches[level] = [(solution.duals, _FREE)]
        return True

    def tighten(
        self, level: int, time_limit: float | None, stop: StopToken, sift_min_columns: int
    ) -> bool:
        """One step more towards a solved `level`'s best plan: search it if it has not
        been; else, where its LP takes a fractional number n of groups, solve it with at
        most floor(n) and with at least ceil(n) groups (every plan is in one, so the
        level is worth at most the larger; SEN transport on random-40 within 18 steps:
        4.5 groups, 92.03m; at most 4: 86.62m, at least 5: 91.71m) and search each; once
        split (or if n is whole), search the level's branches again with `DEEPER` times
        the nodes. False if a branch's LP did not finish in time."""
        level = self.level_of(level)
        if level in self.proven or level not in self.branches:
            return True
        if self.search is not None and level not in self.nodes:
            self._search(level, self.branches[level], self.search_nodes[0])
            return True
        if level in self.refined or level not in self.groups:
            if self.search is not None:
                self._search(level, self.branches[level], self.deepening(level))
            return True
        self.refined.add(level)
        groups = self.groups[level]
        if abs(groups - round(groups)) <= 1e-6:
            return True
        started = time.perf_counter()

        def left() -> float | None:
            if time_limit is None:
                return None
            return max(0.1, time_limit - (time.perf_counter() - started))

        branches, infeasible = [], []
        for count_range in ((-math.inf, math.floor(groups)), (math.ceil(groups), math.inf)):
            branch = self._solve(level, count_range, left(), stop, sift_min_columns)
            if branch.status == "infeasible":
                infeasible.append(count_range)
                continue
            if not branch.optimal:
                return False
            branches.append((branch, count_range))
        if not branches:  # no whole number of groups fits the level
            self.values[level] = -math.inf
            del self.branches[level]
            return True
        worth = max(branch.objective for branch, _ in branches)
        self.values[level] = min(self.values[level], worth + SLACK * max(1.0, abs(worth)))
        # Every plan at every level is in one branch, so the larger of the branches'
        # tangents bounds the other levels too (split one at a time, the levels of a
        # fine row were walked one by one, three LPs each). A branch infeasible here
        # is infeasible at every level below; above, its tangent at the top level
        # bounds it, if it has one there.
        tangents = [(level, branch) for branch, _ in branches]
        valid_to = None
        for count_range in infeasible if level < self.most else []:
            top = self._solve(self.most, count_range, left(), stop, sift_min_columns)
            if top.optimal:
                tangents.append((self.most, top))
            elif top.status != "infeasible":  # out of time: this level and below only
                valid_to = level
        self._add_tangents(tangents, valid_to)
        self.branches[level] = [(branch.duals, count_range) for branch, count_range in branches]
        if self.search is not None:
            self._search(level, self.branches[level], self.nodes[level])
        return True

    def _add_tangents(
        self, tangents: list[tuple[int, LpSolution]], valid_to: int | None = None
    ) -> None:
        """Lower `tangents` to the largest of the tangents of the LPs solved at the given
        levels: LPs whose feasible plans, together, include every plan at every level
        (or, with `valid_to`, at every level up to it)."""
        k = np.arange(self.most + 1, dtype=float)
        bound = np.full(self.most + 1, -math.inf)
        for level, solution in tangents:
            value = float(solution.objective)
            # the row's dual: what one more unit adds at most (>= 0 on a binding upper
            # bound), with a slack: HiGHS's duals and values are exact to its tolerances
            slope = max(0.0, float(solution.duals[self._level_row]))
            bound = np.maximum(bound, value + slope * (k - level) + SLACK * max(1.0, abs(value)))
        if valid_to is not None:
            bound[valid_to + 1 :] = math.inf
        np.minimum(self.tangents, bound, out=self.tangents)

    def settled(self, level: int, envelope: np.ndarray) -> int:
        """`level`, or the solved level below it with the largest bound, where that
        bound is within round-off of the envelope at `level` (twice the tangents'
        slack, on the scale of the curve's LP values). Otherwise an unsolved level
        draws the knapsack by round-off alone, and it walked up a run of levels an LP
        each: by the tangents' slack over levels of one LP value (2,437 LPs on a row
        counted in 4,472 units); by a search's tolerance (a ten-billionth of £1.6m)
        over levels of a service proven worth nothing at its top level (4,420 LPs and
        as many searches, 20 s)."""
        level = self.level_of(level)
        if level in self.values:
            return level
        below = [k for k in self.values if k <= level]
        if not below:
            return level
        known = max(below, key=lambda k: self.values[k])
        target = float(envelope[level])
        if self.values[known] >= target - 2 * SLACK * max(self.scale, abs(target)):
            return known
        return level

    @property
    def _level_row(self) -> int:
        return self.lp.highs.getNumRow() - (1 if self.counted is None else 2)

    def _solve(
        self,
        level: int,
        count_range: tuple[float, float],
        time_limit: float | None,
        stop: StopToken,
        sift_min_columns: int,
    ) -> LpSolution:
        """The LP within `level` units and, with a count row, `count_range` groups."""
        lp = self.lp
        lp.set_row_bounds(self._level_row, -math.inf, float(level))
        if self.counted is not None:
            lp.set_row_bounds(lp.highs.getNumRow() - 1, *count_range)
        self.lps += 1
        return solve_lp(lp, time_limit, stop, sift_min_columns=sift_min_columns)

    def _search(
        self, level: int, branches: list[tuple[np.ndarray, tuple[float, float]]], nodes: int
    ) -> None:
        """Search each branch (LP duals, count range) of `level` for its best plan, with
        at most `nodes` nodes each: the best is kept, and the level's bound becomes the
        branches' largest where every branch was searched."""
        if self.search is None:
            return
        row = self._level_row
        below = [k for k in self.plans if k <= level]
        seed = self.plans[max(below, key=lambda k: self.plans[k][1])][0] if below else None
        found = []
        for duals, count_range in branches:
            count_dual = 0.0 if self.counted is None else float(duals[row + 1])
            plan = self.search(
                level, duals[:row], float(duals[row]), count_dual, count_range, seed, nodes
            )
            if plan is None:
                self.search = None  # it does not apply to this service at any level
                return
            found.append(plan)
            seed = max(found, key=lambda f: f.value).positions
        self.nodes[level] = nodes
        best = max(found, key=lambda f: f.value)
        if best.value > self.plans.get(level, (None, -math.inf))[1]:
            self.plans[level] = (best.positions, best.value)
        # never below a plan found at the level: an integral LP's value may sit a hair
        # under the plan's, within HiGHS's tolerances
        bound = min(self.values[level], max(f.bound for f in found))
        self.values[level] = max(bound, self.plans[level][1])
        if all(f.proven for f in found):
            self.proven.add(level)

    def envelope(self) -> np.ndarray:
        """An upper bound on V(k) for k = 0..most: the least of the tangents, exact where
        solved; +inf where nothing is known yet (before the first solve)."""
        k = np.arange(self.most + 1, dtype=float)
        bound = self.tangents.copy()
        for level, value in self.values.items():
            bound[level] = value
        if self.line is not None:
            bound = np.minimum(bound, self.line[0] + self.line[1] * k)
        # the best plan within k units is worth no more than the best within more
        bound = np.minimum.accumulate(bound[::-1])[::-1]
        bound[k % self.step != 0] = -math.inf  # no plan uses the row this way
        return bound

    def found(self) -> np.ndarray:
        """For k = 0..most: the worth of the best plan found within k units (-inf: none)."""
        worth = np.full(self.most + 1, -math.inf)
        for level, (_, value) in self.plans.items():
            worth[level] = value
        return np.maximum.accumulate(worth)

    def plan_within(self, level: int) -> np.ndarray:
        """The best plan found within `level` units."""
        within = [k for k in self.plans if k <= level]
        return self.plans[max(within, key=lambda k: self.plans[k][1])][0]


def _knapsack(curves: Mapping[str, np.ndarray], capacity: int) -> tuple[float, dict[str, int]]:
    """max sum_s curve_s[k_s] over sum k_s <= capacity (a curve's last entry covers
    every larger k), and the k_s that reach it (the least, where several do).

    A level that is worth no more than a lower one is never needed. The service with
    the most levels left is merged last, against the full capacity only: about
    capacity x (the other services' levels) steps (`knapsack_work`), each a sum and a
    maximum; the levels chosen are found afterwards, from the sums kept."""
    with np.errstate(invalid="ignore"):  # -inf + inf: nan, dropped below
        return _knapsack_of(curves, capacity)


def _knapsack_of(curves: Mapping[str, np.ndarray], capacity: int) -> tuple[float, dict[str, int]]:
    extended = {s: _within(curve, capacity) for s, curve in curves.items()}
    steps = {s: _rising(curve) for s, curve in extended.items()}
    order = sorted(curves, key=lambda s: len(steps[s]))
    best = np.zeros(capacity + 1)  # best[c]: the most from the services so far within c
    before = []
    for s in order[:-1]:
        merged = np.full(capacity + 1, -math.inf)
        for k, worth in zip(steps[s].tolist(), extended[s][steps[s]].tolist(), strict=True):
            # fmax: an unknown level (+inf) after an impossible one (-inf) sums to nan,
            # which is no choice at all
            np.fmax(merged[k:], best[: capacity + 1 - k] + worth, out=merged[k:])
        before.append(best)
        best = merged  # never decreasing in c, as `best` was
    last = order[-1]
    ks = steps[last]
    totals = best[capacity - ks] + extended[last][ks]
    totals[np.isnan(totals)] = -math.inf
    if not (totals > -math.inf).any():  # some service has no level at all
        return -math.inf, dict.fromkeys(curves, 0)
    at = int(np.argmax(totals))
    value = float(totals[at])
    levels = {last: int(ks[at])}
    spent = capacity - levels[last]
    for s in reversed(order[:-1]):
        target, best = best[spent], before.pop()
        ks = steps[s][steps[s] <= spent]
        # the same sums as above, so the one that gave the maximum equals it exactly
        k = int(ks[np.argmax(best[spent - ks] + extended[s][ks] == target)])
        levels[s] = k
        spent -= k
    return value, levels


def _within(curve: np.ndarray, capacity: int) -> np.ndarray:
    """`curve` for k = 0..capacity, its last entry repeated past its end."""
    tail = np.full(max(0, capacity + 1 - len(curve)), curve[-1])
    return np.concatenate([curve, tail])[: capacity + 1]


def _rising(curve: np.ndarray) -> np.ndarray:
    """The levels worth more than every lower one (the others are never needed)."""
    if not len(curve):
        return np.zeros(0, dtype=np.int64)
    before = np.concatenate([[-math.inf], np.maximum.accumulate(curve)[:-1]])
    return np.flatnonzero(curve > before)
