"""Small linear programmes over the members of one service, solved by HiGHS.

The fair-shares LPs have a column per member (and one for the excess) and rows
that grow as blocking groups are found, so they are built row-wise, straight
from arrays, and re-solved from HiGHS's previous basis after rows are added.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sharedsvc.errors import SolverError
from sharedsvc.solver.backends import new_highs


class RowLp:
    """min c.x subject to bounded columns and rows lower <= a.x <= upper."""

    def __init__(self, costs: Sequence[float], lower: Sequence[float], upper: Sequence[float]):
        import highspy

        self._highspy = highspy
        self.h = new_highs()
        self.columns = len(costs)
        self.h.addCols(
            self.columns,
            np.asarray(costs, dtype=float),
            np.asarray(lower, dtype=float),
            np.asarray(upper, dtype=float),
            0,
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=float),
        )
        self.rows = 0

    @property
    def infinity(self) -> float:
        return self._highspy.kHighsInf

    def add_rows(
        self,
        members: Sequence[Sequence[int]],
        coefficients: Sequence[Sequence[float]],
        lower: Sequence[float],
        upper: Sequence[float],
    ) -> range:
        """Add rows (each a list of columns and their coefficients); their positions."""
        if not members:
            return range(self.rows, self.rows)
        starts = np.cumsum([0] + [len(m) for m in members[:-1]]).astype(np.int32)
        index = np.concatenate([np.asarray(m, dtype=np.int32) for m in members])
        value = np.concatenate([np.asarray(c, dtype=float) for c in coefficients])
        self.h.addRows(
            len(members),
            np.asarray(lower, dtype=float),
            np.asarray(upper, dtype=float),
            len(index),
            starts,
            index,
            value,
        )
        first = self.rows
        self.rows += len(members)
        return range(first, self.rows)

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        self.h.changeRowBounds(row, lower, upper)

    def solve(self) -> tuple[np.ndarray, np.ndarray]:
        """(column values, row duals) at the optimum; `SolverError` if there is none."""
        self.h.run()
        status = self.h.getModelStatus()
        if status != self._highspy.HighsModelStatus.kOptimal:
            raise SolverError(
                f"HiGHS ended a fair-shares LP {self.h.modelStatusToString(status)}; "
                "expected an optimum (please report this consortium)"
            )
        solution = self.h.getSolution()
        return np.array(solution.col_value), np.array(solution.row_dual)
