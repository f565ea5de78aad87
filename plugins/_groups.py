"""Array helpers shared by the built-in cost models: groups batched by size."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np


def by_size(groups: Sequence[Sequence[int]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (positions, members) for each group size: members is a (groups, size) index array."""
    sizes = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    for size in np.unique(sizes):
        positions = np.flatnonzero(sizes == size)
        members = np.array([groups[p] for p in positions], dtype=np.int64).reshape(
            len(positions), size
        )
        yield positions, members


def per_group(
    groups: Sequence[Sequence[int]], compute: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply `compute(members)` to each size batch and gather one value per group."""
    out = np.empty(len(groups))
    for positions, members in by_size(groups):
        out[positions] = compute(members)
    return out


def pooling_factor(own: np.ndarray, pooled: np.ndarray, exponent: float) -> np.ndarray:
    """(pooled / own) ** (exponent - 1): how a member's unit cost falls in a bigger pool."""
    return (pooled / own) ** (exponent - 1.0)


def pairs(size: int) -> float:
    """Relationships among `size` members: governance effort grows with these."""
    return size * (size - 1) / 2
