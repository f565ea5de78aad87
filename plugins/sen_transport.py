"""`sen_transport`: SEN home-to-school transport.

Each member reports its eligible pupils, the routes it runs and its in-house
vehicles, and what the service costs. The saving of a joint service comes from
combining routes across borders, so it depends on geography: a member gains
from a partner's routes in proportion to how close they are. Members far apart
save little or nothing, and then coordination makes sharing a loss.

For members i, j with centroids d_ij km apart, routes R_i and cost C_i:

    w_ij       = exp(-d_ij / distance_scale_km)        (w_ii = 1)
    reach_i    = sum_j w_ij * R_j                      routes within reach of i's pupils
    running    = sum_i C_i * (reach_i / R_i) ** (b - 1) + coordination_cost * k * (k - 1) / 2
    transition = transition_cost * (k - 1)
               + vehicle_transfer_cost * (sum_j vehicles_j - max_j vehicles_j)

Distances are great-circle distances between the members' `location`s, which
this model requires. If `annual_cost` is absent it is estimated as pupils *
cost_per_pupil.

Defaults and their sources:
- `cost_per_pupil` £8,116: the average cost of home-to-school transport for a
  child with SEND in England in 2023-24 (National Audit Office, "Home to school
  transport", 31 October 2025; £1,526 for mainstream transport). A figure of about
  £9,800 for county councils was quoted in planning but could not be confirmed in
  the sources consulted, so it is not used.
- `distance_scale_km` 10: no published figure; adjacent London boroughs' centroids
  are 5-10 km apart (ONS Census 2021 boundaries), so neighbours keep 40-60% of the
  pooling effect and members 30 km apart about 5%. A planning assumption.
- `scale_exponent` b = 0.93: no published estimate was found; transport pools
  less than back-office work because vehicles and escorts scale with pupils.
- `coordination_cost` £90,000 a year per pair, `transition_cost` £120,000 per
  partner and `vehicle_transfer_cost` £2,000 per vehicle moved to the lead
  member's fleet: planning assumptions.

Peer figures for `sharedsvc benchmark` (cost per pupil): the NAO's £8,116 above, and
the Department for Education's "Home to school transport: local authority data
collection" for 2025-26 (explore-education-statistics; 148 of 153 councils responded):
pre-16 SEND, overall £8,800 a user over 145 councils; by mode, public transport pass
£900, in-house fleet £7,600, contracted bus £7,000, taxi or private hire £10,700.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedsvc import Field, Indicator, Measure, Participant, Peers, hookimpl
from sharedsvc_plugins._groups import (
    ArrayCostModel,
    beyond_the_largest,
    coordination_field,
    pairs,
    transition_field,
)

EARTH_RADIUS_KM = 6371.0088


def distances_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle (haversine) distances between every pair of points, in km."""
    phi, lam = np.radians(lat), np.radians(lon)
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    h = np.sin(dphi / 2) ** 2 + np.cos(phi[:, None]) * np.cos(phi[None, :]) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class SENTransport(ArrayCostModel):
    name = "sen_transport"
    summary = "SEN home-to-school transport: routes combined with nearby partners' routes."
    member_fields = (
        Field(
            name="pupils",
            unit="eligible pupils",
            minimum=0,
            exclusive_minimum=True,
            description="pupils the member transports",
        ),
        Field(
            name="routes",
            unit="routes",
            minimum=0,
            exclusive_minimum=True,
            description="routes the member runs (contracted or in-house)",
        ),
        Field(
            name="vehicles",
            unit="in-house vehicles",
            minimum=0,
            default=0.0,
            description="vehicles the member owns, moved to the lead fleet when sharing",
        ),
        Field(
            name="annual_cost",
            unit="pounds a year",
            minimum=0,
            default=None,
            description="current cost of the service; estimated from pupils if absent",
        ),
    )
    parameters = (
        Field(
            name="cost_per_pupil",
            unit="pounds a year per pupil",
            default=8_116.0,
            minimum=0,
            source="National Audit Office, 'Home to school transport' (31 October 2025): "
            "£8,116 per SEND pupil in 2023-24",
        ),
        Field(
            name="distance_scale_km",
            unit="km",
            default=10.0,
            minimum=0,
            exclusive_minimum=True,
            source="planning assumption: adjacent London boroughs' centroids are 5-10 km apart",
        ),
        Field(
            name="scale_exponent",
            unit="b; cost per route ~ routes ** (b - 1)",
            default=0.93,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="no published estimate; planning assumption",
        ),
        coordination_field(90_000.0),
        transition_field(120_000.0),
        Field(
            name="vehicle_transfer_cost",
            unit="pounds, once, per vehicle moved",
            default=2_000.0,
            minimum=0,
            source="planning assumption; no published figure",
        ),
    )

    def check_participant(self, participant: Participant, params: Mapping[str, Any]):
        if participant.member.location is None:
            return [
                (
                    "location",
                    "expected { lat = <degrees>, lon = <degrees> }: sen_transport "
                    "needs every member's location to measure distances",
                )
            ]
        return []

    indicators = (
        Indicator(
            name="cost per pupil",
            unit="pounds per pupil transported a year",
            per="pupils",
            description="the service's cost over the pupils transported",
            peers=(
                Peers(
                    source="National Audit Office, Home to school transport (October 2025)",
                    population="English councils, 2023-24: the average cost of transport for "
                    "a child with SEND (£1,526 for mainstream transport)",
                    mean=8116.0,
                ),
                Peers(
                    source="Department for Education, Home to school transport: local "
                    "authority data collection 2025-26 (explore-education-statistics)",
                    population="145 English councils, pre-16 SEND, 2025-26 forecasts; by "
                    "mode: public transport pass £900, in-house fleet £7,600, contracted "
                    "bus £7,000, taxi or private hire £10,700",
                    mean=8800.0,
                ),
            ),
        ),
        Indicator(
            name="pupils per route",
            unit="pupils per route",
            higher_is_better=True,
            description="how full the routes run",
        ),
    )

    def standalone_cost(self, participant: Participant, params: Mapping[str, Any]) -> float:
        f = participant.fields
        if f["annual_cost"] is not None:
            return float(f["annual_cost"])
        return f["pupils"] * params["cost_per_pupil"]

    def measure(self, participant: Participant, params: Mapping[str, Any]) -> dict:
        """A cost only where the member gave one: an estimate would be the NAO figure."""
        f = participant.fields
        found = {"pupils per route": Measure(f["pupils"] / f["routes"])}
        if f["annual_cost"] is not None:
            found["cost per pupil"] = Measure(f["annual_cost"] / f["pupils"], f["pupils"])
        return found

    def arrays(self, participants, params) -> tuple:
        lat = np.array([p.member.location.lat for p in participants])
        lon = np.array([p.member.location.lon for p in participants])
        weight = np.exp(-distances_km(lat, lon) / params["distance_scale_km"])
        routes = np.array([p.fields["routes"] for p in participants], dtype=float)
        vehicles = np.array([p.fields["vehicles"] for p in participants], dtype=float)
        cost = np.array([self.standalone_cost(p, params) for p in participants])
        return weight, routes, vehicles, cost

    def running(self, arrays, members, params) -> np.ndarray:
        weight, routes, _, cost = arrays
        w = weight[members[:, :, None], members[:, None, :]]
        reach = np.einsum("gij,gj->gi", w, routes[members])
        factor = (reach / routes[members]) ** (params["scale_exponent"] - 1.0)
        return (cost[members] * factor).sum(axis=1) + params["coordination_cost"] * pairs(
            members.shape[1]
        )

    def transition(self, arrays, members, params) -> np.ndarray:
        moved = beyond_the_largest(arrays[2][members])
        return params["transition_cost"] * (members.shape[1] - 1) + (
            params["vehicle_transfer_cost"] * moved
        )


@hookimpl
def sharedsvc_register_cost_models(register):
    register(SENTransport())
