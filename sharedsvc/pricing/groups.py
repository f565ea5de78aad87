"""Groups laid end to end as arrays: the shape every bulk computation over groups takes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
import numpy as np


@attrs.frozen(kw_only=True)
class FlatGroups:
    """Groups laid end to end, for summing per-member arrays per group with numpy.

    `members` lists every group's member indices in turn; group g's run starts at
    `starts[g]` and is `sizes[g]` long, so `np.add.reduceat(x[members], starts)`
    sums `x` over each group.
    """

    members: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, groups: Sequence[Sequence[int]]) -> FlatGroups:
        # map and chain run in C: no Python frame per member (a third of the time)
        sizes = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
        members = np.fromiter(
            itertools.chain.from_iterable(groups), dtype=np.int64, count=int(sizes.sum())
        )
        return cls(
            members=members, starts=np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes=sizes
        )

    def sum(self, per_member: np.ndarray) -> np.ndarray:
        """Sum of a per-member array over each group's members (groups must not be empty)."""
        return np.add.reduceat(per_member[self.members], self.starts)
