"""The LP relaxation of a block as a HiGHS model: from a PuLP problem, or from arrays.

Large blocks are relaxed straight from the candidates' arrays when every
constraint with rows gives them as arrays (`Constraint.linear_rows`): making a
PuLP variable per group took 30 s for 1.5 million groups, the arrays 2 s.
Columns are named by `build.column_name`, as in the PuLP model, so plans and
kept columns read the same from either path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import pulp

from sharedsvc.constants import Objective
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.groups import FlatGroups, runs
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.rules import Constraint, LinearRow, rule_failed
from sharedsvc.solver.backends import new_highs, run_highs
from sharedsvc.solver.names import column_name
from sharedsvc.stopping import StopToken


@attrs.define
class Relaxation:
    """A HiGHS model of a block's LP relaxation, and the name of each of its columns.

    `solve_lp` keeps its last solution here, and the columns its sifting worked with
    (a start for the next solve under other costs); `set_costs` and `set_upper_bounds`
    forget the solution."""

    highs: object
    names: list[str]
    solution: LpSolution | None = None
    working: np.ndarray | None = None
    keep_arrays: bool = False
    """Keep the model as arrays (`sifting`) from one sifting to the next, up to date
    through the setters below: reading a model of 243,000 groups from HiGHS took 0.3 s,
    once per LP of `levels.py`. Off by default: on random-40 keeping them for every
    relaxation took the peak from 3.3 to 4.8 GB."""
    sifting: _Sifting | None = None

    def set_costs(self, costs: np.ndarray) -> None:
        count = len(self.names)
        self.highs.changeColsCost(count, np.arange(count, dtype=np.int32), costs)
        if self.sifting is not None:
            self.sifting.cost = np.array(costs, dtype=float)
        self.solution = None

    def set_upper_bounds(self, upper: np.ndarray) -> None:
        count = len(self.names)
        lower = np.asarray(self.highs.getLp().col_lower_)
        self.highs.changeColsBounds(count, np.arange(count, dtype=np.int32), lower, upper)
        if self.sifting is not None:
            self.sifting.upper = np.array(upper, dtype=float)
        self.solution = None

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        self.highs.changeRowBounds(row, lower, upper)
        if self.sifting is not None:
            self.sifting.row_lower[row] = lower
            self.sifting.row_upper[row] = upper
        self.solution = None


@attrs.define(eq=False)
class _Sifting:
    """The whole model as arrays (a HighsLp read column-wise), for sifting."""

    sense: object
    rows: int
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray

    @classmethod
    def of(cls, model) -> _Sifting:
        starts, index, value = colwise(model)
        return cls(
            sense=model.sense_,
            rows=model.num_row_,
            starts=starts,
            index=index,
            value=value,
            cost=np.asarray(model.col_cost_),
            lower=np.asarray(model.col_lower_),
            upper=np.asarray(model.col_upper_),
            row_lower=np.array(model.row_lower_, dtype=float),
            row_upper=np.array(model.row_upper_, dtype=float),
        )


@attrs.frozen(kw_only=True)
class LpSolution:
    """The LP optimum of a relaxation: its value, each column's value and reduced cost
    (c_j - y A_j), and each row's dual y. `status` says whether there is one."""

    status: str
    """"optimal", "infeasible", or "unsolved" (the time ran out, or HiGHS gave up)."""
    objective: float = math.nan
    values: np.ndarray | None = None
    reduced_costs: np.ndarray | None = None
    duals: np.ndarray | None = None

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


def solve_lp(
    lp: Relaxation,
    time_limit: float | None,
    stop: StopToken | None,
    *,
    sift_min_columns: int,
) -> LpSolution:
    """The LP optimum of `lp` (kept on it until its costs or bounds change).

    From `sift_min_columns` columns on, by sifting: the LP over a few columns (those
    of the last solve, or each member's best few), then the columns whose reduced cost
    under its duals is positive are added, until none is. That LP's optimum is the
    whole LP's, since no column left out could improve it; on London's boroughs with
    490,459 groups it took 0.3 s in LP solves where the whole LP took 8.4 s. A
    restricted LP that is not optimal (infeasible: too few columns) ends sifting, and
    the whole LP is solved instead.
    """
    if lp.solution is not None:
        return lp.solution
    started = time.perf_counter()
    solution = None
    if len(lp.names) >= sift_min_columns:
        solution = _sift(lp, time_limit, stop)
        if solution is None and time_limit is not None:
            time_limit = max(0.1, time_limit - (time.perf_counter() - started))
    if solution is None:
        solution = _solve_whole(lp, time_limit, stop)
    if solution.status != "unsolved":  # kept only when settled: more time may solve it
        lp.solution = solution
    return solution


def _solve_whole(lp: Relaxation, time_limit: float | None, stop: StopToken | None) -> LpSolution:
    import highspy

    h = lp.highs
    h.setOptionValue("simplex_strategy", 4)  # primal simplex: far faster on these LPs
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    run_highs(h, stop)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return LpSolution(status="infeasible")
    if status != highspy.HighsModelStatus.kOptimal:
        return LpSolution(status="unsolved")
    solution = h.getSolution()
    return LpSolution(
        status="optimal",
        objective=h.getInfo().objective_function_value,
        values=np.array(solution.col_value),
        reduced_costs=np.array(solution.col_dual),
        duals=np.array(solution.row_dual),
    )


def _sift(lp: Relaxation, time_limit: float | None, stop: StopToken | None) -> LpSolution | None:
    """The LP optimum by sifting; None when a restricted LP was not optimal."""
    import highspy

    deadline = None if time_limit is None else time.perf_counter() + time_limit
    state = lp.sifting if lp.sifting is not None else _Sifting.of(lp.highs.getLp())
    lp.sifting = state if lp.keep_arrays else None
    starts, index, value, cost = state.starts, state.index, state.value, state.cost
    count = len(cost)
    lengths = np.diff(starts)
    if lp.working is not None:
        working = lp.working.copy()
    else:
        working = _first_columns(cost, starts, index, state.rows)
    h, _ = _highs()
    h.passModel(_lp_over(state, np.flatnonzero(working)))
    h.setOptionValue("simplex_strategy", 4)
    columns = list(np.flatnonzero(working))
    while True:
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            h.setOptionValue("time_limit", left)
        run_highs(h, stop)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        z = h.getInfo().objective_function_value
        duals = np.array(h.getSolution().row_dual)
        reduced = cost.copy()
        filled = np.flatnonzero(lengths > 0)
        if len(filled):  # reduceat over columns with a row each (an empty last one fails)
            reduced[filled] -= np.add.reduceat(value * duals[index], starts[filled])
        # a column left out with a positive reduced cost d could add d to the optimum:
        # below a millionth of a pound each, the optimum is exact to well within the
        # 1e-3 that a plan must reach to be called optimal
        tolerance = 1e-6
        entering = np.flatnonzero((reduced > tolerance) & ~working)
        if not len(entering):
            break
        entering = entering[np.argsort(-reduced[entering], kind="stable")]
        entering = np.sort(entering[: max(1000, len(columns))])
        working[entering] = True
        columns.extend(entering.tolist())
        spans = lengths[entering]
        take = runs(starts[entering], spans)
        h.addCols(
            len(entering),
            cost[entering],
            state.lower[entering],
            state.upper[entering],
            int(spans.sum()),
            np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int32),
            index[take].astype(np.int32),
            value[take],
        )
    values = np.zeros(count)
    values[np.array(columns, dtype=np.int64)] = np.array(h.getSolution().col_value)
    lp.working = working
    return LpSolution(
        status="optimal", objective=z, values=values, reduced_costs=reduced, duals=duals
    )


def _first_columns(
    cost: np.ndarray, starts: np.ndarray, index: np.ndarray, rows: int, per_row: int = 10
) -> np.ndarray:
    """The columns to sift from: each row's best few by cost per row covered, and every
    column of one row (a member alone)."""
    lengths = np.diff(starts)
    share = cost / np.maximum(lengths, 1)
    column_of = np.repeat(np.arange(len(cost)), lengths)
    order = np.lexsort((-share[column_of], index))
    row_starts = np.searchsorted(index[order], np.arange(rows + 1))
    rank = np.arange(len(order)) - np.repeat(row_starts[:-1], np.diff(row_starts))
    chosen = np.zeros(len(cost), dtype=bool)
    chosen[column_of[order[rank < per_row]]] = True
    chosen[lengths == 1] = True
    return chosen


def _lp_over(state: _Sifting, columns: np.ndarray):
    """The LP of the sifted model over only `columns` (no integrality)."""
    import highspy

    starts, index = state.starts, state.index
    lengths = starts[columns + 1] - starts[columns]
    take = runs(starts[columns], lengths)
    sub = highspy.HighsLp()
    sub.num_col_ = len(columns)
    sub.num_row_ = state.rows
    sub.col_cost_ = state.cost[columns]
    sub.col_lower_ = state.lower[columns]
    sub.col_upper_ = state.upper[columns]
    sub.row_lower_ = state.row_lower
    sub.row_upper_ = state.row_upper
    sub.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    sub.a_matrix_.start_ = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    sub.a_matrix_.index_ = index[take].astype(np.int32)
    sub.a_matrix_.value_ = state.value[take]
    sub.sense_ = state.sense
    return sub


def _highs():
    import highspy

    return new_highs(), highspy


def from_problem(problem: pulp.LpProblem) -> Relaxation:
    """The LP relaxation of a PuLP maximisation."""
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
        row_lower, row_upper = row_bounds(row)
        lower.append(row_lower)
        upper.append(row_upper)
    lp.num_row_ = len(lower)
    lp.row_lower_ = np.array(lower, dtype=float)
    lp.row_upper_ = np.array(upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    return Relaxation(highs=h, names=[v.name for v in variables])


def row_bounds(row: pulp.LpConstraint) -> tuple[float, float]:
    """A PuLP row as lower <= expression <= upper (infinite where open)."""
    rhs = -row.constant
    lower = rhs if row.sense in (pulp.LpConstraintEQ, pulp.LpConstraintGE) else -math.inf
    upper = rhs if row.sense in (pulp.LpConstraintEQ, pulp.LpConstraintLE) else math.inf
    return lower, upper


def side_rows(
    candidates: Mapping[str, Sequence[Candidate]], constraints: Sequence[Constraint]
) -> list[LinearRow] | None:
    """Every row the constraints add to this block, as arrays; None if one cannot say."""
    services = list(candidates)
    rows: list[LinearRow] = []
    for constraint in constraints:
        if not set(constraint.linked_services(services)) & set(services):
            continue
        try:
            given = constraint.linear_rows(candidates)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code, SystemExit included: name it
            raise rule_failed(constraint, "linear_rows", exc) from exc
        if given is None:
            return None
        for row in given:
            for service, coefficients in row.coefficients.items():
                shape = np.shape(coefficients)
                if service not in candidates or shape != (len(candidates[service]),):
                    raise rule_failed(
                        constraint,
                        "linear_rows",
                        f"row {row.name!r} has coefficients of shape {shape} for service "
                        f"{service!r}, which has {len(candidates.get(service, ()))} groups here",
                    )
        rows.extend(given)
    return rows


def from_columns(
    pricers: Mapping[str, ServicePricer],
    candidates: Mapping[str, Sequence[Candidate]],
    rows: Sequence[LinearRow],
    objective: Objective,
) -> Relaxation | None:
    """The LP relaxation built from arrays; None when some member has no allowed group.

    Rows: one "in exactly one group" row per (service, sharer), in `candidates`'
    order, then `rows`. Columns: each service's candidates in order.
    """
    h, highspy = _highs()
    col_rows, col_ids, values, costs, names = [], [], [], [], []
    row_offset = column_offset = 0
    for service, cands in candidates.items():
        flat = FlatGroups.of([c.indices for c in cands])
        sharers = len(pricers[service].ids)
        if sharers and (not cands or np.bincount(flat.members, minlength=sharers).min() == 0):
            return None
        col_rows.append(flat.members + row_offset)
        col_ids.append(np.repeat(np.arange(len(cands)), flat.sizes) + column_offset)
        values.append(np.ones(len(flat.members)))
        costs.append(np.fromiter((c.value(objective) for c in cands), float, len(cands)))
        names.extend(column_name(pricers[service].tag, j) for j in range(len(cands)))
        row_offset += sharers
        column_offset += len(cands)
    lower = [1.0] * row_offset
    upper = [1.0] * row_offset
    for row in rows:
        offset = 0
        for service, cands in candidates.items():
            coefficients = row.coefficients.get(service)
            if coefficients is not None:  # shapes checked by `side_rows`
                coefficients = np.asarray(coefficients, dtype=float)
                nonzero = np.flatnonzero(coefficients)
                col_rows.append(np.full(len(nonzero), len(lower)))
                col_ids.append(nonzero + offset)
                values.append(coefficients[nonzero])
            offset += len(cands)
        lower.append(row.lower)
        upper.append(row.upper)
    matrix_rows = np.concatenate(col_rows)
    matrix_cols = np.concatenate(col_ids)
    order = np.lexsort((matrix_rows, matrix_cols))
    lp = highspy.HighsLp()
    lp.num_col_ = column_offset
    lp.num_row_ = len(lower)
    lp.col_cost_ = np.concatenate(costs)
    lp.col_lower_ = np.zeros(column_offset)
    lp.col_upper_ = np.ones(column_offset)
    lp.row_lower_ = np.array(lower, dtype=float)
    lp.row_upper_ = np.array(upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(matrix_cols[order], np.arange(column_offset + 1)).astype(
        np.int32
    )
    lp.a_matrix_.index_ = matrix_rows[order].astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(values)[order]
    lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    return Relaxation(highs=h, names=names)


def restricted_mip(lp: Relaxation, columns: np.ndarray, model=None) -> Relaxation:
    """A new HiGHS model: the MIP over only these columns of `lp` (indices, ascending).

    `model` is `lp.highs.getLp()` if the caller has already fetched it.

    A separate small model, because a MIP over all columns with the rest fixed at
    zero spent most of its time limit in presolve (1.5 million columns: over 100 s).
    """
    import highspy

    full = lp.highs.getLp() if model is None else model
    starts, index, value = colwise(full)
    lengths = starts[columns + 1] - starts[columns]
    take = runs(starts[columns], lengths)
    h, _ = _highs()
    sub = highspy.HighsLp()
    sub.num_col_ = len(columns)
    sub.num_row_ = full.num_row_
    sub.col_cost_ = np.asarray(full.col_cost_)[columns]
    sub.col_lower_ = np.asarray(full.col_lower_)[columns]
    sub.col_upper_ = np.minimum(np.asarray(full.col_upper_)[columns], 1.0)  # 0/1 columns
    sub.row_lower_ = np.asarray(full.row_lower_)
    sub.row_upper_ = np.asarray(full.row_upper_)
    sub.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    sub.a_matrix_.start_ = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    sub.a_matrix_.index_ = index[take].astype(np.int32)
    sub.a_matrix_.value_ = value[take]
    sub.integrality_ = [highspy.HighsVarType.kInteger] * len(columns)
    sub.sense_ = highspy.ObjSense.kMaximize
    h.passModel(sub)
    return Relaxation(highs=h, names=[lp.names[i] for i in columns])


def colwise(lp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The constraint matrix of a HighsLp as column starts, row indices and values."""
    import highspy

    matrix = lp.a_matrix_
    starts = np.asarray(matrix.start_)
    index = np.asarray(matrix.index_)
    value = np.asarray(matrix.value_)
    if matrix.format_ == highspy.MatrixFormat.kColwise:
        return starts, index, value
    rows = np.repeat(np.arange(lp.num_row_), np.diff(starts))
    order = np.lexsort((rows, index))
    col_starts = np.searchsorted(index[order], np.arange(lp.num_col_ + 1))
    return col_starts, rows[order], value[order]
