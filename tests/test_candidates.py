"""Candidate enumeration against plain enumeration with a connectivity check."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsvc.candidates import all_groups, connected_groups, count_all_groups


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
