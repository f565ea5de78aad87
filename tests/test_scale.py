"""The `scale` model's figures, computed by hand from the spec's section 2."""

from __future__ import annotations

import pytest

from sharedsvc.model.toml_writer import dumps

# horizon 2 years at 10%: annuity = 1/1.1 + 1/1.21
ANNUITY = 0.9090909090909091 + 0.8264462809917354


def consortium(members: dict, constraints: dict | None = None) -> str:
    return dumps(
        {
            "consortium": {"name": "hand", "horizon_years": 2, "discount_rate": 0.1},
            "services": {
                "svc": {
                    "model": "scale",
                    "scale_exponent": 0.5,
                    "coordination_cost": 100,
                    "transition_cost": 50,
                }
            },
            "members": {
                m: {"services": {"svc": {"volume": v, "annual_cost": c}}}
                for m, (v, c) in members.items()
            },
            "constraints": constraints or {},
        }
    )


def test_annuity_is_green_book_end_of_year_discounting(engine):
    from sharedsvc.appraisal.money import annuity

    assert annuity(2, 0.1) == pytest.approx(1.7355371900826446, abs=1e-12)
    assert annuity(5, 0.0) == 5
    # the closed form of an annuity: (1 - (1 + r) ** -n) / r
    assert annuity(5, 0.035) == pytest.approx((1 - 1.035**-5) / 0.035, abs=1e-12)


def test_two_member_group_by_hand(engine):
    # V = 400; a: 1000 * (400/100) ** -0.5 = 500; b: 3000 * (400/300) ** -0.5 = 2598.0762113533
    # running = 500 + 2598.0762113533 + 100 (one pair) = 3198.0762113533
    # saving = 4000 - 3198.0762113533 = 801.9237886467; transition = 50 * 1
    # npv = 801.9237886467 * 1.7355371900826 - 50 = 1341.7685588083
    result = engine.optimise(engine.parse(consortium({"a": (100, 1000), "b": (300, 3000)})))
    (group,) = result.services[0].groups
    assert group.members == ("a", "b")
    assert group.annual_saving == pytest.approx(801.923788646684, abs=1e-6)
    assert group.transition_cost == 50
    assert group.npv == pytest.approx(1341.7685588082945, abs=1e-6)
    # proportional to standalone cost: 1000/4000 and 3000/4000
    assert group.allocation == pytest.approx({"a": 335.4421397, "b": 1006.3264191}, abs=1e-6)


def test_three_member_group_by_hand(engine):
    # V = 400; a, b: 1000 * 4 ** -0.5 = 500 each; c: 4000 * 2 ** -0.5 = 2828.4271247462
    # running = 3828.4271247462 + 100 * 3 pairs = 4128.4271247462; saving = 1871.5728752538
    # transition = 50 * 2 = 100; npv = 1871.5728752538 * 1.7355371900826 - 100 = 3148.1843289529
    text = consortium(
        {"a": (100, 1000), "b": (100, 1000), "c": (200, 4000)}, {"allocation": "equal"}
    )
    result = engine.optimise(engine.parse(text))
    (group,) = result.services[0].groups
    assert group.members == ("a", "b", "c")
    assert group.annual_saving == pytest.approx(1871.5728752538107, abs=1e-6)
    assert group.transition_cost == 100
    assert group.npv == pytest.approx(3148.1843289528947, abs=1e-6)
    assert group.allocation == pytest.approx(dict.fromkeys("abc", 3148.1843289528947 / 3), abs=1e-6)
    assert result.totals["npv"] == pytest.approx(3148.1843289528947, abs=1e-6)


def test_bulk_pricing_agrees_with_one_at_a_time(engine):
    from sharedsvc import Participant

    model = engine.registry.cost_models["scale"]
    cons = engine.parse(consortium({"a": (100, 1000), "b": (300, 3000), "c": (200, 4000)}))
    people = [Participant(member=p.member, fields=p.fields) for p in cons.participations]
    params = cons.services[0].parameters
    groups = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    prices = model.price_groups(people, groups, params)
    assert prices.income is None
    for g, group in enumerate(groups):
        members = [people[i] for i in group]
        expected = model.group_running_cost(members, params)
        assert prices.running[g] == pytest.approx(expected, rel=1e-12)
        assert prices.transition[g] == model.group_transition_cost(members, params)


def test_a_group_of_one_saves_nothing(engine):
    result = engine.optimise(engine.parse(consortium({"a": (100, 1000)})))
    assert result.services[0].groups == ()
    assert result.services[0].standalone == ("a",)
    assert result.totals == {"npv": 0, "annual_saving": 0, "transition_cost": 0}


def test_negative_npv_group_is_not_chosen(engine):
    # exponent 1 means no economies of scale: only coordination cost remains
    text = consortium({"a": (100, 1000), "b": (300, 3000)}).replace(
        "scale_exponent = 0.5", "scale_exponent = 1.0"
    )
    result = engine.optimise(engine.parse(text))
    assert result.services[0].groups == ()
    assert result.services[0].standalone == ("a", "b")
