"""Optimal LP bases kept between solves of the same block under other prices.

Re-optimised draws (`sharedsvc simulate --reoptimise`) solve the same blocks again
and again with only the groups' figures moved. Started from an earlier optimal
basis, the simplex has a primal feasible start and needs a few pivots instead of
a cold start (measured on london.toml's hr service, 46,937 columns: 0.17 s cold,
0.08 s warm). The basis is only a starting point: the LP is still solved to
optimality, so the answer does not depend on it. Statuses are kept by column
name, so a column missing from the next solve drops out; when the result is not
a valid basis HiGHS refuses it and starts cold.

Each block keeps the first basis it saved (the central values' solve, when the
caller starts there), so every draw starts from the same point whichever draws a
worker solved before it: ties between equally good plans break the same way at
any number of workers.
"""

from __future__ import annotations

import attrs


@attrs.define
class Bases:
    """The first optimal basis of each block (by its label): column statuses by
    column name, row statuses by row."""

    saved: dict[str, tuple[list[str], object]] = attrs.Factory(dict)

    def save(self, label: str, highs, names: list[str]) -> None:
        """Keep `highs`'s basis for `label` unless one is kept already (see the module)."""
        if label in self.saved:
            return
        basis = highs.getBasis()
        if basis.valid:
            self.saved[label] = (list(names), basis)

    def restore(self, label: str, highs, names: list[str]) -> bool:
        """Start `highs` from the basis kept for `label`; False when there is none or
        HiGHS refused it (then it starts cold)."""
        import highspy

        if label not in self.saved:
            return False
        kept_names, kept = self.saved[label]
        if len(kept.row_status) != highs.getNumRow():
            return False
        if names == kept_names:  # the same columns (no pruning): the basis as it was
            return highs.setBasis(kept) == highspy.HighsStatus.kOk
        basic = highspy.HighsBasisStatus.kBasic
        by_name = dict(zip(kept_names, kept.col_status, strict=True))
        basis = highspy.HighsBasis()
        basis.col_status = [by_name.get(name, highspy.HighsBasisStatus.kLower) for name in names]
        basis.row_status = list(kept.row_status)
        basis.valid = True
        count = sum(1 for s in basis.col_status if s == basic)
        count += sum(1 for s in basis.row_status if s == basic)
        if count != len(basis.row_status):  # a basic column has gone: not a basis
            return False
        return highs.setBasis(basis) == highspy.HighsStatus.kOk
