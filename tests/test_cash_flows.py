"""Year-by-year cash flows: hand-computed figures, the Green Book schedule, bad settings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sharedsvc.appraisal.cashflows import CashFlowProfile, green_book_rate, payback_year
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

PENNY = 0.01


def pair(**head):
    return {
        "consortium": {"name": "pair", "horizon_years": 4, "discount_rate": 0.1, **head},
        "services": {"svc": {"model": "scale", "scale_exponent": 0.8, "transition_cost": 60_000}},
        "members": {
            "a": {"services": {"svc": {"volume": 1_000, "annual_cost": 400_000}}},
            "b": {"services": {"svc": {"volume": 3_000, "annual_cost": 600_000}}},
        },
        "constraints": {"allocation": "proportional"},
    }


def test_hand_computed_flows_with_ramp_up_split_one_off_double_running_and_exit(engine):
    data = pair(
        ramp_up=[0.25, 0.75], one_off_profile=[0.5, 0.5], double_running=[0.1], exit_cost=0.2
    )
    result = engine.optimise(engine.parse(dumps(data)))
    (group,) = result.service("svc").groups
    # the spec's scale formulas by hand: V = 4,000
    saving = 1_000_000 - (400_000 * 4.0**-0.2 + 600_000 * (4 / 3) ** -0.2)
    standalone, one_off = 1_000_000.0, 60_000.0
    expected = [
        -0.5 * one_off,  # year 0: half the one-off cost
        0.25 * saving - 0.1 * standalone - 0.5 * one_off,  # year 1: ramp, double running
        0.75 * saving,
        saving,
        saving - 0.2 * one_off,  # year 4: the exit cost
    ]
    assert group.annual_saving == pytest.approx(saving, abs=PENNY)
    assert list(group.cash_flows) == pytest.approx(expected, abs=PENNY)
    factors = [1.1**-t for t in range(5)]
    discounted = [v * f for v, f in zip(expected, factors, strict=True)]
    assert list(group.discounted) == pytest.approx(discounted, abs=PENNY)
    assert group.npv == pytest.approx(sum(discounted), abs=PENNY)
    cumulative = [sum(discounted[: t + 1]) for t in range(5)]
    first = next(t for t, v in enumerate(cumulative) if v > 0)
    assert group.payback_year == first == 3
    data_out = result.to_dict()
    assert data_out["services"]["svc"]["groups"][0]["cash_flows"]["undiscounted"] == [
        round(v, 2) for v in expected
    ]
    # members' flows are their share of the group's, and add up to it
    members = [result.member(m).cash["svc"] for m in ("a", "b")]
    for year in range(5):
        assert sum(m.undiscounted[year] for m in members) == pytest.approx(expected[year])


def test_the_defaults_are_the_spec_arithmetic():
    profile = CashFlowProfile(horizon_years=5, discount_rate=0.035)
    a, b, c = profile.weights()
    assert a == pytest.approx(sum(1.035**-t for t in range(1, 6)), abs=1e-12)
    assert (b, c) == (0.0, 1.0)


def test_green_book_schedule_declines_after_year_30():
    assert [green_book_rate(t) for t in (1, 30, 31, 75, 76, 125, 126)] == [
        0.035,
        0.035,
        0.03,
        0.03,
        0.025,
        0.025,
        0.02,
    ]
    profile = CashFlowProfile(horizon_years=32, discount_rate="green-book")
    factors = profile.discount_factors()
    assert factors[30] == pytest.approx(1.035**-30)
    assert factors[32] == pytest.approx(1.035**-30 * 1.03**-2)


def test_green_book_discounting_from_the_file(engine):
    data = pair(horizon_years=35, discount_rate="green-book")
    result = engine.optimise(engine.parse(dumps(data)))
    (group,) = result.service("svc").groups
    assert group.discounted[35] == pytest.approx(group.cash_flows[35] * 1.035**-30 * 1.03**-5)


def test_payback_year_edges():
    assert payback_year([]) is None
    assert payback_year([0.0, 0.0]) is None
    assert payback_year([0.0, 5.0]) == 1
    assert payback_year([-10.0, 4.0, 4.0, 4.0]) == 3
    assert payback_year([-10.0, 4.0, 4.0]) is None


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("ramp_up", [0.5, 1.5], "shares from 0 to 1"),
        ("ramp_up", "fast", "a list of numbers"),
        ("one_off_profile", [0.5, 0.4], "sum to 1"),
        ("one_off_profile", [1.0] + [0.0] * 10, "at most 5 values"),
        ("double_running", [-0.1], "shares from 0"),
        ("exit_cost", -1, "from 0 to 10"),
        ("discount_rate", "treasury", "green-book"),
    ],
)
def test_bad_cash_flow_settings_are_refused_with_their_key_path(tmp_path, key, value, words):
    path = tmp_path / "c.toml"
    path.write_text(dumps(pair(**{key: value})), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(path)], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 2
    assert f"consortium.{key}" in result.output and words in result.output
    assert "Traceback" not in result.output


def test_years_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(dumps(pair(ramp_up=[0.5])), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["optimise", str(path), "--years", "-q"], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 0, result.output
    assert "Cash flows by year" in result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("year"))
    assert [line.split()[0] for line in lines[header + 2 : header + 7]] == ["0", "1", "2", "3", "4"]


# -- optimism bias ---------------------------------------------------------------------


def test_optimism_bias_uplifts_costs_and_delays_savings_as_documented(engine):
    plain = engine.optimise(engine.parse(dumps(pair())))
    biased = engine.optimise(
        engine.parse(dumps(pair(optimism_bias={"one_off": 0.5, "running": 0.1, "delay_years": 1})))
    )
    (before,) = plain.service("svc").groups
    (after,) = biased.service("svc").groups
    running = 1_000_000 - before.annual_saving  # the shared running cost, unadjusted
    assert after.transition_cost == pytest.approx(before.transition_cost * 1.5)
    assert after.annual_saving == pytest.approx(1_000_000 - running * 1.1)
    assert after.cash_flows[1] == 0.0  # a year late
    assert after.cash_flows[2] == pytest.approx(after.annual_saving)
    expected = -after.transition_cost + sum(after.annual_saving * 1.1**-t for t in range(2, 5))
    assert after.npv == pytest.approx(expected)
    # the unadjusted figures beside them are the plain run's
    assert after.unadjusted.npv == pytest.approx(before.npv)
    assert after.unadjusted.annual_saving == pytest.approx(before.annual_saving)
    data = biased.to_dict()
    assert data["optimism_bias"] == {"one_off": 0.5, "running": 0.1, "delay_years": 1}
    assert data["unadjusted_totals"]["npv"] == pytest.approx(plain.totals["npv"], abs=PENNY)
    assert "unadjusted_totals" not in plain.to_dict()


@pytest.mark.parametrize(
    ("preset", "mitigation", "one_off", "running"),
    [
        ("shared-service", 0.0, 2.00, 0.41),  # the upper bounds
        ("shared-service", 1.0, 0.10, 0.00),  # fully mitigated: the lower bounds
        ("shared-service", 0.5, 1.05, 0.205),
        ("equipment-development", 0.0, 2.00, 0.0),
        ("outsourcing", 0.0, 0.0, 0.41),
        ("standard-buildings", 0.0, 0.24, 0.0),
        ("non-standard-civil-engineering", 1.0, 0.06, 0.0),
    ],
)
def test_green_book_presets(engine, preset, mitigation, one_off, running):
    data = pair(optimism_bias={"preset": preset, "mitigation": mitigation})
    bias = engine.parse(dumps(data)).optimism_bias
    assert (bias.one_off, bias.running) == pytest.approx((one_off, running))


def test_a_preset_may_be_named_alone(engine):
    assert engine.parse(dumps(pair(optimism_bias="outsourcing"))).optimism_bias.running == 0.41


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ({"preset": "rocket"}, "optimism_bias.preset", "unknown preset"),
        ({"mitigation": 0.5}, "optimism_bias.mitigation", "give a preset"),
        ({"preset": "outsourcing", "running": 0.2}, "optimism_bias.running", "not both"),
        ({"one_off": -0.1}, "optimism_bias.one_off", "from 0 to 10"),
        ({"delay_years": 1.5}, "optimism_bias.delay_years", "whole years"),
        ({"speed": 1}, "optimism_bias.speed", "unknown key"),
        (3, "optimism_bias", "expected a preset"),
    ],
)
def test_bad_optimism_bias_is_refused_with_its_key_path(tmp_path, value, path, words):
    target = tmp_path / "c.toml"
    target.write_text(dumps(pair(optimism_bias=value)), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(target)], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 2
    assert f"consortium.{path}" in result.output and words in result.output


# -- cash and non-cash -----------------------------------------------------------------


def fraud_pair(**head):
    row = {"cases": 200, "investigators": 3.0, "annual_cost": 150_000.0}
    return {
        "consortium": {"name": "fraud", "horizon_years": 1, "discount_rate": 0.0, **head},
        "services": {"fraud": {"model": "fraud", "coordination_cost": 0.0, "transition_cost": 0}},
        "members": {
            "a": {"services": {"fraud": {**row, "detected_value": 400_000.0}}},
            "b": {"services": {"fraud": {**row, "cases": 600, "detected_value": 900_000.0}}},
        },
    }


@pytest.mark.parametrize("count", [0.0, 0.22, 1.0])
def test_non_cashable_value_is_reported_apart_and_counted_at_its_share(engine, count):
    model = engine.registry.cost_models["fraud"]
    consortium = engine.parse(dumps(fraud_pair(count_non_cashable=count)))
    (group,) = engine.optimise(consortium).service("fraud").groups
    people = [p.participant() for p in consortium.participations]
    params = consortium.service("fraud").parameters
    value = model.group_non_cashable(people, params)
    cash = 300_000.0 - model.group_running_cost(people, params)
    assert group.non_cashable_value == pytest.approx(value)
    assert group.non_cashable_counted == pytest.approx(count * value)
    assert group.cashable_saving == pytest.approx(cash)
    assert group.annual_saving == pytest.approx(cash + count * value)
    assert group.npv == pytest.approx(cash + count * value)  # one year, undiscounted


def test_non_cashable_value_counts_at_22_percent_by_default(engine):
    consortium = engine.parse(dumps(fraud_pair()))
    assert consortium.count_non_cashable == 0.22
    data = engine.optimise(consortium).to_dict()
    assert data["non_cashable"]["count_share"] == 0.22
    assert data["non_cashable"]["counted"] == pytest.approx(
        0.22 * data["non_cashable"]["value"], abs=PENNY
    )
    member = data["members"]["a"]
    assert member["cashable_saving"] + 0.22 * member["non_cashable_value"] == pytest.approx(
        member["annual_saving"],
        abs=2 * PENNY,  # three figures, each rounded to the penny
    )


def test_true_and_false_count_all_or_none(engine):
    assert engine.parse(dumps(fraud_pair(count_non_cashable=True))).count_non_cashable == 1.0
    assert engine.parse(dumps(fraud_pair(count_non_cashable=False))).count_non_cashable == 0.0


def test_the_ngss_ramp_up_is_its_published_pace_and_fits_a_short_horizon(engine):
    named = engine.parse(dumps(pair(ramp_up="ngss")))
    listed = engine.parse(dumps(pair(ramp_up=[0.1, 0.3, 0.6])))
    assert named.ramp_up == (0.1, 0.3, 0.6)
    assert engine.optimise(named).totals["npv"] == engine.optimise(listed).totals["npv"]
    # 28% of the forecast saving in the first two and a half years (NAO, 2016)
    first, second, third = named.ramp_up
    delivered = (first + second + third / 2) / 2.5
    assert delivered == pytest.approx(90 / (2.5 * 128), abs=0.005)
    short = pair(ramp_up="ngss")
    short["consortium"]["horizon_years"] = 2
    assert engine.parse(dumps(short)).ramp_up == (0.1, 0.3)


def test_an_unknown_ramp_up_preset_names_the_presets(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(dumps(pair(ramp_up="quick")), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(path)], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 2
    assert "consortium.ramp_up" in result.output and "ngss" in result.output


def test_the_shared_service_centres_bias_is_the_nao_outturn(engine):
    found = engine.parse(dumps(pair(optimism_bias="shared-service-centres")))
    assert found.optimism_bias.one_off == pytest.approx(1.4 / 0.9 - 1, abs=0.005)
    assert found.optimism_bias.running == 0.0
