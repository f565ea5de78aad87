"""The bound over a budget row's levels (`solver/levels.py`), against enumeration.

References: every plan of every service enumerated (`test_decomposition.plans_of`),
the best plan meeting the rows by enumeration, and the knapsack by brute force over
every choice of levels.
"""

from __future__ import annotations

import itertools
import math
import random

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_decomposition import integer_optimum, random_case, run_dual

from sharedsvc.rules import LinearRow
from sharedsvc.solver import lagrange, levels
from sharedsvc.solver.relaxation import Relaxation, solve_lp
from sharedsvc.stopping import StopToken


def service_lps(services):
    """A `levels.LevelLp` over synthetic services: one row per member ("in exactly one
    group"), then the level row, then the count row if asked for."""

    def build(service: str, units: np.ndarray, counted: np.ndarray | None = None) -> Relaxation:
        members, groups, values, _ = services[service]
        extra = 1 if counted is None else 2
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        lp = highspy.HighsLp()
        lp.num_col_ = len(groups)
        lp.num_row_ = members + extra
        lp.col_cost_ = np.asarray(values, dtype=float)
        lp.col_lower_ = np.zeros(len(groups))
        lp.col_upper_ = np.ones(len(groups))
        lp.row_lower_ = np.r_[np.ones(members), [-highspy.kHighsInf] * extra]
        lp.row_upper_ = np.r_[np.ones(members), [highspy.kHighsInf] * extra]
        starts, index, value = [0], [], []
        for j, group in enumerate(groups):
            index += list(group)
            value += [1.0] * len(group)
            if units[j]:
                index.append(members)
                value.append(float(units[j]))
            if counted is not None and counted[j]:
                index.append(members + 1)
                value.append(1.0)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value)
        lp.sense_ = highspy.ObjSense.kMaximize
        h.passModel(lp)
        return Relaxation(highs=h, names=[f"{service}_{j}" for j in range(len(groups))])

    return build


def bound_by_levels(services, rows, prices, plans, **options):
    coupled = lagrange.Coupled(
        {s: values for s, (_, _, values, _) in services.items()},
        rows,
        {s: np.arange(members) for s, (members, _, _, _) in services.items()},
    )
    parts = {}  # each service's best under the prices, by enumeration
    for s in services:
        costs = coupled.costs(s, prices)
        parts[s] = max(float(costs[p].sum()) for p in plans[s])
    return levels.level_bound(
        coupled,
        prices,
        parts,
        service_lps(services),
        deadline=None,
        stop=StopToken(),
        sift_min_columns=10**9,
        row=0,
        **options,
    )


def random_start(rng, services, plans):
    """A `start` for `level_bound`: one plan of each service, as column values."""
    start = {}
    for s, (_, groups, _, _) in services.items():
        start[s] = np.zeros(len(groups))
        start[s][rng.choice(plans[s])] = 1.0
    return start


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), max_units=st.sampled_from([1000, 7, 2]))
def test_the_level_bound_covers_the_best_plan(rng, max_units):
    """Valid at any prices on the other rows, whether the units are the coefficients'
    divisor (exact) or coarser (rounded down: max_units 7 or 2)."""
    services, rows = random_case(rng)
    dual, plans = run_dual(services, rows)
    best = integer_optimum(services, rows, plans)
    low, high = lagrange.Coupled({s: v[2] for s, v in services.items()}, rows, {}).price_limits()
    for prices in (dual.prices, np.abs(dual.prices) * rng.random() * 2):
        prices = np.clip(prices, low, high)
        # from the highest level, or either side of a plan's use
        start = random_start(rng, services, plans) if rng.random() < 0.5 else None
        found = bound_by_levels(services, rows, prices, plans, max_units=max_units, start=start)
        if found is None or best is None:  # no plan meets the rows: nothing to cover
            event("no bound, or no plan")
            continue
        assert found.bound >= best - 1e-6 * max(1.0, abs(best))
        if found.bound < dual.bound - 1e-6 * max(1.0, abs(dual.bound)):
            event("tighter than the Lagrangian dual")


def test_the_levels_close_a_gap_the_prices_cannot():
    """Two pairs worth 100 each, transition costs 2, a budget of 3: the LP and the
    Lagrangian dual take one and a half pairs (150); a plan can take one (100)."""
    services = {"s": (4, [(0,), (1,), (2,), (3,), (0, 1), (2, 3)], None, None)}
    values = np.array([0, 0, 0, 0, 100.0, 100.0])
    cost = np.array([0, 0, 0, 0, 2.0, 2.0])
    services = {"s": (4, services["s"][1], values, cost)}
    rows = [LinearRow("budget", {"s": cost}, upper=3.0)]
    dual, plans = run_dual(services, rows)
    assert dual.bound == pytest.approx(150.0)
    found = bound_by_levels(services, rows, np.zeros(1), plans)
    assert found.unit == 2.0
    assert found.bound == pytest.approx(100.0)
    assert integer_optimum(services, rows, plans) == pytest.approx(100.0)


def test_a_service_uses_only_multiples_of_its_own_step():
    """Steps of 3 and 2 in units of 1, a budget of 4: the knapsack may not give the
    first service 1 unit; it takes its 3 or the second service's 2 (or 4)."""
    first = (2, [(0,), (1,), (0, 1)], np.array([0, 0, 90.0]), np.array([0, 0, 3.0]))
    second = (
        4,
        [(0,), (1,), (2,), (3,), (0, 1), (2, 3)],
        np.array([0, 0, 0, 0, 50.0, 50.0]),
        np.array([0, 0, 0, 0, 2.0, 2.0]),
    )
    services = {"a": first, "b": second}
    rows = [LinearRow("budget", {s: c for s, (_, _, _, c) in services.items()}, upper=4.0)]
    dual, plans = run_dual(services, rows)
    found = bound_by_levels(services, rows, np.zeros(1), plans)
    assert integer_optimum(services, rows, plans) == pytest.approx(100.0)
    assert found.bound == pytest.approx(100.0)
    assert dual.bound > 100.0 + 1e-6  # the prices alone leave a gap


def test_a_fine_row_is_not_walked_one_level_at_a_time():
    """A row in fractions of a pound is counted in 4,472 units. The LP takes one and a
    half groups of three at every level from 1,573 units up, and the best plan takes
    one. The knapsack used to walk up those levels one LP at a time, drawn by the
    tangents' millionth of slack, then down the levels below 1,573, splitting each
    (2,437 LPs). Now a split's tangents bound the levels around it, and an unsolved
    level worth only the slack more than a solved one is not solved."""
    groups = [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2)]
    services = {
        "a": (
            3,
            groups,
            np.array([0, 0, 0, 10.0, 10.0, 10.0]),
            np.array([0, 0, 0, 1234.5, 2345.7, 3456.1]),
        ),
        "b": (2, [(0,), (1,), (0, 1)], np.array([0, 0, 5.0]), np.zeros(3)),
    }
    rows = [LinearRow("budget", {s: c for s, (_, _, _, c) in services.items()}, upper=10000.0)]
    dual, plans = run_dual(services, rows)
    found = bound_by_levels(services, rows, dual.prices, plans)
    best = integer_optimum(services, rows, plans)
    assert found.unit == pytest.approx(10000 / 4472)
    assert best - 1e-9 <= found.bound <= best + 1e-4  # closed, to the slack
    assert found.evaluations <= 20


def exact_only(self):
    """A broken envelope: the levels solved, and nothing between them."""
    bound = np.full(self.most + 1, -math.inf)
    for level, value in self.values.items():
        bound[level] = value
    return bound


def flat_tangents(self, tangents, valid_to=None):
    """Broken tangents: each slope taken as zero."""
    value = max(float(solution.objective) for _, solution in tangents)
    bound = np.full(self.most + 1, value + 1e-6 * max(1.0, abs(value)))
    np.minimum(self.tangents, bound, out=self.tangents)


def least_branch(self, tangents, valid_to=None):
    """Broken tangents: a split's branches give the least of their tangents, as if
    every plan were in each branch."""
    for tangent in tangents:
        ADD_TANGENTS(self, [tangent], valid_to)


def infeasible_everywhere(self, tangents, valid_to=None):
    """Broken tangents: a branch infeasible at the level split is taken as infeasible
    at every level (its tangent from the top level dropped)."""
    ADD_TANGENTS(self, [t for t in tangents if t[0] == tangents[0][0]])


ADD_TANGENTS = levels._Curve._add_tangents


@pytest.mark.parametrize(
    "breakage",
    [
        ("envelope", exact_only),
        ("_add_tangents", flat_tangents),
        ("_add_tangents", least_branch),
        ("_add_tangents", infeasible_everywhere),
    ],
)
def test_a_broken_envelope_is_caught(monkeypatch, breakage):
    """Forgetting the tangents, or their slopes, or that a split level's plans are in
    one branch or the other, gives bounds below the best plan on the random cases
    above: the validity test sees it."""
    monkeypatch.setattr(levels._Curve, *breakage)
    broken = 0
    for seed in range(200):
        rng = random.Random(seed)
        services, rows = random_case(rng)
        dual, plans = run_dual(services, rows)
        best = integer_optimum(services, rows, plans)
        start = random_start(rng, services, plans)
        found = bound_by_levels(services, rows, dual.prices, plans, start=start)
        if best is not None and found is not None and found.bound < best - 1e-6:
            broken += 1
    assert broken > 0


@settings(max_examples=200, deadline=None)
@given(
    curves=st.lists(
        st.lists(
            st.one_of(st.integers(-5, 20).map(float), st.sampled_from([-math.inf, math.inf])),
            min_size=1,
            max_size=6,
        ),
        min_size=1,
        max_size=3,
    ),
    capacity=st.integers(0, 8),
)
def test_the_knapsack_against_every_choice(curves, capacity):
    named = {f"s{i}": np.array(c) for i, c in enumerate(curves)}
    value, chosen = levels._knapsack(named, capacity)
    best = -math.inf
    for ks in itertools.product(*(range(capacity + 1) for _ in curves)):
        if sum(ks) <= capacity:
            picked = [c[min(k, len(c) - 1)] for c, k in zip(curves, ks, strict=True)]
            # -inf: no plan at that level, whatever the others are worth (+inf: unknown)
            worth = -math.inf if -math.inf in picked else sum(picked)
            best = max(best, worth)
    assert value == best
    if best == -math.inf:  # some service has no level at all
        return
    assert sum(chosen.values()) <= capacity
    assert sum(named[s][min(k, len(named[s]) - 1)] for s, k in chosen.items()) == pytest.approx(
        value
    )


def test_the_unit_is_the_divisor_when_it_is_fine_enough():
    steps = [np.array([0, 250_000.0]), np.array([120_000.0, 0])]
    assert levels.unit_of(steps, 3e6, 1000) == 10_000.0
    # at most 100 units: the first round multiple of the divisor that gives them
    assert levels.unit_of(steps, 3e6, 100) == 40_000.0
    assert levels.unit_of([np.array([0.5, 1.25])], 10.0, 1000) == 0.01


def test_the_unit_grows_by_round_multiples_until_the_knapsack_is_small_enough():
    """London's £3m budget: payments in steps of £40,000, SEN transport £2,000, HR any
    multiple of £40. Units of £40 make a knapsack of 121 million steps; the first round
    multiple under 20 million is £400 (HR's coefficients rounded down to it)."""
    rng = np.random.default_rng(1)
    usages = [
        40_000.0 * rng.integers(1, 5, 300),
        2_000.0 * rng.integers(62, 376, 300),
        40.0 * rng.integers(4388, 27791, 3000),
    ]
    assert levels.knapsack_work(usages, 3e6, 40.0) > 100e6
    assert levels.unit_of(usages, 3e6, 100_000, 2e7) == 400.0
    assert levels.knapsack_work(usages, 3e6, 400.0) <= 2e7
    assert levels.unit_of(usages, 3e6, 100_000, 1e12) == 40.0
    # at most 1,000 units: the finest round multiple of £40 that gives them
    assert levels.unit_of(usages, 3e6, 1000, 1e12) == 4000.0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_sifting_follows_every_change_to_the_model_it_keeps(rng):
    """A relaxation keeps its model's arrays from one sifting to the next, so every
    change (row bounds, as at each level; costs; upper bounds) must reach them: after
    any sequence of changes, sifting finds the whole LP's optimum."""
    members = rng.randint(2, 6)
    groups = [(m,) for m in range(members)]
    for size in (2, 3):
        groups += [g for g in itertools.combinations(range(members), size) if rng.random() < 0.6]
    values = np.array([rng.randint(-20, 60) for _ in groups], dtype=float)
    units = np.array([0 if len(g) == 1 else rng.randint(1, 4) for g in groups], dtype=float)
    counted = np.array([len(g) > 1 for g in groups])
    build = service_lps({"s": (members, groups, values, None)})
    whole, sifted = build("s", units, counted), build("s", units, counted)
    sifted.keep_arrays = True  # as the levels' LPs do
    for _ in range(8):
        change = rng.choice(["level", "count", "costs", "upper"])
        if change == "level":
            bounds = (members, -math.inf, float(rng.randint(0, 8)))
        elif change == "count":
            bounds = (members + 1, *rng.choice([(-math.inf, 1), (1, 2), (2, math.inf)]))
        costs = values * rng.choice([0.5, 1.0, 2.0]) - rng.randint(0, 30)
        # groups of two or more barred (0), allowed (1) or unbounded (implied by the rows)
        upper = np.array([1.0 if len(g) == 1 else rng.choice([0.0, 1.0, math.inf]) for g in groups])
        for lp in (whole, sifted):
            if change in ("level", "count"):
                lp.set_row_bounds(*bounds)
            elif change == "costs":
                lp.set_costs(costs)
            else:
                lp.set_upper_bounds(upper)
        expected = solve_lp(whole, None, None, sift_min_columns=10**9)
        got = solve_lp(sifted, None, None, sift_min_columns=1)
        assert got.status == expected.status
        if expected.optimal:
            assert got.objective == pytest.approx(expected.objective, abs=1e-7)
            assert sifted.sifting is not None  # kept for the next change
