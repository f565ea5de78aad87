"""A service's best plan within a level of a budget row (`solver/level_search.py`) and
the levels bound that uses it, against enumeration of every partition.

The search's proof holds for any member duals and any slope >= 0, so it is checked
with the LP's duals and with random ones: a search that leaned on the duals being
optimal would fail the second.
"""

from __future__ import annotations

import itertools
import math
import random

import highspy
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_decomposition import integer_optimum, plans_of
from test_levels import bound_by_levels, service_lps

from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.rules import LinearRow
from sharedsvc.solver import level_search
from sharedsvc.solver.relaxation import solve_lp
from sharedsvc.stopping import StopToken


def random_service(rng: random.Random, members: int, least: int = 0):
    """Groups of one to four (every member alone allowed), values that may be negative,
    members alone worth something too, and units from `least` to 4 per group."""
    groups = [(m,) for m in range(members)]
    for size in (2, 3, 4):
        groups += [g for g in itertools.combinations(range(members), size) if rng.random() < 0.5]
    if least and members >= 2 and len(groups) == members:
        groups.append((0, 1))  # a service that uses the row
    values = np.array(
        [rng.randint(-30, 30) if len(g) == 1 else rng.randint(-60, 200) for g in groups],
        dtype=float,
    )
    units = np.array([0 if len(g) == 1 else rng.randint(least, 4) for g in groups], dtype=float)
    return groups, values, units


def best_by_enumeration(members, groups, values, units, level) -> float:
    return max(float(values[p].sum()) for p in plans_of(members, groups) if units[p].sum() <= level)


def lp_duals(members, groups, values, units, level, count_range=None):
    """The member duals and the level row's dual of the service's LP at `level` (and
    the count row's, with the count in `count_range`); None if that LP is infeasible."""
    build = service_lps({"s": (members, groups, values, None)})
    counted = None if count_range is None else np.array([len(g) > 1 for g in groups])
    lp = build("s", units, counted)
    lp.highs.changeRowBounds(members, -highspy.kHighsInf, float(level))
    if count_range is not None:
        lp.highs.changeRowBounds(members + 1, *count_range)
    solution = solve_lp(lp, None, None, sift_min_columns=10**9)
    if not solution.optimal:
        return None
    if count_range is None:
        return solution.duals[:members], float(solution.duals[members])
    return solution.duals[:members], float(solution.duals[members]), solution.duals[members + 1]


def search(members, groups, values, units, level, duals, slope, **options):
    return level_search.best_within(
        FlatGroups.of(groups),
        members,
        values,
        units,
        level,
        duals,
        slope,
        max_nodes=options.pop("max_nodes", 10**7),
        deadline=None,
        stop=StopToken(),
        **options,
    )


def assert_a_plan_within(members, groups, units, level, found):
    """Each member in exactly one of the found groups, within the level."""
    covered = sorted(m for j in found.positions for m in groups[j])
    assert covered == list(range(members))
    assert units[found.positions].sum() <= level


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rng=st.randoms(use_true_random=False),
    members=st.integers(1, 7),
    level=st.integers(0, 9),
    duals=st.sampled_from(["lp", "random", "zero"]),
)
def test_the_search_finds_the_best_plan_within_the_level(rng, members, level, duals):
    groups, values, units = random_service(rng, members)
    if duals == "lp":
        y, slope = lp_duals(members, groups, values, units, level)
    elif duals == "random":
        y = np.array([rng.uniform(-50, 250) for _ in range(members)])
        slope = rng.uniform(-20, 80)  # a negative slope counts as none
    else:
        y, slope = np.zeros(members), 0.0
    found = search(members, groups, values, units, level, y, slope)
    best = best_by_enumeration(members, groups, values, units, level)
    assert_a_plan_within(members, groups, units, level, found)
    assert found.value == float(values[found.positions].sum())
    assert found.proven
    assert found.value == best
    assert found.bound >= best
    event(f"{found.nodes} nodes" if found.nodes < 3 else "3 nodes or more")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), level=st.integers(0, 9))
def test_a_search_out_of_nodes_keeps_a_plan_and_the_lp_bound(rng, level):
    members = 7
    groups, values, units = random_service(rng, members)
    y, slope = lp_duals(members, groups, values, units, level)
    found = search(members, groups, values, units, level, y, slope, max_nodes=1)
    best = best_by_enumeration(members, groups, values, units, level)
    assert_a_plan_within(members, groups, units, level, found)
    assert found.value <= best
    assert found.bound >= best - 1e-6 * max(1.0, abs(best))
    if not found.proven:
        event("stopped")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), members=st.integers(1, 7))
def test_one_service_searched_at_many_levels_matches_fresh_searches(rng, members):
    """The levels search each service many times over one `Service` (its greedy orders
    and masks made once): every search finds what a search of its own finds."""
    groups, values, units = random_service(rng, members)
    service = level_search.Service.of(FlatGroups.of(groups), members, values, units)
    for _ in range(4):
        level = rng.randint(0, 9)
        y = np.array([rng.uniform(-50, 250) for _ in range(members)])
        slope = rng.uniform(0, 80)
        options = dict(max_nodes=10**7, deadline=None, stop=StopToken())
        reused = service.best_within(level, y, slope, **options)
        fresh = search(members, groups, values, units, level, y, slope)
        assert (
            reused.value
            == fresh.value
            == best_by_enumeration(members, groups, values, units, level)
        )
        assert reused.proven and fresh.proven
        assert np.array_equal(reused.positions, fresh.positions)
        assert reused.nodes == fresh.nodes


def test_a_seed_is_kept_when_it_is_the_best_plan():
    """Greedy takes the pair worth 10 and then nothing fits; the seed's two pairs (9 + 9)
    are better and are kept, then proven best."""
    groups = [(0,), (1,), (2,), (3,), (0, 2), (0, 1), (2, 3)]
    values = np.array([0, 0, 0, 0, 10.0, 9.0, 9.0])
    units = np.array([0, 0, 0, 0, 1.0, 1.0, 1.0])
    found = search(4, groups, values, units, 2, np.zeros(4), 0.0, seed=np.array([5, 6]))
    assert found.value == 18.0
    assert found.proven
    assert sorted(found.positions) == [5, 6]


def test_the_search_declines_what_it_cannot_prove():
    groups = [(0,), (1,), (0, 1)]
    values = np.array([0.0, 0.0, 5.0])
    # a group of one that uses the row
    assert search(2, groups, values, np.array([1.0, 0, 1]), 1, np.zeros(2), 0.0) is None
    # a member who may not stay alone
    assert search(2, groups[1:], values[1:], np.array([0, 1.0]), 1, np.zeros(2), 0.0) is None
    # a member with two groups of one: which is its value alone?
    twice = [(0,), (1,), (1,), (0, 1)]
    assert search(2, twice, np.array([0, 0, 9.0, 5]), np.zeros(4), 1, np.zeros(2), 0.0) is None


def single_row_case(rng: random.Random):
    """Two or three services, one budget row (units exact: whole thousands) that every
    group of two or more uses (the levels leave out a service that does not)."""
    services = {}
    for s in range(rng.randint(2, 3)):
        members = rng.randint(2, 5)
        groups, values, units = random_service(rng, members, least=1)
        services[f"s{s}"] = (members, groups, values * 1000.0, units * 1000.0)
    budget = float(rng.choice([0, 1, 2, 3, 5, 8])) * 1000.0
    rows = [LinearRow("budget", {s: c for s, (_, _, _, c) in services.items()}, upper=budget)]
    return services, rows


def search_for(services):
    """A `levels.LevelSearch` over the synthetic services."""

    def prepare(service, costs, units):
        members, groups, _, _ = services[service]
        prepared = level_search.Service.of(FlatGroups.of(groups), members, costs, units)
        if prepared is None:
            return None

        def run(level, duals, slope, count_dual, count_range, seed, nodes):
            return prepared.best_within(
                level,
                duals,
                slope,
                max_nodes=nodes,
                deadline=None,
                stop=StopToken(),
                seed=seed,
                count_dual=count_dual,
                count_range=count_range,
            )

        return run

    return prepare


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), first_nodes=st.sampled_from([1, 100_000]))
def test_levels_searched_to_their_best_plans_reach_the_optimum(rng, first_nodes):
    """One budget row and exact units: once every level the knapsack picks is searched
    to its best plan, its value is the optimum and the plans it combines reach it. A
    first search of one node proves almost nothing: the levels the knapsack picks are
    then split and searched again, deeper each time, until proven."""
    services, rows = single_row_case(rng)
    plans = {s: plans_of(m, g) for s, (m, g, _, _) in services.items()}
    best = integer_optimum(services, rows, plans)
    found = bound_by_levels(
        services,
        rows,
        np.zeros(1),
        plans,
        search=search_for(services),
        search_nodes=(first_nodes, 10**7),
    )
    assert found is not None and best is not None  # everyone alone meets a budget
    assert found.bound >= best - 1e-6 * max(1.0, abs(best))
    assert found.plan is not None
    plan_value = sum(float(services[s][2][p].sum()) for s, p in found.plan.items())
    spent = sum(float(services[s][3][p].sum()) for s, p in found.plan.items())
    assert spent <= rows[0].upper
    assert plan_value == found.plan_value <= best
    assert math.isclose(found.bound, best, rel_tol=1e-9, abs_tol=1e-4)  # the proofs' slack
    assert math.isclose(plan_value, best, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rng=st.randoms(use_true_random=False),
    members=st.integers(2, 7),
    level=st.integers(0, 9),
    fewest=st.integers(0, 3),
    extra=st.sampled_from([0, 1, 2, None]),
)
def test_one_branch_of_the_count_is_proven_whatever_its_dual(rng, members, level, fewest, extra):
    """Within a range of group counts, with random duals on every row (a count dual of
    the wrong sign for an open end must count as none), the search proves the best plan
    in the range, and what it returns is a plan."""
    groups, values, units = random_service(rng, members)
    most = math.inf if extra is None else fewest + extra
    low = -math.inf if fewest == 0 and rng.random() < 0.5 else float(fewest)
    y = np.array([rng.uniform(-50, 250) for _ in range(members)])
    slope, count_dual = rng.uniform(-20, 80), rng.uniform(-100, 100)
    at_lp = lp_duals(members, groups, values, units, level, (low, most))
    if at_lp is not None and rng.random() < 0.7:  # the branch LP's duals: a tight proof
        y, slope, count_dual = at_lp
        event("the branch LP's duals")
    found = search(
        members,
        groups,
        values,
        units,
        level,
        y,
        slope,
        count_dual=count_dual,
        count_range=(low, most),
    )
    within = [
        float(values[p].sum())
        for p in plans_of(members, groups)
        if units[p].sum() <= level and low <= sum(len(groups[j]) > 1 for j in p) <= most
    ]
    assert_a_plan_within(members, groups, units, level, found)
    assert found.proven
    assert found.value <= best_by_enumeration(members, groups, values, units, level)
    if within:
        assert found.bound >= max(within)
        assert found.value >= max(within)
    # the proof itself, plan by plan: D plus the plan's rc^- is at least its worth
    top, reduced = level_search.dual_bound(
        FlatGroups.of(groups), values, units, level, y, slope, count_dual, (low, most)
    )
    for p in plans_of(members, groups):
        if units[p].sum() <= level and low <= sum(len(groups[j]) > 1 for j in p) <= most:
            assert float(values[p].sum()) <= top + np.minimum(reduced[p], 0.0).sum() + 1e-6
