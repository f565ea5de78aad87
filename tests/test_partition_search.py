"""The search inside the LP gap against brute-force enumeration of partitions."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from bruteforce import partitions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedsvc import FlatGroups, Settings
from sharedsvc.solver.search import partition_search, search_order

SETTINGS = Settings()
BY_GROUP = Settings(search_by_group_from=0)
"""Every step of the search scans by group, however few its pairs (by state below 512)."""


@st.composite
def instances(draw, singletons=True):
    """Members, groups (each a sorted tuple, distinct) and their values."""
    members = draw(st.integers(1, 8))
    subsets = st.lists(
        st.integers(0, members - 1), min_size=min(2, members), max_size=members, unique=True
    )
    groups = {tuple(sorted(g)) for g in draw(st.lists(subsets, max_size=25))}
    if singletons:
        groups |= {(i,) for i in range(members)}
    groups = sorted(groups)
    values = draw(
        st.lists(
            st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
            min_size=len(groups),
            max_size=len(groups),
        )
    )
    return members, groups, np.array(values)


def brute_force(members, groups, values) -> float | None:
    """The best total over every partition made of these groups, or None if there is none."""
    value = {g: v for g, v in zip(groups, values, strict=True)}
    best = None
    for partition in partitions(list(range(members))):
        blocks = [tuple(sorted(b)) for b in partition]
        if all(b in value for b in blocks):
            total = math.fsum(value[b] for b in blocks)
            best = total if best is None else max(best, total)
    return best


def lp_duals(members, groups, values) -> np.ndarray:
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for _ in values:
        h.addVar(0.0, highspy.kHighsInf)
    h.changeColsCost(len(values), np.arange(len(values), dtype=np.int32), values)
    for i in range(members):
        columns = [j for j, g in enumerate(groups) if i in g]
        h.addRow(1.0, 1.0, len(columns), np.array(columns, dtype=np.int32), np.ones(len(columns)))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    return np.array(h.getSolution().row_dual)


def assert_is_partition(members, groups, found):
    covered = sorted(i for j in found for i in groups[j])
    assert covered == list(range(members))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instance=instances(),
    dual_kind=st.sampled_from(["lp", "zero", "random"]),
    scan=st.sampled_from([SETTINGS, BY_GROUP]),
    data=st.data(),
)
def test_the_search_finds_the_brute_force_optimum(instance, dual_kind, scan, data):
    """Whatever duals it is given (LP, zero or arbitrary), and scanning the pairs by
    state or by group, the answer is the optimum."""
    members, groups, values = instance
    best = brute_force(members, groups, values)
    if dual_kind == "lp":
        duals = lp_duals(members, groups, values)
    elif dual_kind == "zero":
        duals = np.zeros(members)
    else:
        duals = np.array(
            data.draw(st.lists(st.floats(-1e6, 1e6), min_size=members, max_size=members))
        )
    found = partition_search(members, FlatGroups.of(groups), values, duals, None, settings=scan)
    assert found.stopped is None
    assert_is_partition(members, groups, found.columns)
    assert values[found.columns].sum() == pytest.approx(best, abs=1e-3)
    assert found.bound == pytest.approx(best, abs=1e-3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances(), above=st.floats(0, 1e5))
def test_a_floor_caps_the_search_and_its_bound_is_true(instance, above):
    """With a floor below the optimum the optimum is found; above it, the bound is the floor."""
    members, groups, values = instance
    best = brute_force(members, groups, values)
    duals = lp_duals(members, groups, values)
    below = partition_search(
        members, FlatGroups.of(groups), values, duals, best - above, settings=SETTINGS
    )
    assert values[below.columns].sum() == pytest.approx(best, abs=1e-3)
    over = partition_search(
        members, FlatGroups.of(groups), values, duals, best + above + 1, settings=SETTINGS
    )
    assert over.columns is None or values[over.columns].sum() == pytest.approx(best, abs=1e-3)
    assert over.bound >= best - 1e-3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances(singletons=False))
def test_no_partition_is_told_apart_from_a_weak_bound(instance):
    members, groups, values = instance
    best = brute_force(members, groups, values)
    found = partition_search(
        members, FlatGroups.of(groups), values, np.zeros(members), None, settings=SETTINGS
    )
    if best is None:
        assert found.columns is None and found.bound == -math.inf
    else:
        assert values[found.columns].sum() == pytest.approx(best, abs=1e-3)


@pytest.mark.parametrize("scan", [SETTINGS, BY_GROUP], ids=["by state", "by group"])
def test_a_search_out_of_time_or_memory_says_so_and_keeps_a_true_bound(scan):
    rng = np.random.default_rng(3)
    members = 12
    groups = sorted(
        {tuple(sorted(rng.choice(members, rng.integers(1, 5), replace=False))) for _ in range(400)}
        | {(i,) for i in range(members)}
    )
    values = rng.uniform(-1, 10, len(groups)) * np.array([len(g) - 1 for g in groups])
    best = brute_force(members, groups, values)
    duals = lp_duals(members, groups, values)
    flat = FlatGroups.of(groups)
    late = partition_search(
        members, flat, values, duals, None, settings=scan, deadline=time.perf_counter() - 1
    )
    assert late.stopped == "time" and late.columns is None and late.bound >= best - 1e-6
    full = partition_search(members, flat, values, duals, None, settings=scan, max_states=3)
    assert full.stopped == "states" and full.bound >= best - 1e-6


def test_scanning_by_group_meets_the_same_states_as_by_state():
    """On a consortium big enough for both ways (a grid of 20 members, groups of up to
    five neighbours), the two scans meet the same states at every budget, and find the
    same plan and the same bounds through each group."""
    from sharedsvc.solver.search import best_with_each

    rng = np.random.default_rng(11)
    side = 5
    members = 4 * side
    neighbours = {
        i: [j for j in range(members) if abs(i // side - j // side) + abs(i % side - j % side) == 1]
        for i in range(members)
    }
    groups = {(i,) for i in range(members)}
    frontier = set(groups)
    for _ in range(4):  # grow each group by one neighbour, up to five members
        frontier = {
            tuple(sorted({*g, j})) for g in frontier for i in g for j in neighbours[i] if j not in g
        }
        groups |= frontier
    groups = sorted(groups)
    values = np.array([rng.uniform(0, 10) * (len(g) - 1) - len(g) for g in groups])
    flat = FlatGroups.of(groups)
    duals = lp_duals(members, groups, values)
    by_state = Settings(search_by_group_from=10**12)
    budgets = []
    for scan in (by_state, BY_GROUP):
        found = partition_search(members, flat, values, duals, None, settings=scan)
        budgets.append((found.states, found.bound, sorted(found.columns)))
    assert budgets[0] == budgets[1]
    assert budgets[0][0] > 1000  # a search with work in it, not a trivial one
    floor = budgets[0][1] - 0.02 * abs(budgets[0][1])
    through = [
        best_with_each(members, flat, values, duals, floor, settings=scan)
        for scan in (by_state, BY_GROUP)
    ]
    assert through[0].states == through[1].states
    np.testing.assert_allclose(through[0].with_group, through[1].with_group, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 5)), min_size=0, max_size=60),
    covered=st.integers(0, 20),
)
def test_the_least_loss_per_state_matches_a_sort_by_state_and_loss(entries, covered):
    """The merge of the ways to one state keeps each state once, at its least loss, in
    state order: as the plain sort by (state, loss) does, for keys of 32 bits and wider."""
    from sharedsvc.solver.search import _least_per_mask

    low = (1 << covered) - 1
    masks = np.array([(m << covered) | low for m, _ in entries], dtype=np.uint64)
    lost = np.array([float(loss) for _, loss in entries])
    kept = _least_per_mask(masks, lost, covered)
    expected = {}
    for m, loss in zip(masks.tolist(), lost.tolist(), strict=True):
        expected[m] = min(loss, expected.get(m, math.inf))
    assert masks[kept].tolist() == sorted(expected)
    assert lost[kept].tolist() == [expected[m] for m in sorted(expected)]


@given(st.lists(st.integers(0, 2**62), max_size=50))
def test_the_first_uncovered_member_is_the_lowest_clear_bit(masks):
    from sharedsvc.solver.search import _first_uncovered

    found = _first_uncovered(np.array(masks, dtype=np.uint64)).tolist()
    assert found == [next(b for b in range(64) if not m >> b & 1) for m in masks]


def test_the_order_keeps_a_path_s_frontier_at_one():
    """Members on a line (pairs only between neighbours) are taken from one end to the other."""
    line = [5, 2, 7, 0, 3, 6, 1, 4]
    groups = [(i,) for i in range(8)] + [tuple(sorted(p)) for p in itertools.pairwise(line)]
    order = list(search_order(8, FlatGroups.of(groups)))
    assert order in (line, line[::-1])


def brute_force_through(members, groups, values) -> tuple[float | None, list[float | None]]:
    """The best partition's total, and for each group the best total of a partition
    that uses it (None where no partition uses it)."""
    value = {g: v for g, v in zip(groups, values, strict=True)}
    position = {g: j for j, g in enumerate(groups)}
    best, through = None, [None] * len(groups)
    for partition in partitions(list(range(members))):
        blocks = [tuple(sorted(b)) for b in partition]
        if all(b in value for b in blocks):
            total = math.fsum(value[b] for b in blocks)
            best = total if best is None else max(best, total)
            for b in blocks:
                j = position[b]
                through[j] = total if through[j] is None else max(through[j], total)
    return best, through


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instance=instances(singletons=False),
    use_duals=st.booleans(),
    share=st.sampled_from([-0.1, 0.0, 0.05, 0.3, math.inf]),
    scan=st.sampled_from([SETTINGS, BY_GROUP]),
)
def test_the_best_plan_through_each_group_is_exact(instance, use_duals, share, scan):
    """Above its floor, `best_with_each` gives every group's best partition exactly;
    below it, the floor bounds every partition through the group."""
    from sharedsvc.solver.search import best_with_each

    members, groups, values = instance
    best, through = brute_force_through(members, groups, values)
    if best is None:
        return
    duals = lp_duals(members, groups, values) if use_duals else np.zeros(members)
    spread = float(np.abs(values).sum()) + 1.0
    # (round-off margin: a floor exactly at the optimum may miss it by a rounding)
    floor = -math.inf if math.isinf(share) else best - share * spread - 1e-9 * spread
    found = best_with_each(members, FlatGroups.of(groups), values, duals, floor, settings=scan)
    assert found is not None
    if math.isinf(found.optimum):  # nothing above the floor: the floor bounds every plan
        assert share < 0
        assert best <= found.beyond + 1e-6 * spread
        return
    assert found.optimum == pytest.approx(best, abs=1e-6 * spread)
    for j, expected in enumerate(through):
        if found.with_group[j] > found.beyond + 1e-9 * spread:  # within the budget: exact
            assert expected == pytest.approx(found.with_group[j], abs=1e-6 * spread)
        elif expected is not None:  # beyond it: every plan through j is worth less
            assert expected <= found.beyond + 1e-6 * spread


def test_the_bounds_through_each_group_give_up_before_outgrowing_their_cap():
    """A search that would keep more states than allowed says so (None) instead of
    piling them up: the reached states count before they are merged."""
    from sharedsvc.solver.search import best_with_each

    members = 8
    groups = [(i,) for i in range(members)] + list(itertools.combinations(range(members), 2))
    values = np.array([0.0] * members + [1.0] * (len(groups) - members))
    found = best_with_each(
        members,
        FlatGroups.of(groups),
        values,
        np.zeros(members),
        -math.inf,
        settings=SETTINGS,
        max_states=5,
    )
    assert found is None
    whole = best_with_each(
        members, FlatGroups.of(groups), values, np.zeros(members), -math.inf, settings=SETTINGS
    )
    assert whole is not None and whole.optimum == pytest.approx(4.0)
