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

import math
import time
from collections.abc import Collection

import attrs
import numpy as np
import pulp

from sharedsvc.solve import _native_stdout_silenced

RESTRICTED_EXTRA = 0.05
"""Share of all columns (best reduced cost first) added to the restricted MIP..."""
RESTRICTED_MINIMUM = 2000
"""...and at least this many."""
RESTRICTED_SECONDS = 10.0
"""At most this long for the restricted MIP: its plan is a means, not the end."""


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


def _highs():
    import highspy

    with _native_stdout_silenced():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h, highspy


def to_highs(problem: pulp.LpProblem):
    """The LP relaxation of a PuLP maximisation, as a HiGHS model; and its variable names."""
    h, highspy = _highs()
    variables = problem.variables()
    position = {v.name: i for i, v in enumerate(variables)}
    costs = np.zeros(len(variables))
    for var, coef in problem.objective.items():
        costs[position[var.name]] = coef
    lp = highspy.HighsLp()
    lp.num_col_ = len(variables)
    lp.col_cost_ = costs
    lp.col_lower_ = np.array([v.lowBound or 0.0 for v in variables], dtype=float)
    lp.col_upper_ = np.array(
        [v.upBound if v.upBound is not None else highspy.kHighsInf for v in variables], dtype=float
    )
    starts, index, value, lower, upper = [0], [], [], [], []
    for row in problem.constraints():  # the list API of PuLP 3.3 and 4
        for var, coef in row.items():
            index.append(position[var.name])
            value.append(coef)
        starts.append(len(index))
        rhs = -row.constant
        lower.append(rhs if row.sense in (pulp.LpConstraintEQ, pulp.LpConstraintGE) else -math.inf)
        upper.append(rhs if row.sense in (pulp.LpConstraintEQ, pulp.LpConstraintLE) else math.inf)
    lp.num_row_ = len(lower)
    lp.row_lower_ = np.array(lower, dtype=float)
    lp.row_upper_ = np.array(upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    return h, [v.name for v in variables]


def reduce_model(
    problem: pulp.LpProblem, always_keep: Collection[str], time_limit: float | None = None
) -> Reduction | None:
    """LP, restricted MIP and reduced-cost fixing; None if the LP could not be solved."""
    started = time.perf_counter()
    import highspy

    h, names = to_highs(problem)
    h.setOptionValue("simplex_strategy", 4)  # primal simplex: far faster on these LPs
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    solution = h.getSolution()
    x = np.array(solution.col_value)
    reduced = np.minimum(np.array(solution.col_dual), 0.0)
    z = h.getInfo().objective_function_value
    keep_always = np.array([name in always_keep for name in names])

    restricted = (x > 1e-9) | keep_always
    extra = max(RESTRICTED_MINIMUM, int(RESTRICTED_EXTRA * len(names)))
    restricted[np.argsort(-reduced, kind="stable")[:extra]] = True
    restricted_idx = np.flatnonzero(restricted)
    outside = np.flatnonzero(~restricted)
    h.changeColsBounds(
        len(outside), outside.astype(np.int32), np.zeros(len(outside)), np.zeros(len(outside))
    )
    h.changeColsIntegrality(
        len(restricted_idx),
        restricted_idx.astype(np.int32),
        np.array([highspy.HighsVarType.kInteger] * len(restricted_idx)),
    )
    h.setOptionValue("mip_rel_gap", 0.0)
    budget = RESTRICTED_SECONDS
    if time_limit is not None:
        budget = min(budget, max(1.0, (time_limit - (time.perf_counter() - started)) / 2))
    h.setOptionValue("time_limit", budget)
    h.run()
    incumbent = None
    values: dict[str, float] = {}
    if h.getInfo().primal_solution_status == 2:  # feasible
        incumbent = h.getInfo().objective_function_value
        plan = np.array(h.getSolution().col_value)
        values = {names[i]: float(plan[i]) for i in np.flatnonzero(plan > 0.5)}
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
    restricted_optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    proven = restricted_optimal and not (keep & ~restricted).any()
    return Reduction(
        lp_bound=z,
        incumbent=incumbent,
        incumbent_values=values,
        kept=frozenset(names[i] for i in np.flatnonzero(keep)),
        proven=proven,
        seconds=time.perf_counter() - started,
    )
