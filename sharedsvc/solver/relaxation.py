"""The LP relaxation of a block as a HiGHS model: from a PuLP problem, or from arrays.

Large blocks are relaxed straight from the candidates' arrays when every
constraint with rows gives them as arrays (`Constraint.linear_rows`): making a
PuLP variable per group took 30 s for 1.5 million groups, the arrays 2 s.
Columns are named by `build.column_name`, as in the PuLP model, so plans and
kept columns read the same from either path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import pulp

from sharedsvc.constants import Objective
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.rules import Constraint, LinearRow, rule_failed
from sharedsvc.solver.backends import new_highs
from sharedsvc.solver.names import column_name


@attrs.frozen
class Relaxation:
    """A HiGHS model of a block's LP relaxation, and the name of each of its columns."""

    highs: object
    names: list[str]


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
    take = np.repeat(starts[columns], lengths) + (
        np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
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
