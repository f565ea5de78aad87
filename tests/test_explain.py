"""`sharedsvc explain`: each alternative's value is the exact optimum with its group
forced in (checked against brute force), the LP bound never cuts off a better group,
and forbidden groups name the constraint that forbids them."""

from __future__ import annotations

import json

import pytest
from bruteforce import Reference
from click.testing import CliRunner
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import consortia

from sharedsvc import Engine
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps
from sharedsvc.whynot import _Explainer, explain_member

SEL = ROOT / "consortia" / "south-east-london.toml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


@pytest.fixture(scope="module")
def engine():
    return Engine.create(autoload=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=consortia(max_members=4, max_services=2),
    pick=st.integers(0, 3),
    count=st.sampled_from([1, 3]),
)
def test_alternatives_are_the_exact_best_forced_plans(data, pick, count):
    engine = Engine.create(autoload=False)
    reference = Reference(data)
    if reference.best() is None:
        return
    consortium = engine.parse(dumps(data))
    members = [m.id for m in consortium.members]
    member = members[pick % len(members)]
    found = explain_member(
        consortium, engine.registry, engine.settings, member, alternatives=count, relax=False
    )
    assert found.plan_value == pytest.approx(reference.best(), rel=1e-6, abs=0.02)
    for s in found.services:
        group = s.group
        # every allowed group with the member, valued by brute force with it forced in
        truth = {}
        sharers = reference.sharers(s.service)
        if member not in sharers:
            assert not s.alternatives
            continue
        others = [m for m in sharers if m != member]
        for k in range(1, len(others) + 1):
            for extra in _subsets(others, k):
                g = tuple(sorted((member, *extra)))
                if g == group:
                    continue
                value = reference.best(forced=(s.service, g))
                if value is not None:
                    truth[g] = value
        listed = {a.members: a.value for a in s.alternatives}
        for g, value in listed.items():
            assert value == pytest.approx(truth[g], rel=1e-6, abs=0.02), g
            assert value <= found.plan_value + 0.02
        best = sorted(truth.values(), reverse=True)[: len(listed)]
        assert sorted(listed.values(), reverse=True) == pytest.approx(best, rel=1e-6, abs=0.02)
        assert len(listed) == min(count, len(truth))
        assert s.proven  # a handful of groups: all solved, or the bound stopped it


def _subsets(items, k):
    from itertools import combinations

    return combinations(items, k)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia(max_members=4, max_services=2))
def test_the_lp_bound_is_never_below_the_forced_optimum(data):
    """A wrong bound would stop the search early and hide a better alternative."""
    engine = Engine.create(autoload=False)
    if Reference(data).best() is None:
        return
    consortium = engine.parse(dumps(data))
    from sharedsvc import pipeline

    plan = pipeline.optimise(consortium, engine.registry, engine.settings)
    explainer = _Explainer(consortium, engine.registry, engine.settings, plan, print, None)
    for service in consortium.services:
        allowed = explainer.candidates(service.id)
        bound = explainer.bounds(service.id, allowed)
        if bound is None:
            continue
        for c in allowed:
            if c.size < 2:
                continue
            value = explainer.forced_value(service.id, c.members)
            if value is not None:
                assert value <= bound(c) + 1e-6 * max(1.0, abs(value)) + 0.01


def test_golden_explanation():
    result = run(
        "explain", SEL, "--member", "bexley", "--service", "hr", "--with", "greenwich", "-q"
    )
    assert result.exit_code == 0, result.stderr
    golden = (ROOT / "tests" / "golden" / "explain-south-east-london.txt").read_text()
    assert result.stdout == golden


def _asked(service: str, member: str, *args: str) -> dict:
    """The `requested` group of `explain --member M --service S ...`, from its JSON."""
    result = run(
        "explain", SEL, "--member", member, "--service", service, *args,
        "--no-relax", "--format", "json", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["services"][service]["requested"]


def test_a_forbidden_group_names_what_forbids_it():
    asked = _asked("sen_transport", "bexley", "--with", "lewisham")
    assert asked["value"] is None
    assert asked["forbidden_by"] == ["not contiguous: bexley; lewisham share no border"]
    everyone = ("--with", "bromley", "--with", "greenwich", "--with", "lewisham")
    assert _asked("hr", "bexley", *everyone)["forbidden_by"] == ["exceeds max_group_size (3)"]
    alone = _asked("hr", "bromley", "--with", "bexley", "--scenario", "no_bromley")
    assert alone["forbidden_by"] == ["bromley has share = false"]


def test_never_together_is_quoted(engine, tmp_path):
    data = {
        "services": {"s": {"model": "scale", "scale_exponent": 0.8}},
        "members": {
            m: {"services": {"s": {"volume": 100 * (i + 1), "annual_cost": 100_000.0}}}
            for i, m in enumerate("abc")
        },
        "constraints": {"never_together": [["a", "b"]]},
    }
    consortium = engine.parse(dumps(data))
    found = explain_member(
        consortium, engine.registry, engine.settings, "a", together_with=["b"], relax=False
    )
    (s,) = found.services
    assert s.requested.forbidden_by == ("blocked by never_together forbids a and b in one group",)


def test_relaxing_a_constraint_is_worth_what_a_separate_run_says(engine, tmp_path):
    data = {
        "services": {"s": {"model": "scale", "scale_exponent": 0.7, "transition_cost": 1000.0}},
        "members": {
            m: {"services": {"s": {"volume": 100 * (i + 1), "annual_cost": 100_000.0}}}
            for i, m in enumerate("abcd")
        },
        "constraints": {"max_partnerships": 1, "max_group_size": 2},
    }
    consortium = engine.parse(dumps(data))
    found = explain_member(consortium, engine.registry, engine.settings, "a")
    by_path = {r.path: r for r in found.relaxations}
    more = dict(data, constraints={"max_partnerships": 2, "max_group_size": 2})
    separate = engine.optimise(engine.parse(dumps(more))).totals["npv"]
    relaxed = by_path["constraints.max_partnerships"]
    assert relaxed.change == "1 -> 2" and relaxed.binding
    assert relaxed.gain == pytest.approx(separate - found.plan_value, abs=0.01)


def test_unknown_member_is_a_clear_error():
    result = run("explain", SEL, "--member", "bexly")
    assert result.exit_code == 2
    assert "unknown member 'bexly'; did you mean 'bexley'?" in result.stderr


def test_a_solve_limit_says_what_is_left_unproven(engine):
    data = {
        "services": {"s": {"model": "scale", "scale_exponent": 0.8, "coordination_cost": 5000.0}},
        "members": {
            m: {"services": {"s": {"volume": 100 * (i + 1), "annual_cost": 100_000.0 + i}}}
            for i, m in enumerate("abcdef")
        },
    }
    consortium = engine.parse(dumps(data))
    found = explain_member(
        consortium, engine.registry, engine.settings, "a", max_solves=2, relax=False
    )
    (s,) = found.services
    assert s.evaluated == 2 and s.groups_with_member > 2
    assert not s.proven
    from sharedsvc.report.whynot import render

    assert "the solve limit came first" in render(found)


def test_the_workbook_holds_the_json_figures(tmp_path):
    import openpyxl

    target = tmp_path / "why.xlsx"
    args = ("explain", SEL, "--member", "greenwich", "--service", "payments", "-q")
    assert run(*args, "-o", target).exit_code == 0
    data = json.loads(run(*args, "--format", "json").stdout)
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["alternatives", "constraints"]
    rows = list(book["alternatives"].iter_rows(min_row=2, values_only=True))
    listed = data["services"]["payments"]["alternatives"]
    assert [r[2] for r in rows] == [" + ".join(a["members"]) for a in listed]
    for row, alternative in zip(rows, listed, strict=True):
        assert row[3] == pytest.approx(alternative["value"], abs=0.01)


def test_a_group_that_loses_money_says_which_cost_outweighs_the_saving(engine):
    """Two equal members, b = 0.95: the pooled saving is 2,000,000 x (1 - 2 ** -0.05) =
    £68,127 a year, against £90,000 of coordination."""
    data = {
        "services": {"s": {"model": "scale", "scale_exponent": 0.95, "coordination_cost": 90000.0}},
        "members": {m: {"services": {"s": {"volume": 1000, "annual_cost": 1e6}}} for m in "ab"},
    }
    consortium = engine.parse(dumps(data))
    found = explain_member(
        consortium, engine.registry, engine.settings, "a", together_with=["b"], relax=False
    )
    (s,) = found.services
    assert s.why_alone == "no allowed group gains by having it"
    saving = round(2_000_000 * (1 - 2**-0.05))
    assert s.requested.why == (
        f"a + b: coordination cost £90,000 a year outweighs the rest of its saving, "
        f"£{saving:,} a year"
    )
