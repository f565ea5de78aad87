"""Candidate enumeration against plain enumeration with a connectivity check."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsvc.pricing.candidates import (
    all_groups,
    connected_groups,
    count_all_groups,
    dominated_groups,
)


def is_connected(group, edges):
    seen, frontier = {group[0]}, [group[0]]
    while frontier:
        v = frontier.pop()
        for u in group:
            if u not in seen and frozenset((u, v)) in edges:
                seen.add(u)
                frontier.append(u)
    return len(seen) == len(group)


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 9))
    pairs = list(itertools.combinations(range(n), 2))
    edges = {frozenset(p) for p in pairs if draw(st.booleans())}
    return n, edges, draw(st.integers(1, n))


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_connected_groups_are_exactly_the_connected_subsets(graph):
    n, edges, max_size = graph
    adjacency = [frozenset(u for u in range(n) if frozenset((u, v)) in edges) for v in range(n)]
    found = list(connected_groups(adjacency, max_size))
    assert len(found) == len(set(found)), "each connected group exactly once"
    expected = {g for g in all_groups(n, max_size) if is_connected(g, edges)}
    assert set(found) == expected


def test_all_groups_counts():
    assert len(list(all_groups(6, 3))) == count_all_groups(6, 3) == 15 + 20
    assert count_all_groups(4, 4) == 11  # Bell-free check: 2^4 - 4 - 1


@st.composite
def priced_groups(draw):
    n = draw(st.integers(3, 8))
    every = list(all_groups(n, n))
    groups = draw(st.lists(st.sampled_from(every), min_size=1, max_size=60, unique=True))
    # few distinct figures, so ties (which prune) are common
    value = np.array([draw(st.integers(0, 4)) for _ in groups], dtype=float)
    transition = np.array([draw(st.integers(0, 3)) for _ in groups], dtype=float)
    return groups, value, transition


@settings(max_examples=300, deadline=None)
@given(priced_groups())
def test_dominated_groups_match_the_definition(case):
    groups, value, transition = case
    position = {g: i for i, g in enumerate(groups)}
    expected = []
    for g, v, t in zip(groups, value, transition, strict=True):
        smaller = (position.get(g[:i] + g[i + 1 :]) for i in range(len(g)))
        expected.append(
            len(g) >= 3
            and any(j is not None and value[j] >= v and transition[j] <= t for j in smaller)
        )
    assert dominated_groups(groups, value, transition).tolist() == expected


def test_a_hash_collision_never_prunes(monkeypatch):
    """With every member's key equal, all groups of a size collide; only true subsets prune."""
    monkeypatch.setattr(np.random, "default_rng", lambda seed: _ConstantKeys())
    groups = [(0, 1), (2, 3), (0, 1, 4), (2, 3, 4, 5)]
    value = np.array([10.0, 10.0, 5.0, 5.0])
    transition = np.zeros(4)
    assert dominated_groups(groups, value, transition).tolist() == [False, False, True, False]


class _ConstantKeys:
    def integers(self, low, high, size, dtype):
        return np.full(size, 7, dtype=dtype)
