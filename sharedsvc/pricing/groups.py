"""Groups laid end to end as arrays: the shape every bulk computation over groups takes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
import numpy as np


def runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Every position of the runs [starts[i], starts[i] + lengths[i]), in turn: the
    entries of chosen columns or groups in arrays laid end to end."""
    lengths = np.asarray(lengths)
    return np.repeat(starts, lengths) + (
        np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )


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

    def masks(self, bit_of: np.ndarray | None = None) -> np.ndarray:
        """Each group as a 64-bit mask of its members' bits (`bit_of[member]`, or the
        member's own index): at most 64 members."""
        bits = self.members if bit_of is None else bit_of[self.members]
        return np.bitwise_or.reduceat(
            np.left_shift(np.uint64(1), bits.astype(np.uint64)), self.starts
        )

    def member_positions(self, chosen: np.ndarray) -> np.ndarray:
        """The positions in `members` of the chosen groups' members."""
        chosen = np.asarray(chosen, dtype=np.int64)
        return runs(self.starts[chosen], self.sizes[chosen])

    def sum(self, per_member: np.ndarray) -> np.ndarray:
        """Sum of a per-member array over each group's members (groups must not be empty)."""
        return np.add.reduceat(per_member[self.members], self.starts)
