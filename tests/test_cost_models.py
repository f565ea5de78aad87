"""The service cost models: the contract, hand-computed figures, and what must be monotone."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsvc import Location, Member, Participant
from sharedsvc.testing import check_cost_model, default_parameters, tiny_participants

MODELS = ["scale", "ip_processing", "hr", "fraud", "sen_transport"]


def person(name, lat=51.5, lon=0.0, **fields):
    return Participant(
        member=Member(id=name, name=name, location=Location(lat=lat, lon=lon)), fields=fields
    )


def params_of(engine, model, **overrides):
    return {**default_parameters(engine.registry.cost_models[model]), **overrides}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("seed", range(4))
def test_every_model_keeps_the_contract(engine, name, seed):
    model = engine.registry.cost_models[name]
    check_cost_model(model, tiny_participants(model, count=5, seed=seed))


def test_contract_check_catches_a_singleton_that_saves(engine):
    from sharedsvc_plugins.scale import Scale

    class Leaky(Scale):
        def group_running_cost(self, participants, params):
            return 0.9 * super().group_running_cost(participants, params)

    with pytest.raises(AssertionError, match="a singleton must save nothing"):
        check_cost_model(Leaky())


def test_ip_processing_by_hand(engine):
    # a: 1000 manual invoices for £4,000; b: 3000 electronic invoices for £3,000; r = 0.5, b = 0.5
    # per manual-equivalent: a 4000/1000 = 4, b 3000/(3000 * 0.5) = 2; pooled 4000, best mix 0.5
    # a: 4 * 4 ** -0.5 * 0.5 = 1.0; b: 2 * (4/3) ** -0.5 * 0.5 = 0.8660254
    model = engine.registry.cost_models["ip_processing"]
    a = person("a", invoices=1000, payments=0.0, electronic_share=0.0, annual_cost=4000.0)
    b = person("b", invoices=3000, payments=0.0, electronic_share=1.0, annual_cost=3000.0)
    params = params_of(
        engine,
        "ip_processing",
        electronic_cost_ratio=0.5,
        scale_exponent=0.5,
        minimum_unit_cost=0.0,
        coordination_cost=0.0,
        transition_cost=500.0,
    )
    assert model.group_running_cost([a, b], params) == pytest.approx(3598.076211353316)
    assert model.group_transition_cost([a, b], params) == 500.0
    # the floor: b's unit cost cannot fall below min(its own £1.00, £0.95)
    floored = {**params, "minimum_unit_cost": 0.95}
    assert model.group_running_cost([a, b], floored) == pytest.approx(1000 + 3000 * 0.95)
    # a missing annual cost is estimated at default_unit_cost per transaction
    c = person("c", invoices=1000, payments=500.0, electronic_share=0.0, annual_cost=None)
    assert model.standalone_cost(c, params) == pytest.approx(1500 * 3.40)


@settings(max_examples=100, deadline=None)
@given(
    shares=st.lists(st.floats(0, 1), min_size=2, max_size=5),
    raise_by=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_more_electronic_processing_never_costs_more(engine, shares, raise_by, seed):
    model = engine.registry.cost_models["ip_processing"]
    people = tiny_participants(model, count=len(shares), seed=seed)
    people = [
        Participant(member=p.member, fields={**p.fields, "electronic_share": s})
        for p, s in zip(people, shares, strict=True)
    ]
    params = default_parameters(model)
    best = max(range(len(shares)), key=lambda i: shares[i])
    better = list(people)
    better[best] = Participant(
        member=people[best].member,
        fields={**people[best].fields, "electronic_share": min(1.0, shares[best] + raise_by)},
    )
    before = model.group_running_cost(people, params)
    after = model.group_running_cost(better, params)
    assert after <= before * (1 + 1e-12)


def test_hr_by_hand(engine):
    # benchmark split: a 100 * 600 + 1200 * 5 = 66,000 of which payroll 1/11; b three times a
    model = engine.registry.cost_models["hr"]
    a = person("a", employees=100, payslips=1200, annual_cost=66_000.0)
    b = person("b", employees=300, payslips=3600, annual_cost=198_000.0)
    params = params_of(
        engine,
        "hr",
        employee_cost=600.0,
        payslip_cost=5.0,
        hr_scale_exponent=0.5,
        payroll_scale_exponent=0.5,
        coordination_cost=0.0,
        programme_cost=1000.0,
        migration_cost_per_employee=10.0,
    )
    # both parts scale alike: 66,000 * 4 ** -0.5 + 198,000 * (4/3) ** -0.5
    assert model.group_running_cost([a, b], params) == pytest.approx(204473.02994931885)
    # payroll not scaling at all: only the HR 10/11 falls
    flat_pay = {**params, "payroll_scale_exponent": 1.0}
    assert model.group_running_cost([a, b], flat_pay) == pytest.approx(209884.57268119897)
    # programme 1,000 for one partner + 10 * 100 employees migrated onto b's system
    assert model.group_transition_cost([a, b], params) == pytest.approx(2000.0)


def test_fraud_by_hand_reports_added_detection_as_non_cashable(engine):
    model = engine.registry.cost_models["fraud"]
    a = person("a", cases=100, investigators=2.0, annual_cost=100_000.0, detected_value=200_000.0)
    b = person("b", cases=300, investigators=5.0, annual_cost=240_000.0, detected_value=900_000.0)
    params = params_of(
        engine, "fraud", scale_exponent=0.5, detection_exponent=0.5, coordination_cost=0.0
    )
    # 100,000 * 4 ** -0.5 + 240,000 * (4/3) ** -0.5
    assert model.group_running_cost([a, b], params) == pytest.approx(257846.0969082653)
    # 200,000 * (4 ** 0.5 - 1) + 900,000 * ((4/3) ** 0.5 - 1)
    assert model.group_non_cashable([a, b], params) == pytest.approx(339230.4845413263)
    assert model.group_added_income([a, b], params) == 0.0  # none of it is cash
    half = {**params, "value_counted": 0.5}
    assert model.group_non_cashable([a, b], half) == pytest.approx(339230.4845413263 / 2)
    # estimates: 2 investigators * £50,000; 100 cases * £3,600
    c = person("c", cases=100, investigators=2.0, annual_cost=None, detected_value=None)
    assert model.standalone_cost(c, params) == 100_000.0
    # c's detected value is estimated at 360,000: 360,000 * (4 ** 0.5 - 1) + b's 139,230.48
    assert model.group_non_cashable([c, b], params) == pytest.approx(360_000 + 139230.4845413263)


def test_sen_transport_by_hand(engine):
    model = engine.registry.cost_models["sen_transport"]
    a = person("a", pupils=50, routes=10, vehicles=2.0, annual_cost=100_000.0)
    b = person("b", pupils=150, routes=30, vehicles=5.0, annual_cost=300_000.0)
    params = params_of(engine, "sen_transport", scale_exponent=0.5, coordination_cost=0.0)
    # same place: each member reaches all 40 routes: 100,000 * 4 ** -0.5 + 300,000 * (4/3) ** -0.5
    assert model.group_running_cost([a, b], params) == pytest.approx(309807.6211353316)
    # 120,000 for one partner + 2,000 * 2 vehicles moved to b's fleet
    assert model.group_transition_cost([a, b], params) == pytest.approx(124_000.0)


def test_sen_transport_partners_far_apart_save_less(engine):
    model = engine.registry.cost_models["sen_transport"]
    params = params_of(engine, "sen_transport", coordination_cost=0.0)
    a = person("a", pupils=500, routes=60, vehicles=0.0, annual_cost=4_000_000.0)
    savings = []
    for km in (0, 5, 10, 30, 100, 300):
        lat = 51.5 + km / 111.195  # one degree of latitude is about 111.2 km
        b = person("b", lat=lat, pupils=400, routes=50, vehicles=0.0, annual_cost=3_200_000.0)
        running = model.group_running_cost([a, b], params)
        savings.append(7_200_000.0 - running)
    assert savings == sorted(savings, reverse=True)
    assert savings[0] > 100_000  # co-located partners save a lot
    assert savings[-1] < 1.0  # 300 km apart: nothing to combine


def test_sen_transport_requires_locations(engine, tmp_path):
    from sharedsvc import ConsortiumError

    text = """
[services.sen]
model = "sen_transport"
[members.a]
services.sen = { pupils = 10, routes = 2 }
"""
    with pytest.raises(ConsortiumError, match=r"members\.a\.location: expected .* sen_transport"):
        engine.parse(text)


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_cites_a_source(engine, name):
    for parameter in engine.registry.cost_models[name].parameters:
        assert parameter.source, f"{name}.{parameter.name} has no source"
        assert math.isfinite(parameter.default)
