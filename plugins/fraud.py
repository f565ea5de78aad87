"""`fraud`: counter-fraud investigation.

Each member reports the cases it investigates a year, its investigators and
what the team costs. A shared team costs less per case (supervision, data
matching, intelligence and legal support spread over more cases) and also
detects more per case (specialists, cross-border data), so sharing both cuts
cost and adds value detected. That value is not cash (CIPFA counts fraud detected or
prevented, much of it notional), so it is reported as non-cashable and counted in the
saving only at the consortium's `count_non_cashable` fraction (`docs/appraisal.md`).

For member i with cases c_i, cost C_i and value detected D_i, in a group with
K = sum c_j:

    running    = sum_i C_i * (K / c_i) ** (b - 1) + coordination_cost * k * (k - 1) / 2
    non-cash   = value_counted * sum_i D_i * ((K / c_i) ** g - 1)
    transition = transition_cost * (k - 1)

If `annual_cost` is absent it is estimated as investigators * investigator_cost;
if `detected_value` is absent, as cases * value_per_case.

Defaults and their sources:
- `value_per_case` £3,600: the average value of each fraud detected or prevented
  by UK local authorities in 2017/18 (CIPFA Fraud and Corruption Tracker 2018;
  £4,500 in 2016/17, CFaCT 2017).
- `value_counted` 1.0: the whole of the extra value detected is reported, as
  non-cashable; how much of it the saving counts is `[consortium] count_non_cashable`.
- `detection_exponent` g = 0.05 (value per case 3.5% higher per doubling of
  cases) and `scale_exponent` b = 0.80: no published estimate was found;
  planning assumptions to replace with your own evidence.
- `investigator_cost` £50,000 a year with on-costs, `coordination_cost` £40,000
  a year per pair and `transition_cost` £80,000 per partner: planning assumptions.

Peer figure for `sharedsvc benchmark` (detected per case): CIPFA's Fraud and Corruption
Tracker 2018 average value per fraud detected or prevented, £3,600 in 2017/18 (80,000
frauds, £302m; CIPFA's own average).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedsvc import Field, Indicator, Measure, Participant, Peers, hookimpl
from sharedsvc_plugins._groups import (
    ArrayCostModel,
    coordination_field,
    pairs,
    pooling_factor,
    transition_field,
)


class Fraud(ArrayCostModel):
    name = "fraud"
    summary = "Counter-fraud investigation: lower cost per case and more detected per case."
    member_fields = (
        Field(
            name="cases",
            unit="investigations a year",
            minimum=0,
            exclusive_minimum=True,
            description="cases investigated a year",
        ),
        Field(
            name="investigators",
            unit="FTE",
            minimum=0,
            default=0.0,
            description="investigators employed (used to estimate cost if absent)",
        ),
        Field(
            name="annual_cost",
            unit="pounds a year",
            minimum=0,
            default=None,
            description="current cost of the team; estimated from investigators if absent",
        ),
        Field(
            name="detected_value",
            unit="pounds a year",
            minimum=0,
            default=None,
            description="fraud detected or prevented a year; estimated from cases if absent",
        ),
    )
    parameters = (
        Field(
            name="scale_exponent",
            unit="b; cost per case ~ cases ** (b - 1)",
            default=0.80,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="no published estimate; planning assumption",
        ),
        Field(
            name="detection_exponent",
            unit="g; value per case ~ cases ** g",
            default=0.05,
            minimum=0,
            maximum=1,
            source="no published estimate; planning assumption",
        ),
        Field(
            name="value_per_case",
            unit="pounds detected per case",
            default=3_600.0,
            minimum=0,
            source="CIPFA Fraud and Corruption Tracker 2018 (£3,600 in 2017/18; £4,500 in 2016/17)",
        ),
        Field(
            name="value_counted",
            unit="fraction of the extra value detected that is reported (as non-cashable)",
            default=1.0,
            minimum=0,
            maximum=1,
            source="CIPFA reports detected or prevented value; counting all of it is a choice",
        ),
        Field(
            name="investigator_cost",
            unit="pounds a year per investigator",
            default=50_000.0,
            minimum=0,
            source="planning assumption (salary and on-costs); no published figure",
        ),
        coordination_field(40_000.0),
        transition_field(80_000.0),
    )

    indicators = (
        Indicator(
            name="cost per case",
            unit="pounds per investigation",
            per="cases",
            description="the team's cost over the cases it investigates (no published "
            "council benchmark; compared between members only)",
        ),
        Indicator(
            name="detected per case",
            unit="pounds detected or prevented per case",
            higher_is_better=True,
            description="fraud detected or prevented over the cases investigated",
            peers=(
                Peers(
                    source='CIPFA, Fraud and Corruption Tracker 2018: "the average value '
                    'per fraud has also reduced from £4,500 in 2016/17 to £3,600 in 2017/18"',
                    population="UK councils, 2017/18: 80,000 frauds detected or prevented, "
                    "£302m in all (housing fraud valued at notional cost)",
                    mean=3600.0,
                ),
            ),
        ),
        Indicator(
            name="cases per investigator",
            unit="cases a year per FTE investigator",
            higher_is_better=True,
            description="caseload; measured only where investigators are given",
        ),
    )

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        f = participant.fields
        if f["annual_cost"] is not None:
            return float(f["annual_cost"])
        return f["investigators"] * params["investigator_cost"]

    def measure(self, participant: Participant, params: Mapping[str, Any]) -> dict:
        f = participant.fields
        found = {}  # only what the member gave: an estimate would be the defaults
        if f["annual_cost"] is not None:
            found["cost per case"] = Measure(f["annual_cost"] / f["cases"], f["cases"])
        if f["detected_value"] is not None:
            found["detected per case"] = Measure(f["detected_value"] / f["cases"])
        if f["investigators"] > 0:
            found["cases per investigator"] = Measure(f["cases"] / f["investigators"])
        return found

    def _detected(self, participant: Participant, params: Mapping[str, Any]) -> float:
        f = participant.fields
        if f["detected_value"] is not None:
            return float(f["detected_value"])
        return f["cases"] * params["value_per_case"]

    def arrays(self, participants, params) -> tuple:
        cases = np.array([p.fields["cases"] for p in participants], dtype=float)
        cost = np.array([self.standalone_cost(p, params) for p in participants])
        detected = np.array([self._detected(p, params) for p in participants])
        return cases, cost, detected

    def running(self, arrays, members, params) -> np.ndarray:
        cases, cost, _ = arrays
        c = cases[members]
        factor = pooling_factor(c, params["scale_exponent"])
        return (cost[members] * factor).sum(axis=1) + params["coordination_cost"] * pairs(
            members.shape[1]
        )

    def non_cashable(self, arrays, members, params) -> np.ndarray:
        cases, _, detected = arrays
        c = cases[members]
        uplift = (c.sum(axis=1, keepdims=True) / c) ** params["detection_exponent"] - 1.0
        return params["value_counted"] * (detected[members] * uplift).sum(axis=1)


@hookimpl
def sharedsvc_register_cost_models(register):
    register(Fraud())
