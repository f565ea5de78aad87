"""Uncertain inputs and `simulate`: samplers, reproducibility, analytic checks, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sharedsvc.appraisal.distributions import parse
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

ENV = {"SHAREDSVC_DISABLE_PLUGINS": "1"}


def consortium(cost_a, *, members=3, exponent=0.8):
    data = {
        "consortium": {"name": "u", "horizon_years": 3, "discount_rate": 0.035},
        "services": {"svc": {"model": "scale", "scale_exponent": exponent}},
        "members": {},
        "constraints": {"allocation": "proportional"},
    }
    for i in range(members):
        cost = cost_a if i == 0 else 200_000.0 * (i + 1)
        data["members"][f"m{i}"] = {
            "services": {"svc": {"volume": 1000 * (i + 1), "annual_cost": cost}}
        }
    return data


def write(tmp_path, data, name="c.toml"):
    path = tmp_path / name
    path.write_text(dumps(data), encoding="utf-8")
    return str(path)


def test_zero_width_distributions_reproduce_optimise(engine):
    fixed = engine.parse(dumps(consortium(300_000.0)))
    point = engine.parse(dumps(consortium({"low": 3e5, "mode": 3e5, "high": 3e5})))
    plain = engine.optimise(fixed)
    found = engine.simulate(point, draws=50, seed=3)
    assert found.result.totals["npv"] == plain.totals["npv"]
    assert np.all(found.totals == plain.totals["npv"])
    assert found.result.to_dict()["central_values_of"] == ["members.m0.services.svc.annual_cost"]


def test_a_saving_linear_in_one_uniform_input_matches_the_analytic_spread(engine):
    low, high = 200_000.0, 600_000.0
    found = engine.simulate(
        engine.parse(dumps(consortium({"dist": "uniform", "low": low, "high": high}))),
        draws=4000,
        seed=11,
    )

    # npv is linear in m0's annual cost: find it exactly at two points
    def npv_at(cost):
        return engine.optimise(engine.parse(dumps(consortium(cost)))).totals["npv"]

    assert [g[1] for g in found.plan.groups] == [("m0", "m1", "m2")]
    at_low, at_high = npv_at(low), npv_at(high)
    slope = (at_high - at_low) / (high - low)
    mid = (low + high) / 2
    assert npv_at(mid) == pytest.approx(at_low + slope * (mid - low), rel=1e-9)  # linear
    expected = {q: at_low + slope * q / 100 * (high - low) for q in (5, 50, 95)}
    width = at_high - at_low
    # 4,000 draws: the sample quantiles are within 2% of the range (fixed seed)
    for q, value in expected.items():
        assert np.percentile(found.totals, q) == pytest.approx(value, abs=0.02 * abs(width))
    assert found.totals.mean() == pytest.approx(at_low + slope * (mid - low), abs=0.01 * abs(width))


@pytest.mark.parametrize(
    ("table", "mean"),
    [
        ({"low": 1.0, "mode": 2.0, "high": 6.0}, 3.0),
        ({"dist": "pert", "low": 1.0, "mode": 2.0, "high": 6.0}, (1 + 8 + 6) / 6),
        ({"dist": "uniform", "low": 1.0, "high": 6.0}, 3.5),
    ],
)
def test_bounded_samplers_match_their_means_and_stay_in_range(table, mean):
    distribution, problems = parse(table, None, None)
    assert not problems
    u = np.random.default_rng(5).random(200_000)
    x = distribution.ppf(u)
    assert distribution.mean == pytest.approx(mean)
    assert x.mean() == pytest.approx(mean, rel=0.01)
    assert x.min() >= table["low"] and x.max() <= table["high"]


def test_normal_and_lognormal_samplers_match_their_moments():
    u = np.random.default_rng(6).random(200_000)
    for kind in ("normal", "lognormal"):
        distribution, _ = parse({"dist": kind, "mean": 10.0, "sd": 2.0}, None, None)
        x = distribution.ppf(u)
        assert x.mean() == pytest.approx(10.0, rel=0.01)
        assert x.std() == pytest.approx(2.0, rel=0.02)


def test_the_same_seed_gives_the_same_json_at_any_number_of_workers(tmp_path):
    data = consortium({"low": 2e5, "mode": 3e5, "high": 5e5, "correlation": 0.5})
    data["members"]["m1"]["services"]["svc"]["annual_cost"] = {
        "dist": "pert",
        "low": 3e5,
        "mode": 4e5,
        "high": 6e5,
    }
    path = write(tmp_path, data)
    outputs = []
    for workers in ("1", "2"):
        result = CliRunner().invoke(
            main,
            [
                "simulate",
                path,
                "--draws",
                "120",
                "--seed",
                "9",
                "--workers",
                workers,
                "-q",
                "--format",
                "json",
            ],
            env=ENV,
        )
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    data = outputs[0]
    assert data["draws"] == 120 and data["seed"] == 9
    assert set(data["totals"]["npv"]) == {"mean", "p5", "p50", "p95"}
    assert 0 <= data["totals"]["p_positive"] <= 1
    assert data["tornado"][0]["swing"] >= data["tornado"][-1]["swing"]
    assert sum(data["payback_years"].values()) == pytest.approx(1.0)
    another = CliRunner().invoke(
        main,
        ["simulate", path, "--draws", "120", "--seed", "10", "-q", "--format", "json"],
        env=ENV,
    )
    assert json.loads(another.stdout)["totals"] != data["totals"]


def test_correlated_draws_move_together(engine):
    from sharedsvc.uncertainty.sampling import seeds, uniforms

    data = consortium({"low": 1e5, "mode": 3e5, "high": 5e5, "correlation": 0.9})
    data["members"]["m1"]["services"]["svc"]["annual_cost"] = {"low": 1e5, "mode": 3e5, "high": 5e5}
    inputs = engine.parse(dumps(data)).uncertain
    u = np.array([uniforms(inputs, s) for s in seeds(1, 3000)])
    assert np.corrcoef(u[:, 0], u[:, 1])[0, 1] > 0.8
    data["members"]["m0"]["services"]["svc"]["annual_cost"].pop("correlation")
    inputs = engine.parse(dumps(data)).uncertain
    u = np.array([uniforms(inputs, s) for s in seeds(1, 3000)])
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.06


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ({"low": 5e5, "mode": 3e5, "high": 4e5}, "annual_cost.low", "above high"),
        ({"low": 1e5, "mode": 6e5, "high": 4e5}, "annual_cost.mode", "outside"),
        ({"dist": "normal", "mean": 3e5, "sd": -1}, "annual_cost.sd", ">= 0"),
        ({"dist": "gamma", "mean": 3e5}, "annual_cost.dist", "expected one of"),
        ({"dist": "normal", "mean": 3e5}, "annual_cost.sd", "missing"),
        (
            {"low": 1e5, "mode": 2e5, "high": 3e5, "correlation": 1.5},
            "annual_cost.correlation",
            "below 1",
        ),
        ({"low": -1e5, "mode": 2e5, "high": 3e5}, "annual_cost.low", "bounds"),
    ],
)
def test_bad_distributions_are_refused_with_their_key_path(tmp_path, value, path, words):
    result = CliRunner().invoke(main, ["validate", write(tmp_path, consortium(value))], env=ENV)
    assert result.exit_code == 2
    assert f"members.m0.services.svc.{path}" in result.output and words in result.output
    assert "Traceback" not in result.output


def test_simulate_table_and_usage_errors(tmp_path):
    path = write(tmp_path, consortium({"low": 2e5, "mode": 3e5, "high": 5e5}))
    result = CliRunner().invoke(main, ["simulate", path, "--draws", "40", "-q"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "P(npv > 0)" in result.output and "payback year" in result.output
    assert "members.m0.services.svc.annual_cost" in result.output  # the tornado
    bad = CliRunner().invoke(main, ["simulate", path, "--draws", "0"], env=ENV)
    assert bad.exit_code == 2


def simulate_json(*args):
    result = CliRunner().invoke(main, ["simulate", *args, "-q", "--format", "json"], env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_reoptimise_counts_the_partnerships_and_finds_the_best_plan_in_expectation(tmp_path):
    # m0's cost ranges from a size where it pairs best to one where it joins all three
    data = consortium({"dist": "uniform", "low": 5e4, "high": 2e6}, members=3)
    data["services"]["svc"]["coordination_cost"] = 15_000.0
    path = write(tmp_path, data)
    found = simulate_json(path, "--draws", "60", "--seed", "2", "--reoptimise", "--workers", "1")
    again = found["reoptimised"]
    shares = found["services"]["svc"]["chosen_share"]
    assert shares and all(0 < v <= 1 for v in shares.values())
    best = again["best_in_expectation"]
    assert best["expected_npv"] == max(p["expected_npv"] for p in again["plans"])
    assert sum(p["frequency"] for p in again["plans"]) == pytest.approx(1.0)
    # the optimum of each draw is at least what the central plan makes in that draw
    assert again["npv"]["mean"] >= found["totals"]["npv"]["mean"] - 0.01
    parallel = simulate_json(path, "--draws", "60", "--seed", "2", "--reoptimise", "--workers", "2")
    assert parallel == found


def test_a_dask_cluster_gives_the_same_json_as_one_process(tmp_path):
    distributed = pytest.importorskip("distributed")  # a test extra: installed in CI
    path = write(tmp_path, consortium({"low": 2e5, "mode": 3e5, "high": 5e5}))
    alone = simulate_json(path, "--draws", "80", "--seed", "4", "--workers", "1")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address=None,
    ) as cluster:
        on_dask = simulate_json(
            path, "--draws", "80", "--seed", "4", "--scheduler", cluster.scheduler_address
        )
    assert on_dask == alone


def test_a_scheduler_that_is_not_there_is_a_usage_error(tmp_path):
    pytest.importorskip("distributed")
    path = write(tmp_path, consortium({"low": 2e5, "mode": 3e5, "high": 5e5}))
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            path,
            "--draws",
            "5",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--scheduler-timeout",
            "1",
        ],
        env=ENV,
    )
    assert result.exit_code == 2
    assert "cannot connect" in result.output


def test_simulate_writes_its_output_file_and_never_over_the_input(tmp_path):
    path = write(tmp_path, consortium({"low": 2e5, "mode": 3e5, "high": 5e5}))
    target = tmp_path / "draws.json"
    result = CliRunner().invoke(
        main,
        ["simulate", path, "--draws", "20", "-q", "--format", "json", "-o", str(target)],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["draws"] == 20
    again = CliRunner().invoke(main, ["simulate", path, "--draws", "5", "-o", path], env=ENV)
    assert again.exit_code == 2
    assert "consortium file itself" in again.output
