"""Shared legal services for sharedsvc: a cost model and a distance rule.

`legal`: a pooled legal team handles every member's matters. Each member's
cost per matter falls as the pool grows:

    running(G) = sum_i annual_cost_i * (M / matters_i) ** (b - 1)
                 + coordination_cost * k * (k - 1) / 2

where M is the group's total matters. Defaults are illustrations, not
published figures: set your own.

`max_distance_km`: no two members of a group further apart than this.
"""

import math

from sharedsvc import Constraint, CostModel, Field, Problem, Rule, hookimpl


class Legal(CostModel):
    name = "legal"
    summary = "Shared legal services: cost per matter falls with pooled matters."
    member_fields = (
        Field(name="matters", unit="matters a year", minimum=0, exclusive_minimum=True),
        Field(name="annual_cost", unit="pounds a year", minimum=0),
    )
    parameters = (
        Field(
            name="scale_exponent",
            unit="b",
            default=0.9,
            minimum=0,
            exclusive_minimum=True,
            maximum=1,
            source="illustrative; no published figure",
        ),
        Field(
            name="coordination_cost",
            unit="pounds a year per pair",
            default=20_000.0,
            minimum=0,
            source="illustrative; no published figure",
        ),
    )

    def standalone_cost(self, participant, params):
        return participant.fields["annual_cost"]

    def group_running_cost(self, participants, params):
        pooled = sum(p.fields["matters"] for p in participants)
        k = len(participants)
        running = sum(
            p.fields["annual_cost"]
            * (pooled / p.fields["matters"]) ** (params["scale_exponent"] - 1)
            for p in participants
        )
        return running + params["coordination_cost"] * k * (k - 1) / 2


def distance_km(a, b):
    """Great-circle distance between two locations (haversine), in km."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlam = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


class WithinDistance(Constraint):
    def __init__(self, limit, locations):
        self.limit = limit
        self.locations = locations
        self.label = f"max_distance_km keeps partners within {limit:g} km of each other"

    def allows_members(self, service, members):
        places = [self.locations[m] for m in sorted(members)]
        return all(
            distance_km(a, b) <= self.limit for i, a in enumerate(places) for b in places[i + 1 :]
        )


class MaxDistance(Rule):
    key = "max_distance_km"
    summary = "No two members of a group further apart than this, in km."
    expects = "a number > 0 (km)"

    def parse(self, value, context):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            return [], [Problem(context.path, f"expected {self.expects}, got {value!r}")]
        members = context.consortium.members
        missing = [m.id for m in members if m.location is None]
        if missing:
            problems = [
                Problem(f"members.{m}.location", "needed by max_distance_km") for m in missing
            ]
            return [], problems
        return [WithinDistance(float(value), {m.id: m.location for m in members})], []


@hookimpl
def sharedsvc_register_cost_models(register):
    register(Legal())


@hookimpl
def sharedsvc_register_rules(register):
    register(MaxDistance())
