"""The optimiser against brute-force enumeration of every partition, to the penny."""

from __future__ import annotations

import math

import pytest
from bruteforce import Reference
from conftest import tuned
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import consortia

from sharedsvc import ConsortiumError
from sharedsvc.model.toml_writer import dumps

PENNY = 0.01


def parse_or_none(engine, data):
    """The consortium, or None when the loader rejects a contradiction before solving."""
    try:
        return engine.parse(dumps(data))
    except ConsortiumError as error:
        # only constraints that plainly clash may be refused, and then nothing is feasible
        assert all(p.path.startswith("constraints.must_share") for p in error.problems), error
        assert Reference(data).best() is None
        return None


def optimise_data(engine, data, **options):
    consortium = parse_or_none(engine, data)
    return None if consortium is None else engine.optimise(consortium, **options)


def assert_reaches(result, best, data):
    """The result is the reference's optimum (or both say infeasible, or it was refused)."""
    if result is None:
        return
    if best is None:
        assert result.status == "infeasible"
        return
    assert result.status == "optimal"
    key = "npv" if data["consortium"]["objective"] == "npv" else "annual_saving"
    assert result.totals[key] == pytest.approx(best, abs=PENNY)


def assert_bound_covers(result, best, data, what):
    """A plan no better than the optimum, and a gap wide enough to reach the optimum."""
    key = "npv" if data["consortium"]["objective"] == "npv" else "annual_saving"
    found = result.totals[key]
    assert found <= best + PENNY
    if result.status == "optimal":
        assert found == pytest.approx(best, abs=PENNY)
    else:
        event(f"{what}: feasible")
        bound = found / (1 - result.gap) if result.gap < 1 and found > 0 else math.inf
        assert bound >= best - PENNY * 10


def unproven_fixing(first_plan: str):
    """`reduce_relaxation` as if it had proved nothing, from its plan or everyone alone,
    so that what comes after it (the search, the MIP) must do the work."""
    import attrs

    from sharedsvc.solver import fixing

    reduce = fixing.reduce_relaxation

    def unproven(lp, singles, *args, **options):
        reduction = reduce(lp, singles, *args, **options)
        if reduction is None or reduction.incumbent is None:
            return reduction
        reduction = attrs.evolve(reduction, proven=False)
        if first_plan == "everyone alone" and len(singles) == lp.highs.getNumRow():
            alone = {name: 1.0 for name in singles}  # a group of one saves nothing
            reduction = attrs.evolve(reduction, incumbent=0.0, incumbent_values=alone)
        return reduction

    return unproven


def plan_of(result) -> dict[str, list[tuple[str, ...]]]:
    plan = {}
    for service in result.services:
        plan[service.service] = [g.members for g in service.groups] + [
            (m,) for m in service.standalone
        ]
    return plan


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia())
def test_optimum_matches_brute_force(engine, data):
    reference = Reference(data)
    best = reference.best()
    result = optimise_data(engine, data)
    if result is None:
        event("refused before solving")
        return
    event(f"status {result.status}")
    event(f"groups chosen: {sum(len(s.groups) for s in result.services) if result.solved else 0}")
    if best is None:
        assert result.status == "infeasible"
        assert result.conflicts, "an infeasible result must name the clashing constraints"
        return
    assert result.status == "optimal"
    assert result.gap == 0.0
    plan = plan_of(result)
    sharers_plan = {
        s: [
            g
            for g in groups
            if all(reference.members[m]["services"][s].get("share", True) for m in g)
        ]
        for s, groups in plan.items()
    }
    # the plan itself is feasible by the reference's own checks
    for s, groups in sharers_plan.items():
        assert sorted(m for g in groups for m in g) == reference.sharers(s)
        assert all(reference.group_allowed(s, g) for g in groups)
    assert reference.plan_allowed(sharers_plan)
    achieved = sum(reference.value(s, g) for s, groups in sharers_plan.items() for g in groups)
    assert achieved == pytest.approx(best, abs=PENNY)
    # and the figures it reports are the reference's figures
    objective = result.totals["npv" if reference.objective == "npv" else "annual_saving"]
    assert objective == pytest.approx(best, abs=PENNY)
    for service in result.services:
        for group in service.groups:
            saving, transition, npv = reference.figures(service.service, group.members)
            assert group.annual_saving == pytest.approx(saving, abs=PENNY)
            assert group.transition_cost == pytest.approx(transition, abs=PENNY)
            assert group.npv == pytest.approx(npv, abs=PENNY)
            expected = reference.allocation(service.service, group.members)
            assert group.allocation == pytest.approx(expected, abs=PENNY)
            assert math.fsum(group.allocation.values()) == pytest.approx(group.npv, abs=PENNY)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia(max_services=2))
def test_highs_finds_the_same_optimum(engine, data):
    best = Reference(data).best()
    result = optimise_data(engine, data, solver="highs")
    assert_reaches(result, best, data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia())
def test_pruning_never_loses_the_optimum(engine, data):
    consortium = parse_or_none(engine, data)
    if consortium is None:
        return
    pruned = engine.optimise(consortium)
    full = engine.optimise(consortium, prune=False)
    assert pruned.status == full.status
    if full.solved:
        key = "npv" if data["consortium"]["objective"] == "npv" else "annual_saving"
        assert pruned.totals[key] == pytest.approx(full.totals[key], abs=PENNY)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia())
def test_reduced_cost_fixing_keeps_the_optimum(engine, data):
    """Force LP + reduced-cost fixing on every block and compare with brute force."""
    best = Reference(data).best()
    # the search is tested below; the first MIP is restricted to the LP's support, so
    # that fixing decides the rest
    forced = tuned(
        engine, fixing_min_columns=1, search=False, restricted_minimum=0, restricted_extra=0.0
    )
    result = optimise_data(forced, data)
    assert_reaches(result, best, data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia(), first_plan=st.sampled_from(["fixing's", "everyone alone"]))
def test_the_search_inside_the_lp_gap_reaches_the_optimum(engine, data, first_plan):
    """Force the partition search on every block it can take (as if fixing had proved
    nothing, and from the worst first plan too) and compare with brute force."""
    from sharedsvc.solver import fixing

    best = Reference(data).best()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fixing, "reduce_relaxation", unproven_fixing(first_plan))
        result = optimise_data(tuned(engine, fixing_min_columns=1), data)
    if result is not None and result.solved:
        event(f"solver {result.solver}")
    assert_reaches(result, best, data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia(), stop=st.sampled_from(["time", "states", "states after a plan"]))
def test_a_search_stopped_early_keeps_a_real_plan_and_a_true_bound(engine, data, stop):
    """Out of time, the search's plan is a real plan and its bound covers the optimum;
    out of memory (before or after it found a plan), the MIP over the groups fixing
    kept takes over, and reaches the optimum."""
    import attrs

    from sharedsvc.solver import fixing
    from sharedsvc.solver import search as search_module

    search = search_module.partition_search

    def stopped(*args, **options):
        if stop == "states after a plan":  # its plan and bound are real; only the proof is lost
            return attrs.evolve(search(*args, **options), stopped="states")
        options.update(deadline=0.0) if stop == "time" else options.update(max_states=1)
        return search(*args, **options)

    best = Reference(data).best()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fixing, "reduce_relaxation", unproven_fixing("everyone alone"))
        patch.setattr(search_module, "partition_search", stopped)
        result = optimise_data(tuned(engine, fixing_min_columns=1), data, time_limit=60)
    if stop != "time" or result is None or best is None or not result.solved:
        assert_reaches(result, best, data)
        return
    assert_bound_covers(result, best, data, "stopped search")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia())
def test_a_capped_search_reports_a_true_bound(engine, data):
    """When fixing leaves too many groups for the time given, the MIP searches only the
    most promising: its plan must be a real plan, and the gap must still cover the optimum."""
    best = Reference(data).best()
    capped = tuned(
        engine,
        fixing_min_columns=1,
        timed_mip_max_columns=1,
        search=False,
        restricted_minimum=0,
        restricted_extra=0.0,
    )
    result = optimise_data(capped, data, time_limit=60)
    if result is None or best is None or not result.solved:
        assert_reaches(result, best, data)
        return
    assert_bound_covers(result, best, data, "capped search")
