"""The LP relaxation built from arrays is the one PuLP's model gives, row for row."""

from __future__ import annotations

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import consortia

from sharedsvc import ConsortiumError, Constraint, LinearRow
from sharedsvc.explain import all_candidates
from sharedsvc.model.toml_writer import dumps
from sharedsvc.pipeline import make_pricers
from sharedsvc.solver import relaxation
from sharedsvc.solver.blocks import blocks
from sharedsvc.solver.build import build_model
from sharedsvc.testing import check_linear_rows


def lp_optimum(lp: relaxation.Relaxation) -> float | str:
    """The LP's optimum, or its status when it has none (infeasible)."""
    lp.highs.run()
    status = lp.highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return lp.highs.modelStatusToString(status)
    return lp.highs.getInfo().objective_function_value


def candidates_of(engine, data):
    try:
        consortium = engine.parse(dumps(data))
    except ConsortiumError:
        return None
    pricers = make_pricers(consortium, engine.registry, engine.settings)
    return (
        consortium,
        pricers,
        all_candidates(consortium, pricers, consortium.constraints, engine.settings),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia())
def test_array_relaxation_matches_the_pulp_model(engine, data):
    found = candidates_of(engine, data)
    if found is None:
        return
    consortium, pricers, candidates = found
    objective = consortium.objective
    for block in blocks(list(candidates), consortium.constraints):
        cands = {s: candidates[s] for s in block}
        rows = relaxation.side_rows(cands, consortium.constraints)
        if rows is None:  # bundles have no array form: the PuLP model is used
            assert "bundles" in data["constraints"]
            continue
        for constraint in consortium.constraints:
            if set(constraint.linked_services(block)) & set(block):
                check_linear_rows(constraint, cands)
        arrays = relaxation.from_columns(pricers, cands, rows, objective)
        built = build_model(pricers, cands, consortium.constraints, objective)
        assert (arrays is None) == (built is None)
        if built is None or not arrays.names:
            continue
        pulp_lp = relaxation.from_problem(built.problem)
        assert sorted(arrays.names) == sorted(pulp_lp.names)
        expected = lp_optimum(pulp_lp)
        if isinstance(expected, str):
            assert lp_optimum(arrays) == expected
        else:
            assert lp_optimum(arrays) == pytest.approx(expected, rel=1e-9, abs=1e-6)


class _WrongBudget(Constraint):
    """add_rows and linear_rows disagree on one coefficient: the check must say so."""

    def add_rows(self, model):
        import pulp

        pairs = [(c.var, c.candidate.transition_cost) for c in model.all_columns()]
        model.add(pulp.LpAffineExpression(pairs) <= 100.0, "budget")

    def linear_rows(self, columns):
        coefficients = {
            s: np.array([c.transition_cost for c in cs]) * 1.01 for s, cs in columns.items()
        }
        return [LinearRow("budget", coefficients, upper=100.0)]


def test_check_linear_rows_catches_a_row_that_differs(engine):
    from conftest import ROOT

    consortium = engine.load(ROOT / "consortia" / "south-east-london.toml")
    pricers = make_pricers(consortium, engine.registry, engine.settings)
    candidates = all_candidates(consortium, pricers, consortium.constraints, engine.settings)
    with pytest.raises(AssertionError, match="coefficient"):
        check_linear_rows(_WrongBudget(), candidates)


class _RowsOnlyInPulp(Constraint):
    def add_rows(self, model):
        import pulp

        pairs = [(c.var, 1) for c in model.all_columns() if c.candidate.size >= 2]
        model.add(pulp.LpAffineExpression(pairs) <= 1, "one_group")


def test_a_constraint_without_arrays_keeps_the_pulp_path(engine):
    from conftest import ROOT

    consortium = engine.load(ROOT / "consortia" / "south-east-london.toml")
    pricers = make_pricers(consortium, engine.registry, engine.settings)
    candidates = all_candidates(consortium, pricers, consortium.constraints, engine.settings)
    assert relaxation.side_rows(candidates, [_RowsOnlyInPulp()]) is None
    assert relaxation.side_rows(candidates, consortium.constraints) is not None


def test_a_rowwise_matrix_is_read_by_column():
    lp = highspy.HighsLp()
    lp.num_row_, lp.num_col_ = 2, 3
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array([0, 2, 4], dtype=np.int32)  # rows: [1 2 .], [. 3 4]
    lp.a_matrix_.index_ = np.array([0, 1, 1, 2], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([1.0, 2.0, 3.0, 4.0])
    starts, rows, values = relaxation.colwise(lp)
    assert starts.tolist() == [0, 1, 3, 4]
    assert rows.tolist() == [0, 0, 1, 1]
    assert values.tolist() == [1.0, 2.0, 3.0, 4.0]


class _RaisingRows(Constraint):
    label = "raises on purpose"

    def add_rows(self, model):
        raise RuntimeError("boom")

    def linear_rows(self, columns):
        return [LinearRow("short", {s: np.zeros(1) for s in columns}, upper=1.0)]


def test_a_rule_that_raises_or_gives_bad_rows_is_named(engine):
    from conftest import ROOT

    from sharedsvc import PluginError

    consortium = engine.load(ROOT / "consortia" / "south-east-london.toml")
    pricers = make_pricers(consortium, engine.registry, engine.settings)
    candidates = all_candidates(consortium, pricers, consortium.constraints, engine.settings)
    with pytest.raises(PluginError, match=r"_RaisingRows .*raises on purpose.*shape"):
        relaxation.side_rows(candidates, [_RaisingRows()])
    with pytest.raises(PluginError, match=r"_RaisingRows .*RuntimeError: boom in add_rows"):
        build_model(pricers, candidates, [_RaisingRows()], "npv")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia(max_members=6))
def test_sifting_finds_the_whole_lps_optimum(engine, data):
    """Sifting from a few columns reaches the LP optimum of all of them; its reduced costs
    are the LP's (none positive outside the plan), its plan meets every row, and a second
    solve under other costs starts from the columns of the first."""
    found = candidates_of(engine, data)
    if found is None:
        return
    consortium, pricers, candidates = found
    for block in blocks(list(candidates), consortium.constraints):
        cands = {s: candidates[s] for s in block}
        rows = relaxation.side_rows(cands, consortium.constraints)
        if rows is None:
            continue
        whole = relaxation.from_columns(pricers, cands, rows, consortium.objective)
        if whole is None:
            continue
        sifted = relaxation.from_columns(pricers, cands, rows, consortium.objective)
        for costs in (None, "halved"):
            if costs == "halved":
                cost = np.asarray(whole.highs.getLp().col_cost_) * 0.5 - 1000.0
                whole.set_costs(cost)
                sifted.set_costs(cost)
            expected = relaxation.solve_lp(whole, None, None, sift_min_columns=10**9)
            got = relaxation.solve_lp(sifted, None, None, sift_min_columns=1)
            assert got.status == expected.status
            if not expected.optimal:
                continue
            scale = max(1.0, abs(expected.objective))
            assert got.objective == pytest.approx(expected.objective, abs=1e-7 * scale)
            assert (
                got.reduced_costs.max(initial=0.0) <= 1e-6 * scale
                or (got.values[got.reduced_costs > 1e-6 * scale] > 1 - 1e-6).all()
            )
            model = sifted.highs.getLp()
            starts, index, value = relaxation.colwise(model)
            activity = np.zeros(model.num_row_)
            np.add.at(activity, index, value * np.repeat(got.values, np.diff(starts)))
            assert (activity >= np.asarray(model.row_lower_) - 1e-6).all()
            assert (activity <= np.asarray(model.row_upper_) + 1e-6).all()
            assert sifted.working is not None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=consortia(max_members=5))
def test_cbc_and_highs_agree_on_a_highs_model(engine, data):
    """The window's MIPs go to CBC as an MPS file written by HiGHS (`Cbc.solve_model`):
    the same optimum as HiGHS in process, the same infeasibility, and a plan that meets
    every row (checked here again)."""
    from sharedsvc.constants import Status
    from sharedsvc.solver.backends import Cbc, Highs

    found = candidates_of(engine, data)
    if found is None:
        return
    consortium, pricers, candidates = found
    for block in blocks(list(candidates), consortium.constraints):
        cands = {s: candidates[s] for s in block}
        rows = relaxation.side_rows(cands, consortium.constraints)
        if rows is None:
            continue
        lp = relaxation.from_columns(pricers, cands, rows, consortium.objective)
        if lp is None or not lp.names:  # no group at all: no MIP to solve
            continue
        everything = np.arange(len(lp.names))
        by_cbc = Cbc().solve_model(relaxation.restricted_mip(lp, everything).highs, lp.names, None)
        by_highs = Highs().solve_model(
            relaxation.restricted_mip(lp, everything).highs, lp.names, None
        )
        assert by_cbc.status == by_highs.status
        if by_highs.status == Status.OPTIMAL:
            scale = max(1.0, abs(by_highs.objective))
            assert by_cbc.objective == pytest.approx(by_highs.objective, abs=1e-6 * scale)


def test_a_cbc_child_that_outruns_its_limit_is_killed():
    """CBC checks `-sec` between nodes only: a child still running a grace past its limit
    is killed, and the caller hears "no plan in time" (it keeps the plan it had)."""
    import subprocess
    import sys
    import time

    from sharedsvc.solver.backends import _wait_or_kill

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.perf_counter()
    assert _wait_or_kill(process, 0.5) is None
    assert time.perf_counter() - started < 10
    assert process.poll() is not None
    quick = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert _wait_or_kill(quick, 30.0) == 3
