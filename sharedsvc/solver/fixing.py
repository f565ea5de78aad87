"""Shrink a model exactly: LP relaxation, a good plan, and reduced-cost fixing.

For a maximisation with LP optimum z and reduced cost d_j <= 0 of a column at
zero, every plan that uses column j is worth at most z + d_j. Given a plan worth
g, each column with z + d_j < g can be dropped: no plan using it beats g. The
plan comes from the MIP restricted to the LP's support, the members alone, and
the columns of best reduced cost. When every column outside that restricted
set is dropped, its optimum is the optimum; otherwise the MIP over the columns
kept is solved, and its optimum is the optimum. A tolerance of a millionth of
the objective (plus a pound) keeps LP round-off from dropping a column wrongly.

This is the step the solvers notes measured at 3.6 s where CBC took 20 s and
HiGHS's MIP 174 s (`../shared/notes/solvers.md`).
"""

from __future__ import annotations

import time
from collections.abc import Collection

import attrs
import numpy as np
import pulp

from sharedsvc.settings import Settings
from sharedsvc.solver import relaxation
from sharedsvc.solver.backends import run_highs
from sharedsvc.stopping import StopToken


@attrs.frozen(kw_only=True)
class Reduction:
    lp_bound: float
    incumbent: float | None
    """Objective of the plan found on the restricted set (None if none was found)."""
    incumbent_values: dict[str, float]
    kept: frozenset[str]
    """Names of the columns that may still be in a better plan."""
    proven: bool
    """True when the incumbent is optimal for the whole model."""
    seconds: float
    reduced_costs: np.ndarray | None = None
    """The LP reduced cost of each column (<= 0; the closer to 0, the more promising)."""
    duals: np.ndarray | None = None
    """The LP dual of each row."""


def reduce_model(
    problem: pulp.LpProblem,
    always_keep: Collection[str],
    time_limit: float | None = None,
    *,
    settings: Settings,
    stop: StopToken | None = None,
) -> Reduction | None:
    """LP, restricted MIP and reduced-cost fixing of a PuLP model; see `reduce_relaxation`."""
    return reduce_relaxation(
        relaxation.from_problem(problem), always_keep, time_limit, settings=settings, stop=stop
    )


def reduce_relaxation(
    lp: relaxation.Relaxation,
    always_keep: Collection[str],
    time_limit: float | None = None,
    restricted_seconds: float | None = None,
    *,
    settings: Settings,
    stop: StopToken | None = None,
) -> Reduction | None:
    """LP, restricted MIP and reduced-cost fixing; None if the LP could not be solved.

    The restricted MIP's size and time come from `settings` (`restricted_*`);
    `restricted_seconds` overrides its time (0: no restricted MIP).
    """
    if restricted_seconds is None:
        restricted_seconds = settings.restricted_seconds
    started = time.perf_counter()
    import highspy

    h, names = lp.highs, lp.names
    solution = relaxation.solve_lp(lp, time_limit, stop, sift_min_columns=settings.sift_min_columns)
    if not solution.optimal:
        return None
    x = solution.values
    reduced = np.minimum(solution.reduced_costs, 0.0)
    z = solution.objective
    keep_always = np.array([name in always_keep for name in names])

    model = h.getLp()  # a copy: fetched once (1.5 million columns take a while)
    rounded = rounded_plan(model, x, keep_always)
    incumbent = None
    values: dict[str, float] = {}
    restricted = np.zeros(len(names), dtype=bool)  # the columns of the restricted MIP
    restricted_optimal = False
    if restricted_seconds > 0:
        restricted |= (x > 1e-9) | keep_always
        extra = min(
            settings.restricted_maximum,
            max(settings.restricted_minimum, int(settings.restricted_extra * len(names))),
        )
        restricted[np.argsort(-reduced, kind="stable")[:extra]] = True
        restricted_idx = np.flatnonzero(restricted)
        mip = relaxation.restricted_mip(lp, restricted_idx, model)
        mip.highs.setOptionValue("mip_rel_gap", 0.0)
        if rounded is not None:
            start = highspy.HighsSolution()
            start.col_value = rounded[restricted_idx].astype(float)
            mip.highs.setSolution(start)
        budget = restricted_seconds
        if time_limit is not None:
            budget = min(budget, max(1.0, (time_limit - (time.perf_counter() - started)) / 2))
        mip.highs.setOptionValue("time_limit", budget)
        run_highs(mip.highs, stop)
        if mip.highs.getInfo().primal_solution_status == 2:  # feasible
            incumbent = mip.highs.getInfo().objective_function_value
            plan = np.array(mip.highs.getSolution().col_value)
            values = {mip.names[i]: float(plan[i]) for i in np.flatnonzero(plan > 0.5)}
        restricted_optimal = mip.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
    if rounded is not None:
        value = float(np.asarray(model.col_cost_) @ rounded)
        if incumbent is None or value > incumbent:
            incumbent = value
            values = {names[i]: 1.0 for i in np.flatnonzero(rounded)}
    if incumbent is None:
        kept = frozenset(names)
        return Reduction(
            lp_bound=z,
            incumbent=None,
            incumbent_values={},
            kept=kept,
            proven=False,
            seconds=time.perf_counter() - started,
        )
    tolerance = 1e-6 * max(1.0, abs(z)) + 1.0
    keep = (z + reduced >= incumbent - tolerance) | (x > 1e-9) | keep_always
    # proven when the restricted MIP is optimal and nothing outside it was kept, or when
    # the plan reaches the LP bound (to a tenth of a penny: the tests ask for a penny)
    proven = (restricted_optimal and not (keep & ~restricted).any()) or incumbent >= z - 1e-3
    return Reduction(
        lp_bound=z,
        incumbent=incumbent,
        incumbent_values=values,
        kept=frozenset(names[i] for i in np.flatnonzero(keep)),
        proven=proven,
        seconds=time.perf_counter() - started,
        reduced_costs=reduced,
        duals=solution.duals,
    )


def rounded_plan(model, x: np.ndarray, fill: np.ndarray) -> np.ndarray | None:
    """A plan near the LP optimum `x`, as a 0/1 array over the columns; None if none found.

    The LP's whole columns first, then its fractional ones, best objective first,
    then the `fill` columns (the members alone), each taken while no row goes over
    its upper bound. It is a plan only if every row then meets its lower bound too,
    which is checked, so it holds for any rows the constraints add.
    """
    starts, rows, values = relaxation.colwise(model)
    lower = np.asarray(model.row_lower_)
    upper = np.asarray(model.row_upper_)
    cost = np.asarray(model.col_cost_)
    # per row: one tolerance scaled by the largest bound (a £1bn budget) let a group of
    # two into a member's "exactly one" row that already held a group of one
    bounds = np.abs(np.where(np.isfinite(upper), upper, 0.0))
    bounds = np.maximum(bounds, np.abs(np.where(np.isfinite(lower), lower, 0.0)))
    tolerance = 1e-9 * np.maximum(1.0, bounds)
    plan = x >= 1 - 1e-6
    lengths = np.diff(starts)
    activity = np.zeros(model.num_row_)
    taken = np.repeat(plan, lengths)
    np.add.at(activity, rows[taken], values[taken])
    if (activity > upper + tolerance).any():
        return None
    fractional = np.flatnonzero((x > 1e-6) & ~plan)
    order = fractional[np.argsort(-cost[fractional], kind="stable")]
    for j in [*order.tolist(), *np.flatnonzero(fill & ~plan).tolist()]:
        r = rows[starts[j] : starts[j + 1]]
        v = values[starts[j] : starts[j + 1]]
        if (activity[r] + v <= upper[r] + tolerance[r]).all():
            activity[r] += v
            plan[j] = True
    if (activity < lower - tolerance).any():
        return None
    return plan
