"""The validated, immutable picture of a consortium that every later stage reads.

Nothing here parses user input: `load.py` does that and reports problems with key
paths; these classes only hold what it found. A consortium changed with
`attrs.evolve` is checked again by `validate.check` before anything uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from sharedsvc.appraisal.bias import OptimismBias
from sharedsvc.appraisal.cashflows import COUNT_NON_CASHABLE, CashFlowProfile
from sharedsvc.appraisal.distributions import Distribution
from sharedsvc.constants import AllocationRule, Objective

if TYPE_CHECKING:
    from sharedsvc.rules import Constraint


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _enum_or_text(kind):
    """Keep a known value as its enum, anything else as given, for `validate` to report."""

    def convert(value):
        try:
            return kind(value)
        except ValueError:
            return value

    return convert


@attrs.frozen(kw_only=True)
class Location:
    lat: float
    lon: float


@attrs.frozen(kw_only=True)
class Member:
    id: str
    name: str
    kind: str = "council"
    population: float | None = None
    location: Location | None = None
    neighbours: tuple[str, ...] = ()
    """Symmetric: the loader adds a neighbour named on either side."""


@attrs.frozen(kw_only=True)
class Participant:
    """What a cost model sees of a member taking part: who it is and its fields."""

    member: Member
    fields: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Participation:
    """A member's data for one service: the cost model's fields, and whether it shares."""

    member: Member
    service: str
    fields: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)
    share: bool = True

    def participant(self) -> Participant:
        return Participant(member=self.member, fields=self.fields)


@attrs.frozen(kw_only=True)
class Service:
    id: str
    model: str
    parameters: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)
    """The model's parameters with defaults filled in."""


@attrs.frozen(kw_only=True)
class UncertainInput:
    """A number given as a distribution: where it is, and how it varies."""

    service: str
    member: str | None
    """The member whose field it is; None for a model parameter of the service."""
    name: str
    distribution: Distribution

    @property
    def path(self) -> str:
        if self.member is None:
            return f"services.{self.service}.{self.name}"
        return f"members.{self.member}.services.{self.service}.{self.name}"


@attrs.frozen(kw_only=True)
class Consortium:
    name: str
    source: str
    """Where it was read from (a path, or "<string>"), for messages."""
    horizon_years: int = 5
    discount_rate: float | str = 0.035
    """A constant real rate, or "green-book" for HM Treasury's declining schedule."""
    ramp_up: tuple[float, ...] = ()
    """Share of the full annual saving realised in years 1, 2, ...; later years all of it."""
    one_off_profile: tuple[float, ...] = (1.0,)
    """Shares of the one-off transition cost spent in years 0, 1, ... (summing to 1)."""
    double_running: tuple[float, ...] = ()
    """Share of the members' standalone cost still paid, on top, in years 1, 2, ..."""
    exit_cost: float = 0.0
    """Share of the one-off cost paid again at the end of the horizon, to unwind."""
    count_non_cashable: float = COUNT_NON_CASHABLE
    """Share of cost models' non-cash value (fraud detected) counted in the saving."""
    optimism_bias: OptimismBias = attrs.field(factory=OptimismBias)
    """Green Book uplifts on one-off and running costs, and a delay (`appraisal/bias.py`)."""
    uncertain: tuple[UncertainInput, ...] = ()
    """Inputs given as distributions; their central values are in the fields."""
    objective: Objective = attrs.field(default=Objective.NPV, converter=_enum_or_text(Objective))
    allocation: AllocationRule = attrs.field(
        default=AllocationRule.PROPORTIONAL, converter=_enum_or_text(AllocationRule)
    )
    members: tuple[Member, ...]
    services: tuple[Service, ...]
    participations: tuple[Participation, ...]
    constraints: tuple[Constraint, ...] = ()
    settings: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping)
    """The `[constraints]` table as written, for rules and reports."""
    scenario: tuple[str, ...] = ()
    """The scenarios applied to the file, in order (`model/scenarios.py`); () for none."""
    scenarios: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    """Every scenario the file defines, with its description."""
    text: str = attrs.field(default="", repr=False, eq=False)
    """The TOML it was read from, so that worker processes read the same consortium."""

    _members_by_id: dict[str, Member] = attrs.field(init=False, repr=False, eq=False)
    _services_by_id: dict[str, Service] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_members_by_id", {m.id: m for m in self.members})
        object.__setattr__(self, "_services_by_id", {s.id: s for s in self.services})

    @property
    def cash_flows(self) -> CashFlowProfile:
        """When savings arrive and one-off costs fall (`appraisal/cashflows.py`)."""
        return CashFlowProfile(
            horizon_years=self.horizon_years,
            discount_rate=self.discount_rate,
            ramp_up=tuple(self.ramp_up),
            one_off=tuple(self.one_off_profile),
            double_running=tuple(self.double_running),
            exit_cost=self.exit_cost,
            delay_years=self.optimism_bias.delay_years,
        )

    @property
    def unadjusted_cash_flows(self) -> CashFlowProfile:
        """The same without optimism bias's delay, for the unadjusted figures."""
        return attrs.evolve(self.cash_flows, delay_years=0)

    def member(self, member_id: str) -> Member:
        return self._members_by_id[member_id]

    def service(self, service_id: str) -> Service:
        return self._services_by_id[service_id]

    def participants(self, service_id: str) -> tuple[Participation, ...]:
        """Everyone taking part in a service (sharing or standalone), in member order."""
        return tuple(p for p in self.participations if p.service == service_id)

    def sharers(self, service_id: str) -> tuple[Participation, ...]:
        """Those taking part who may join a group."""
        return tuple(p for p in self.participants(service_id) if p.share)
