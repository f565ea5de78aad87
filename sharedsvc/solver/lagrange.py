"""Services tied by a few rows, solved one service at a time: Lagrangian relaxation.

Why: a transition budget or a partnership count ties every service into one model,
whose LP bound carries each service's own integrality gap, so that fixing keeps most
groups and the MIP over them does not finish (London's boroughs with a £3m budget and
20 partnerships: 6% apart after 20 s). Each service alone is a problem sharedsvc
already solves exactly and fast (fixing, the partition search).

How. Give each tying row r (lower_r <= a_r x <= upper_r) a price lambda_r and move it
into the objective. For any prices,

    L(lambda) = sum over services s of  max over plans x_s of (c_s - lambda A_s) x_s
                + sum over rows r of  lambda_r upper_r  (lambda_r >= 0)
                                  or  lambda_r lower_r  (lambda_r < 0)

is at least the value of every plan that meets the rows: for such a plan each row's
term lambda_r (upper_r - a_r x) or lambda_r (lower_r - a_r x) is at least zero. So
L(lambda) is a proven bound whenever each service's maximum is replaced by a proven
bound on it (a time limit keeps the bound valid, only looser). The prices that make
it smallest are found by column generation (Dantzig-Wolfe): a small master LP chooses
a convex mix of the plans found so far for each service, its row duals are the next
prices, smoothed towards the best prices so far (Wentges); each service then gives
its best plan under those prices, which is a new column. The master's integer
version, one whole plan per service, gives plans that meet the rows.

What it returns is used by the strategy: the best plan (a start for the MIP), the
bound, and for every group a bound on any plan that uses it, which fixing uses on
top of the LP's reduced costs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np

from sharedsvc.rules import LinearRow
from sharedsvc.solver.backends import new_highs, relative_gap, run_highs
from sharedsvc.stopping import StopToken

Progress = Callable[[str], None]


@attrs.frozen(kw_only=True)
class ServicePlan:
    """What one service's solve under some prices gave."""

    positions: np.ndarray | None
    """The chosen groups, by position among the service's candidates; None if no plan
    was found in time (the bound still holds)."""
    value: float
    """The plan's worth under the prices it was solved with."""
    bound: float
    """A proven bound on the best plan under those prices (= value when optimal)."""
    lp_value: float | None = None
    """The service's LP optimum under those prices, if it was solved."""
    reduced_costs: np.ndarray | None = None
    """Each group's LP reduced cost under those prices (<= 0), if the LP was solved."""


ServiceSolver = Callable[[np.ndarray, float | None], ServicePlan | None]
"""Solves one service alone under the given column costs, by a deadline (perf_counter
seconds, or None); None when the service has no plan at all (its LP is infeasible)."""


@attrs.frozen(kw_only=True)
class Plan:
    """A plan of the whole block: each service's chosen groups, and what it is worth."""

    picked: dict[str, np.ndarray]
    value: float


@attrs.frozen(kw_only=True)
class Dual:
    """What the Lagrangian phase proved and found."""

    bound: float
    """No plan meeting the rows is worth more (infinite: nothing proven)."""
    prices: np.ndarray
    """The row prices that gave `bound`."""
    plan: Plan | None
    """The best plan found that meets every row, if any."""
    column_bounds: dict[str, np.ndarray]
    """Per service and group: no plan using that group is worth more."""
    parts: dict[str, float]
    """Per service: its bound under `prices` (its share of `bound`)."""
    iterations: int


@attrs.define
class _Pool:
    """The plans found so far for one service: their true values and row activities."""

    positions: list[np.ndarray] = attrs.Factory(list)
    values: list[float] = attrs.Factory(list)
    usage: list[np.ndarray] = attrs.Factory(list)
    seen: set[bytes] = attrs.Factory(set)

    def add(self, positions: np.ndarray, value: float, usage: np.ndarray) -> bool:
        key = np.sort(positions).astype(np.int64).tobytes()
        if key in self.seen:
            return False
        self.seen.add(key)
        self.positions.append(np.sort(positions))
        self.values.append(value)
        self.usage.append(usage)
        return True


class Coupled:
    """A block's services with the rows that tie them, as arrays.

    `values[s]` is each group's objective; `usage[s]` is a (rows x groups) matrix of
    the rows' coefficients (zero where a row leaves the service out)."""

    def __init__(
        self,
        values: Mapping[str, np.ndarray],
        rows: Sequence[LinearRow],
        alone: Mapping[str, np.ndarray | None],
    ):
        self.services = list(values)
        self.alone = dict(alone)
        """Per service: the positions of its members' groups of one, or None when some
        member may not stay alone (then leaving everyone alone is no plan)."""
        self.values = {s: np.asarray(v, dtype=float) for s, v in values.items()}
        self.rows = list(rows)
        self.lower = np.array([r.lower for r in rows], dtype=float)
        self.upper = np.array([r.upper for r in rows], dtype=float)
        self.usage = {
            s: np.array(
                [
                    np.asarray(r.coefficients[s], dtype=float)
                    if s in r.coefficients
                    else np.zeros(len(v))
                    for r in rows
                ]
            ).reshape(len(rows), len(v))
            for s, v in self.values.items()
        }

    def costs(self, service: str, prices: np.ndarray) -> np.ndarray:
        """The service's column costs once the rows are priced."""
        return self.values[service] - prices @ self.usage[service]

    def constant(self, prices: np.ndarray) -> float:
        """What the priced rows add to the bound: lambda upper (or lambda lower)."""
        total = 0.0
        for price, low, high in zip(prices, self.lower, self.upper, strict=True):
            if price > 0:
                total += price * high
            elif price < 0:
                total += price * low
        return total

    def price_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Each price's range: >= 0 needs a finite upper bound, <= 0 a finite lower one."""
        low = np.where(np.isfinite(self.lower), -np.inf, 0.0)
        high = np.where(np.isfinite(self.upper), np.inf, 0.0)
        return low, high

    def activity(self, service: str, positions: np.ndarray) -> np.ndarray:
        return self.usage[service][:, positions].sum(axis=1)

    def meets_rows(self, activity: np.ndarray) -> bool:
        slack = 1e-9 * np.maximum(1.0, np.abs(activity))
        return bool(
            np.all(activity >= self.lower - slack) and np.all(activity <= self.upper + slack)
        )


def lagrangian(
    coupled: Coupled,
    solvers: Mapping[str, ServiceSolver],
    prices: np.ndarray,
    *,
    deadline: float | None,
    progress: Progress,
    label: str,
    stop: StopToken,
    max_iterations: int = 40,
    stall: int = 2,
    tolerance: float = 1e-6,
    smoothing: float = 0.5,
    upper_bound: float = math.inf,
    known: float = -math.inf,
) -> Dual:
    """The best row prices by column generation, from `prices` (the LP's row duals are a
    good start); the plans met on the way combined into the best plan that meets the rows.

    Stops when the master's value meets the bound (to `tolerance`, relative), when
    `stall` rounds in a row did not lower the bound by that much (services solved only
    to their LP bound cannot take it below the LP's), after `max_iterations`, or at the
    deadline. `upper_bound` is a bound already proven (the
    LP's), reported while it is the better one; `known` the value of a plan found
    already. A round that the deadline interrupts is not counted: its bound would be
    incomplete."""
    low, high = coupled.price_limits()
    center = np.clip(np.asarray(prices, dtype=float), low, high)
    pools = {s: _Pool() for s in coupled.services}
    for s in coupled.services:  # every member alone, where that is a plan
        alone = coupled.alone.get(s)
        if alone is not None:
            alone = np.asarray(alone, dtype=np.int64)
            pools[s].add(alone, float(coupled.values[s][alone].sum()), coupled.activity(s, alone))
    best_bound = math.inf
    best_prices = center
    best_parts: dict[str, ServicePlan] = {}
    plan: Plan | None = None
    trial = center
    iterations = still = 0
    started = time.perf_counter()
    while iterations < max_iterations:
        stop.check()
        if deadline is not None and time.perf_counter() >= deadline:
            break
        iterations += 1
        parts: dict[str, ServicePlan] = {}
        added = False
        for s in coupled.services:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            solved = solvers[s](coupled.costs(s, trial), deadline)
            if solved is None:  # a service with no plan at all: the block is infeasible
                return Dual(
                    bound=-math.inf,
                    prices=trial,
                    plan=None,
                    column_bounds={},
                    parts={},
                    iterations=iterations,
                )
            parts[s] = solved
            if solved.positions is not None:
                positions = np.asarray(solved.positions, dtype=np.int64)
                added |= pools[s].add(
                    positions,
                    float(coupled.values[s][positions].sum()),
                    coupled.activity(s, positions),
                )
        if len(parts) < len(coupled.services):
            break  # out of time within the round
        bound = sum(p.bound for p in parts.values()) + coupled.constant(trial)
        if bound < best_bound - tolerance * max(1.0, abs(bound)):
            still = 0
        else:
            still += 1
        if bound < best_bound:
            best_bound, best_prices, best_parts = bound, trial, parts
            center = trial
        master_value, duals = _master_lp(coupled, pools)
        found = _master_plan(coupled, pools, deadline, stop)
        if found is not None and (plan is None or found.value > plan.value):
            plan = found
        shown = min(best_bound, upper_bound)
        value = max(known, -math.inf if plan is None else plan.value)
        progress(
            f"{label}: prices round {iterations}: bound {shown:,.0f}, plan "
            + (
                "none yet"
                if math.isinf(value)
                else f"{value:,.0f} ({relative_gap(value, shown):.3%})"
            )
            + f" ({time.perf_counter() - started:.1f} s)"
        )
        if value >= shown - tolerance * max(1.0, abs(shown)):
            break  # the plan meets the bound: optimal
        if master_value >= best_bound - tolerance * max(1.0, abs(best_bound)):
            break  # the prices are optimal: the bound will not fall further
        if still >= stall:
            break
        if iterations == 1 and bound >= upper_bound - tolerance * max(1.0, abs(bound)):
            break  # no service gains on its LP at the LP's prices: nothing to tighten
        # no new plan at smoothed prices (a mis-price): the master's own prices next,
        # which either give a new plan or prove the master's value a bound
        weight = smoothing if added else 0.0
        trial = next_prices(center, duals, weight, low, high)
    bounds = _column_bounds(coupled, best_bound, best_parts)
    return Dual(
        bound=best_bound,
        prices=best_prices,
        plan=plan,
        column_bounds=bounds,
        parts={s: p.bound for s, p in best_parts.items()},
        iterations=iterations,
    )


def next_prices(
    center: np.ndarray, duals: np.ndarray, smoothing: float, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Wentges smoothing: the master's row duals pulled towards the best prices so far,
    within each price's allowed sign."""
    return np.clip(smoothing * center + (1 - smoothing) * duals, low, high)


def _column_bounds(
    coupled: Coupled, bound: float, parts: Mapping[str, ServicePlan]
) -> dict[str, np.ndarray]:
    """For every group: no plan using it beats this. Service s's part of the bound is
    replaced by its LP under the same prices plus the group's reduced cost there."""
    out = {}
    if not math.isfinite(bound):
        return out
    for s, part in parts.items():
        if part.lp_value is None or part.reduced_costs is None:
            continue
        out[s] = bound - part.bound + part.lp_value + np.minimum(part.reduced_costs, 0.0)
    return out


def _master_lp(coupled: Coupled, pools: Mapping[str, _Pool]) -> tuple[float, np.ndarray]:
    """The restricted master LP: a convex mix of each service's plans meeting the rows
    (with priced slack, so that it always has a solution). Its value and row duals."""
    highs, row_count = _master(coupled, pools, integer=False)
    run_highs(highs, None)
    value = highs.getInfo().objective_function_value
    duals = np.array(highs.getSolution().row_dual)[len(coupled.services) : row_count]
    return value, duals


def _master_plan(
    coupled: Coupled, pools: Mapping[str, _Pool], deadline: float | None, stop: StopToken
) -> Plan | None:
    """One whole plan per service, meeting every row, worth most: a small MIP."""
    if any(not pools[s].values for s in coupled.services):
        return None
    highs, _ = _master(coupled, pools, integer=True)
    if deadline is not None:
        highs.setOptionValue("time_limit", max(0.1, deadline - time.perf_counter()))
    highs.setOptionValue("mip_rel_gap", 0.0)
    run_highs(highs, stop)
    info = highs.getInfo()
    if info.primal_solution_status != 2:
        return None
    x = np.array(highs.getSolution().col_value)
    picked, value, activity, column = {}, 0.0, np.zeros(len(coupled.rows)), 0
    for s in coupled.services:
        pool = pools[s]
        chosen = column + int(np.argmax(x[column : column + len(pool.values)]))
        k = chosen - column
        picked[s] = pool.positions[k]
        value += pool.values[k]
        activity += pool.usage[k]
        column += len(pool.values)
    if not coupled.meets_rows(activity):  # never trust a MIP's tolerance with the rows
        return None
    return Plan(picked=picked, value=value)


def _master(coupled: Coupled, pools: Mapping[str, _Pool], *, integer: bool):
    """The master over the pools: one column per plan; one convexity row per service,
    then the tying rows. As an LP it has slack columns at a high price on every row, so
    that it always has a solution; as a MIP it has none."""
    import highspy

    services = coupled.services
    rows = len(coupled.rows)
    costs, starts, index, value = [], [0], [], []
    for i, s in enumerate(services):
        pool = pools[s]
        for worth, usage in zip(pool.values, pool.usage, strict=True):
            costs.append(worth)
            nonzero = np.flatnonzero(usage)
            index.extend([i, *(len(services) + nonzero).tolist()])
            value.extend([1.0, *usage[nonzero].tolist()])
            starts.append(len(index))
    plans = len(costs)
    penalty = 1e3 * (1.0 + sum(max(map(abs, pools[s].values), default=0.0) for s in services))
    if not integer:
        for i, s in enumerate(services):
            if not pools[s].values:  # no plan yet: a priced stand-in keeps the LP solvable
                costs.append(-penalty)
                index.append(i)
                value.append(1.0)
                starts.append(len(index))
        for r in range(rows):
            scale = 1.0 + float(
                max((np.abs(u[r]).max() for s in services for u in pools[s].usage), default=0.0)
            )
            for sign in (1.0, -1.0):
                costs.append(-penalty / scale)
                index.append(len(services) + r)
                value.append(sign)
                starts.append(len(index))
    lp = highspy.HighsLp()
    lp.num_col_ = len(costs)
    lp.num_row_ = len(services) + rows
    lp.col_cost_ = np.array(costs, dtype=float)
    lp.col_lower_ = np.zeros(len(costs))
    lp.col_upper_ = np.full(len(costs), highspy.kHighsInf)
    lp.row_lower_ = np.concatenate((np.ones(len(services)), coupled.lower))
    lp.row_upper_ = np.concatenate((np.ones(len(services)), coupled.upper))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    if integer:
        lp.col_upper_ = np.ones(plans)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * plans
    highs = new_highs()
    highs.passModel(lp)
    return highs, len(services) + rows
