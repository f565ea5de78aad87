"""Warm runs (re-optimised draws) against cold ones and against brute force."""

from __future__ import annotations

import attrs
import pytest
from bruteforce import Reference
from conftest import tuned
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import consortia
from test_exactness import PENNY, parse_or_none

from sharedsvc import pipeline
from sharedsvc.model.toml_writer import dumps
from sharedsvc.rules import Constraint


def scaled(data: dict, factors: dict[str, float]) -> dict:
    """The consortium with each service's annual costs multiplied by its factor."""
    out = {**data, "members": {}}
    for member, body in data["members"].items():
        services = {
            s: {**row, "annual_cost": round(row["annual_cost"] * factors.get(s, 1.0), 2)}
            for s, row in body["services"].items()
        }
        out["members"][member] = {**body, "services": services}
    return out


def warm_settings(engine):
    return attrs.evolve(engine.settings, prune=False, fixing_min_columns=0, workers=1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=consortia(),
    factors=st.lists(
        st.dictionaries(
            st.sampled_from(["s0", "s1", "s2"]), st.sampled_from([0.5, 0.9, 1.0, 1.3, 3.0])
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_a_warm_run_finds_what_a_cold_run_and_brute_force_find(engine, data, factors):
    central = parse_or_none(engine, data)
    if central is None:
        return
    settings_ = warm_settings(engine)
    warm = pipeline.Warm()
    pipeline.optimise(central, engine.registry, settings_, warm=warm)
    for change in factors:
        drawn_data = scaled(data, change)
        drawn = engine.parse(dumps(drawn_data))
        hot = pipeline.optimise(drawn, engine.registry, settings_, warm=warm)
        cold = engine.optimise(drawn)
        assert hot.status == cold.status
        if cold.status == "infeasible":
            assert Reference(drawn_data).best() is None
            continue
        key = "npv" if data["consortium"]["objective"] == "npv" else "annual_saving"
        assert hot.totals[key] == pytest.approx(cold.totals[key], abs=PENNY)
        assert hot.totals[key] == pytest.approx(Reference(drawn_data).best(), abs=PENNY)


def test_unchanged_services_are_neither_priced_nor_solved_again(engine):
    data = {
        "consortium": {"name": "w", "horizon_years": 5},
        "services": {"a": {"model": "scale"}, "b": {"model": "scale"}},
        "members": {
            f"m{i}": {
                "services": {
                    "a": {"volume": 1000 * (i + 1), "annual_cost": 100_000.0 * (i + 1)},
                    "b": {"volume": 500 * (i + 1), "annual_cost": 80_000.0 * (i + 2)},
                }
            }
            for i in range(5)
        },
    }
    central = engine.parse(dumps(data))
    warm = pipeline.Warm()
    settings_ = warm_settings(engine)
    pipeline.optimise(central, engine.registry, settings_, warm=warm)
    said: list[str] = []
    drawn = engine.parse(dumps(scaled(data, {"a": 1.5})))
    hot = pipeline.optimise(drawn, engine.registry, settings_, warm=warm, progress=said.append)
    assert "b: priced as in the first run (the same inputs)" in said
    assert "b: as in the first run (the same inputs)" in said
    assert not any(line.startswith("a: priced as in") for line in said)
    assert hot.totals["npv"] == pytest.approx(engine.optimise(drawn).totals["npv"], abs=PENNY)
    # another horizon is another problem: nothing is kept
    longer = attrs.evolve(drawn, horizon_years=8)
    said.clear()
    pipeline.optimise(longer, engine.registry, settings_, warm=warm, progress=said.append)
    assert not any("as in the first run" in line for line in said)
    assert longer.horizon_years == 8


class _ByFigures(Constraint):
    """A third-party filter that may read figures: its groups are enumerated every run."""

    label = "by figures"

    def allows_members(self, service, members):
        return True


def test_groups_are_enumerated_once_only_when_every_constraint_judges_by_names(engine):
    data = {
        "consortium": {"name": "w"},
        "services": {"a": {"model": "scale"}},
        "members": {
            f"m{i}": {"services": {"a": {"volume": 1000, "annual_cost": 100_000.0}}}
            for i in range(4)
        },
        "constraints": {"max_group_size": 3},
    }
    central = engine.parse(dumps(data))
    warm = pipeline.Warm()
    pipeline.optimise(central, engine.registry, warm_settings(engine), warm=warm)
    assert warm.groups["a"].reusable
    assert len(warm.groups["a"].coalitions) == 6 + 4  # pairs and triples of four
    judged = attrs.evolve(central, constraints=(*central.constraints, _ByFigures()))
    fresh = pipeline.Warm()
    pipeline.optimise(judged, engine.registry, warm_settings(engine), warm=fresh)
    assert "a" not in fresh.groups


@pytest.mark.parametrize("prune", [False, True])
def test_a_warm_start_from_a_basis_gives_the_cold_optimum_on_a_large_service(engine, prune):
    # 12 members, groups up to 5: 1,573 groups, solved by LP and fixing from the basis
    data = {
        "consortium": {"name": "w", "horizon_years": 5},
        "services": {"a": {"model": "scale", "coordination_cost": 20_000.0}},
        "members": {
            f"m{i:02d}": {
                "services": {
                    "a": {"volume": 700 * (i % 5 + 1), "annual_cost": 90_000.0 * (i % 7 + 1)}
                }
            }
            for i in range(12)
        },
        "constraints": {"max_group_size": 5},
    }
    central = engine.parse(dumps(data))
    warm = pipeline.Warm()
    # pruned, each draw has other columns: the basis is carried over by column name
    settings_ = attrs.evolve(warm_settings(engine), prune=prune)
    pipeline.optimise(central, engine.registry, settings_, warm=warm)
    assert "a" in warm.bases.saved
    for factor in (0.7, 1.2, 2.0):
        drawn = engine.parse(dumps(scaled(data, {"a": factor})))
        hot = pipeline.optimise(drawn, engine.registry, settings_, warm=warm)
        cold = tuned(engine, fixing_min_columns=10**9).optimise(drawn)  # a MIP, no LP stage
        assert hot.status == cold.status == "optimal"
        assert hot.totals["npv"] == pytest.approx(cold.totals["npv"], abs=PENNY)
