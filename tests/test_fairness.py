"""Fair shares: the nucleolus against published games, stability and its cost against
brute force over every coalition, and each member's figures adding up."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pulp
import pytest
from bruteforce import Reference, partitions
from games import GAMES, every_coalition, table_consortium
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import consortia

from sharedsvc import ConsortiumError
from sharedsvc.fairness.subsidy import cheapest_unblocked
from sharedsvc.model.toml_writer import dumps
from sharedsvc.pricing.coalitions import GameGroups

PENNY = 0.01


def cbc():
    """PuLP 3's bundled CBC (its deprecation warning is about PuLP 4, not this test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False)


def solve_text(engine, text):
    return engine.optimise(engine.parse(text))


@pytest.mark.parametrize("game", GAMES, ids=[g.name for g in GAMES])
@pytest.mark.parametrize("rule", ["nucleolus", "core"])
def test_nucleolus_of_published_games(engine, game, rule):
    result = solve_text(engine, table_consortium(game.players, game.values, allocation=rule))
    service = result.service("game")
    (group,) = service.groups
    assert group.members == tuple(sorted(game.players))
    assert group.allocation == pytest.approx(game.nucleolus, abs=1e-6)
    assert service.stability.stable is not game.core_empty
    assert (service.stability.cost_of_stability > 1e-6) is game.core_empty


def test_published_games_are_at_least_eight():
    assert len(GAMES) >= 8


def test_cost_of_stability_of_the_majority_game(engine):
    # three pairs each worth 1 can be packed fractionally (each at 1/2) to 3/2; the plan
    # gets 1: the least subsidy that stabilises it is 1/2 (Bondareva–Shapley)
    majority = next(g for g in GAMES if g.name == "three-player majority")
    result = solve_text(engine, table_consortium(majority.players, majority.values))
    stability = result.service("game").stability
    assert stability.cost_of_stability == pytest.approx(0.5, abs=1e-9)
    assert stability.lp_bound == pytest.approx(1.5, abs=1e-9)
    assert stability.blocking.excess == pytest.approx(1 / 3, abs=1e-9)  # each pair: 1 - 2/3


# -- stability and its cost against brute force over every coalition -----------------


def lp_bound_over_every_coalition(reference, service, sharers):
    """min sum y s.t. y(S) >= v(S) for every S: by CBC over all 2 ** n coalitions."""
    problem = pulp.LpProblem("floor", pulp.LpMinimize)
    y = {m: problem.add_variable(f"y_{m}", lowBound=0) for m in sharers}
    problem += pulp.lpSum(y.values())
    for k in range(2, len(sharers) + 1):
        for coalition in itertools.combinations(sharers, k):
            value = reference.coalition_value(service, coalition)
            problem += pulp.lpSum(y[m] for m in coalition) >= value
    problem.solve(cbc())
    return sum(v.value() or 0.0 for v in y.values())


def check_stability_against_brute_force(reference, result):
    for service in result.services:
        stability = service.stability
        assert stability is not None
        sharers = reference.sharers(service.service)
        shares = {m: service.share_of(m) for m in sharers}
        scale = max([1.0] + [abs(g.npv) for g in service.groups])
        tolerance = 1e-6 * scale + PENNY
        worst_any = max(
            [
                reference.coalition_value(service.service, c) - sum(shares[m] for m in c)
                for k in range(1, len(sharers) + 1)
                for c in itertools.combinations(sharers, k)
            ],
            default=0.0,
        )
        singles = [
            (c, reference.figures(service.service, c)[2] - sum(shares[m] for m in c))
            for k in range(1, len(sharers) + 1)
            for c in itertools.combinations(sharers, k)
            if reference.coalition_allowed(service.service, c)
        ]
        worst_group = max((e for _, e in singles), default=0.0)
        if stability.stable:
            assert worst_any <= tolerance
        else:
            assert worst_any > 0
            found = stability.blocking
            assert reference.coalition_allowed(service.service, found.members)
            assert found.excess == pytest.approx(worst_group, abs=tolerance)
            own = (
                reference.figures(service.service, found.members)[2]
                if len(found.members) > 1
                else 0.0
            )
            assert found.value == pytest.approx(own, abs=PENNY)
        bound = lp_bound_over_every_coalition(reference, service.service, sharers)
        assert stability.cost_of_stability == pytest.approx(
            max(0.0, bound - service.npv), abs=max(PENNY, 1e-6 * bound)
        )
        for group in service.groups:
            assert math.fsum(group.allocation.values()) == pytest.approx(group.npv, abs=PENNY)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=consortia(max_members=5, max_services=2),
    rule=st.sampled_from(["proportional", "equal", "shapley", "nucleolus", "core"]),
)
def test_stability_report_and_its_cost_match_brute_force(engine, data, rule):
    data["constraints"] = {**data.get("constraints", {}), "allocation": rule}
    data["constraints"].pop("individual_gain", None)
    try:
        consortium = engine.parse(dumps(data))
    except ConsortiumError:
        return
    result = engine.optimise(consortium)
    if not result.solved:
        return
    reference = Reference(data)
    event("unstable" if any(not s.stability.stable for s in result.services) else "stable")
    check_stability_against_brute_force(reference, result)
    if rule in ("nucleolus", "core"):
        # in the core whenever the core is not empty, which is when the LP bound is the
        # plan's value (Bondareva–Shapley): stable exactly when the cost of stability is 0
        for service in result.services:
            scale = max([1.0] + [abs(g.npv) for g in service.groups])
            cost = service.stability.cost_of_stability
            if cost <= 1e-9 * scale:
                assert service.stability.stable
            if service.stability.stable:
                assert cost <= PENNY + 1e-6 * scale


# -- the LP dual is an allocation no group blocks --------------------------------------


@st.composite
def games(draw):
    n = draw(st.integers(2, 6))
    groups = [
        c
        for k in range(2, n + 1)
        for c in itertools.combinations(range(n), k)
        if draw(st.integers(0, 3)) > 0
    ]
    values = [draw(st.floats(-5, 20, allow_nan=False)) for _ in groups]
    return n, groups, np.array(values)


@settings(max_examples=80, deadline=None)
@given(game=games())
def test_the_lp_dual_allocation_is_never_blocked(game):
    n, groups, values = game
    floor = cheapest_unblocked(GameGroups.of(groups, values), n, [])
    y = floor.shares
    assert (y >= -1e-9).all()
    for group, value in zip(groups, values, strict=True):
        assert y[list(group)].sum() >= value - 1e-6
    # and it is the cheapest: the best fractional packing (the LP's primal) reaches it
    problem = pulp.LpProblem("pack", pulp.LpMaximize)
    lam = [problem.add_variable(f"l{i}", lowBound=0) for i in range(len(groups))]
    problem += pulp.lpSum(v * x for v, x in zip(values, lam, strict=True)) + 0
    for m in range(n):
        problem += pulp.lpSum(x for g, x in zip(groups, lam, strict=True) if m in g) <= 1
    problem.solve(cbc())
    assert floor.bound == pytest.approx(pulp.value(problem.objective) or 0.0, abs=1e-6)


# -- shapley on the coalition game: its axioms -----------------------------------------


@st.composite
def superadditive_games(draw):
    """A random game closed under partition (v(S) = its best split), with player "z"
    null: adding z to any coalition adds nothing."""
    players = ["a", "b", "c", "d"][: draw(st.integers(2, 4))]
    base = {
        c: draw(st.floats(0, 10, allow_nan=False).map(lambda x: round(x, 3)))
        for k in range(2, len(players) + 1)
        for c in itertools.combinations(players, k)
    }

    def best(c):
        return max(
            sum(base.get(tuple(sorted(p)), 0.0) for p in parts) for parts in partitions(list(c))
        )

    with_null = [*players, "z"]
    values = every_coalition(
        with_null, lambda c: best(tuple(p for p in c if p != "z")) if len(c) > 1 else 0.0
    )
    return with_null, values


@settings(max_examples=40, deadline=None)
@given(game=superadditive_games())
def test_shapley_is_efficient_and_gives_a_null_player_nothing(engine, game):
    players, values = game
    result = solve_text(engine, table_consortium(players, values, allocation="shapley"))
    (group,) = result.service("game").groups
    assert math.fsum(group.allocation.values()) == pytest.approx(values[tuple(players)], abs=1e-6)
    assert group.allocation["z"] == pytest.approx(0.0, abs=1e-6)


def test_shapley_treats_symmetric_players_alike(engine):
    players = ("a", "b", "c")
    values = every_coalition(players, lambda c: {2: 3.0, 3: 7.0}[len(c)] + ("a" in c) * 0.0)
    values[("a", "b")] = 5.0  # a and b stay symmetric: both pairs with c are worth 3
    result = solve_text(engine, table_consortium(players, values, allocation="shapley"))
    shares = result.service("game").groups[0].allocation
    assert shares["a"] == pytest.approx(shares["b"], abs=1e-9)
    # by hand: orders abc, acb, bac, bca, cab, cba; a's marginals 0, 0, 5, 4, 3, 4
    assert shares["a"] == pytest.approx(16 / 6, abs=1e-9)
    assert shares["c"] == pytest.approx(7 - 32 / 6, abs=1e-9)


def test_shapley_values_a_coalition_that_cannot_form_by_its_best_split(engine):
    # bc is not a listed group, so it cannot form: v(bc) = 0 (b and c alone)
    values = {("a", "b"): 4.0, ("a", "c"): 4.0, ("a", "b", "c"): 9.0}
    result = solve_text(engine, table_consortium(("a", "b", "c"), values, allocation="shapley"))
    (group,) = result.service("game").groups
    # by hand over the six orders: a gets 0 + 0 + 4 + 9 + 4 + 9, b gets 4 + 5 + 0 + 0 + 5 + 0
    assert group.allocation == pytest.approx({"a": 26 / 6, "b": 14 / 6, "c": 14 / 6})


# -- each member's figures -------------------------------------------------------------


def test_member_figures_add_up_to_the_penny(engine):
    from conftest import ROOT

    consortium = engine.load(ROOT / "consortia" / "south-east-london.toml")
    result = engine.optimise(consortium)
    annuity = sum((1 + consortium.discount_rate) ** -t for t in range(1, 6))
    total = 0.0
    for member in result.by_member.values():
        total += member.npv
        for service_id, cash in member.cash.items():
            assert cash.npv == pytest.approx(member.services[service_id], abs=1e-6)
            assert cash.annual_saving * annuity - cash.transition_cost == pytest.approx(
                cash.npv, abs=1e-6
            )
        assert member.standalone_cost > 0
    assert total == pytest.approx(result.totals["npv"], abs=PENNY)
    for service in result.services:
        for group in service.groups:
            members = [result.member(m).cash[service.service] for m in group.members]
            assert math.fsum(c.annual_saving for c in members) == pytest.approx(
                group.annual_saving, abs=1e-6
            )
            assert math.fsum(c.transition_cost for c in members) == pytest.approx(
                group.transition_cost, abs=1e-6
            )


def test_payback_year_by_hand(engine):
    # a and b save 10 a year together after a one-off 25, at 10%: the discounted
    # cumulative flow is -25 + 9.09 + 8.26 + 7.51 = -0.14 after year 3, +6.69 after year 4
    text = table_consortium(
        ("a", "b"),
        {("a", "b"): 10.0},
        grand=False,
        allocation="equal",
        transition={("a", "b"): 25.0},
    ).replace("horizon_years = 1\ndiscount_rate = 0.0", "horizon_years = 6\ndiscount_rate = 0.1")
    result = solve_text(engine, text)
    member = result.member("a")
    assert (member.annual_saving, member.transition_cost) == pytest.approx((5.0, 12.5))
    assert member.payback_year == 4
    data = result.to_dict()["members"]["a"]
    assert data["payback_year"] == 4
    assert data["services"]["game"] == {
        "npv": 9.28,
        "annual_saving": 5.0,
        "transition_cost": 12.5,
        "cashable_saving": 5.0,
        "non_cashable_value": 0.0,
    }
    assert data["gain_percent"] is None  # no standalone cost given


# -- stability as a constraint ---------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=consortia(max_members=4, max_services=2),
    rule=st.sampled_from(["proportional", "equal", "shapley"]),
)
def test_the_best_stable_plan_matches_brute_force(engine, data, rule):
    constraints = data.setdefault("constraints", {})
    constraints.update(allocation=rule, stability="core")
    for coupling in ("max_partnerships", "transition_budget", "individual_gain"):
        constraints.pop(coupling, None)
    try:
        consortium = engine.parse(dumps(data))
    except ConsortiumError:
        return
    reference = Reference(data)
    best = reference.best(stable=True)
    result = engine.optimise(consortium)
    if best is None:
        event("no stable plan")
        assert result.status == "infeasible"
        if reference.best() is not None:  # infeasible for stability's sake: it says so
            assert "stability" in result.conflicts[0] and "would gain" in result.conflicts[0]
        return
    event("a stable plan")
    assert result.status == "optimal"
    key = "npv" if data["consortium"]["objective"] == "npv" else "annual_saving"
    assert result.totals[key] == pytest.approx(best, abs=PENNY)
    assert all(s.stability.stable for s in result.services)
    unconstrained = reference.best()
    assert result.stability_cost >= -PENNY
    event("stability changed the plan" if result.stability_cost > PENNY else "already stable")
    if key == "npv":
        assert result.stability_cost == pytest.approx(unconstrained - best, abs=PENNY)


def bundled_with(engine, change):
    from conftest import ROOT

    text = (ROOT / "consortia" / "south-east-london.toml").read_text(encoding="utf-8")
    return engine.parse(change(text))


def test_stability_on_the_bundled_consortium_without_its_size_limit(engine):
    # without max_group_size all four boroughs share everything: a plan nobody would leave
    def free(text):  # and fraud's detected value counted whole, as before version 0.2
        text = text.replace("max_group_size = 3\n", "")
        return text.replace('objective = "npv"\n', 'objective = "npv"\ncount_non_cashable = 1.0\n')

    plain = engine.optimise(bundled_with(engine, free))
    stable = engine.optimise(
        bundled_with(
            engine,
            lambda t: free(t).replace("[constraints]\n", '[constraints]\nstability = "core"\n'),
        )
    )
    assert stable.status == "optimal"
    assert stable.totals["npv"] <= plain.totals["npv"] + PENNY
    assert all(s.stability.stable for s in stable.services)
    assert stable.to_dict()["stability_cost"] == pytest.approx(
        plain.totals["npv"] - stable.totals["npv"], abs=PENNY
    )


def test_stability_on_the_bundled_consortium_names_who_would_walk_away(engine):
    # with groups of at most three of the four, every plan leaves a triple better off alone
    consortium = bundled_with(
        engine, lambda t: t.replace("[constraints]\n", '[constraints]\nstability = "core"\n')
    )
    result = engine.optimise(consortium)
    assert result.status == "infeasible"
    (why,) = result.conflicts
    assert "no plan of" in why and "is stable under shapley allocation" in why
    assert "would gain £" in why
    unconstrained = engine.optimise(bundled_with(engine, lambda t: t))
    # no split of the best plan is stable either: the cost of stability says so
    assert all(s.stability.cost_of_stability > 0 for s in unconstrained.services)


def test_stability_needs_a_rule_that_shares_each_group_alone(engine):
    with pytest.raises(ConsortiumError, match=r"constraints\.stability"):
        bundled_with(
            engine,
            lambda t: t.replace("[constraints]\n", '[constraints]\nstability = "core"\n').replace(
                'allocation = "shapley"', 'allocation = "nucleolus"'
            ),
        )


def test_member_cash_stays_sane_when_shares_are_large_beside_a_small_npv():
    from sharedsvc.fairness.figures import split_cash

    # npv = saving - transition = 100; shares +300,000 / -299,900 (a nucleolus can do this)
    parts = split_cash([300_000.0, -299_900.0], 100.0, 1e6, 999_900.0, [5e5, 5e5], (1.0, 0.0, 1.0))
    (saving_a, cost_a, _), (saving_b, cost_b, _) = parts
    assert (cost_a, cost_b) == (499_950.0, 499_950.0)
    assert (saving_a, saving_b) == pytest.approx((799_950.0, 200_050.0))
    assert saving_a - cost_a == pytest.approx(300_000.0)  # each npv is its share
    assert saving_a + saving_b == pytest.approx(1e6)


def test_a_coalition_priced_after_a_failure_is_not_remembered_as_forbidden():
    from sharedsvc.appraisal.allocation import CoalitionGame

    calls = {"n": 0}

    def price(groups):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a plugin failed once")
        return np.array([10.0 * len(g) for g in groups])

    game = CoalitionGame(price)
    with pytest.raises(RuntimeError):
        game.values_within((0, 1, 2))
    assert game.values_within((0, 1, 2))[-1] == 30.0
