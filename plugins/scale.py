"""The reference cost model `scale`: economies of scale with a power law.

Its arithmetic is fixed by the consortium-format spec (section 2) so that any
result can be checked by hand. For a group G of k members with total volume
V = sum volume_i:

    shared_running(G) = sum_i annual_cost_i * (V / volume_i) ** (b - 1)
                        + coordination_cost * k * (k - 1) / 2
    transition(G)     = transition_cost * (k - 1)

Each member's unit cost falls by the factor (V / volume_i) ** (b - 1) when its
work joins a pool of volume V: the classic experience-curve form, in which
doubling volume multiplies unit cost by 2 ** (b - 1).

Defaults and their sources:
- `scale_exponent` b = 0.85: the consortium-format spec's default (section 2),
  a 10% fall in unit cost per doubling of volume (2 ** -0.15 = 0.90). As an
  anchor only: Dutton and Thomas ("Treating progress functions as a managerial
  opportunity", Academy of Management Review 9(2), 1984) found progress ratios
  mostly between 0.70 and 0.90 across about a hundred studies; those concern
  cumulative output rather than pooled volume, so set b from your own evidence.
- `coordination_cost` = 0 and `transition_cost` = 0: the spec's defaults. No
  published figure fits every service; set them from your own business case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sharedsvc import (
    CostModel,
    Field,
    FlatGroups,
    GroupPrices,
    Indicator,
    Measure,
    Participant,
    hookimpl,
)


class Scale(CostModel):
    name = "scale"
    summary = "Generic economies of scale: unit cost falls as a power of pooled volume."
    member_fields = (
        Field(
            name="volume",
            unit="units of work a year",
            description="how much of the service the member uses",
            minimum=0,
            exclusive_minimum=True,
        ),
        Field(
            name="annual_cost",
            unit="pounds a year",
            description="what the member spends on the service alone",
            minimum=0,
        ),
    )
    parameters = (
        Field(
            name="scale_exponent",
            unit="b; unit cost ~ volume ** (b - 1)",
            description="1 means no economies of scale; 0.85 cuts unit cost 10% per doubling",
            default=0.85,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="consortium-format spec section 2; anchor: Dutton & Thomas, "
            "Academy of Management Review 9(2), 1984 (progress ratios 0.70-0.90)",
        ),
        Field(
            name="coordination_cost",
            unit="pounds a year per pair of members",
            description="governance effort, which grows with the number of relationships",
            default=0.0,
            minimum=0,
            source="consortium-format spec section 2 (no published figure; set your own)",
        ),
        Field(
            name="transition_cost",
            unit="pounds, once, per partner beyond the first",
            description="one-off cost of bringing a partner in",
            default=0.0,
            minimum=0,
            source="consortium-format spec section 2 (no published figure; set your own)",
        ),
    )

    indicators = (
        Indicator(
            name="unit cost",
            unit="pounds per unit of volume",
            per="units of volume",
            description="the service's cost over its volume (compared between members only)",
        ),
    )

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        return float(participant.fields["annual_cost"])

    def running_parts(self, participants, params) -> dict[str, float]:
        k = len(participants)
        return {"coordination": params["coordination_cost"] * k * (k - 1) / 2}

    def measure(self, participant: Participant, params: Mapping[str, Any]) -> dict:
        volume = participant.fields["volume"]
        return {"unit cost": Measure(self.standalone_cost(participant, params) / volume, volume)}

    def group_running_cost(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        b = params["scale_exponent"]
        total = sum(p.fields["volume"] for p in participants)
        k = len(participants)
        running = sum(
            p.fields["annual_cost"] * (total / p.fields["volume"]) ** (b - 1) for p in participants
        )
        return running + params["coordination_cost"] * k * (k - 1) / 2

    def group_transition_cost(
        self, participants: Sequence[Participant], params: Mapping[str, Any]
    ) -> float:
        return params["transition_cost"] * (len(participants) - 1)

    def price_groups(
        self,
        participants: Sequence[Participant],
        groups: Sequence[Sequence[int]],
        params: Mapping[str, Any],
    ) -> GroupPrices:
        if not groups:
            return GroupPrices(running=np.zeros(0), transition=np.zeros(0))
        volume = np.array([p.fields["volume"] for p in participants], dtype=float)
        cost = np.array([p.fields["annual_cost"] for p in participants], dtype=float)
        flat = FlatGroups.of(groups)
        sizes, members = flat.sizes, flat.members
        pooled = flat.sum(volume)
        terms = cost[members] * (np.repeat(pooled, sizes) / volume[members]) ** (
            params["scale_exponent"] - 1
        )
        running = np.add.reduceat(terms, flat.starts)
        running += params["coordination_cost"] * sizes * (sizes - 1) / 2
        transition = params["transition_cost"] * (sizes - 1).astype(float)
        return GroupPrices(running=running, transition=transition)


@hookimpl
def sharedsvc_register_cost_models(register):
    register(Scale())
