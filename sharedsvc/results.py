"""The result of an optimisation, and its JSON shape (the spec's section 3).

Figures are computed once, by the optimiser, from the priced candidates; the
report only renders them.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from sharedsvc.appraisal.cashflows import payback_year
from sharedsvc.constants import Objective, Status

if TYPE_CHECKING:
    from sharedsvc.model.consortium import Consortium
    from sharedsvc.settings import Settings


def pennies(value: float) -> float:
    """Pounds rounded to the penny, with no negative zero."""
    return float(round(value, 2)) + 0.0


def _sorted_mapping(value: Mapping[str, float]) -> dict[str, float]:
    return dict(sorted(value.items()))


@attrs.frozen(kw_only=True)
class GroupResult:
    members: tuple[str, ...]
    annual_saving: float
    transition_cost: float
    npv: float
    allocation: dict[str, float] = attrs.field(converter=_sorted_mapping)
    """Each member's share of the npv, by member id, sorted as in the JSON."""
    stable: bool | None = None
    """False when the service's most-blocking group takes a member from this group;
    None when stability was not assessed (a service the time limit left unpriced)."""
    unadjusted: Cash | None = None
    """npv, annual saving and one-off cost before optimism bias (None without it)."""
    non_cashable_value: float = 0.0
    """Non-cash value a year (fraud detected), all of it; the saving counts a share."""
    non_cashable_counted: float = 0.0
    """The part of `annual_saving` that is non-cash value (`count_non_cashable` of it)."""

    @property
    def cashable_saving(self) -> float:
        return self.annual_saving - self.non_cashable_counted

    cash_flows: tuple[float, ...] = ()
    """The group's cash flow in each year 0..horizon, undiscounted."""
    discounted: tuple[float, ...] = ()
    """The same, discounted."""

    @property
    def payback_year(self) -> int | None:
        """The first year the cumulative discounted cash flow turns positive (or None)."""
        return payback_year(self.discounted)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "members": list(self.members),
            "annual_saving": pennies(self.annual_saving),
            "transition_cost": pennies(self.transition_cost),
            "npv": pennies(self.npv),
            "allocation": {m: pennies(v) for m, v in sorted(self.allocation.items())},
        }
        if self.stable is not None:
            data["stable"] = self.stable
        data["cashable_saving"] = pennies(self.cashable_saving)
        data["non_cashable_value"] = pennies(self.non_cashable_value)
        data["non_cashable_counted"] = pennies(self.non_cashable_counted)
        if self.unadjusted is not None:
            data["unadjusted"] = self.unadjusted.to_dict()
        if self.discounted:
            data["payback_year"] = self.payback_year
            data["cash_flows"] = cash_flow_dict(self.cash_flows, self.discounted)
        return data


@attrs.frozen(kw_only=True)
class Blocking:
    """A group that would gain by leaving the plan and forming on its own."""

    members: tuple[str, ...]
    value: float
    """What the group would get on its own: its npv as one group (zero for one member)."""
    allocated: float
    """What the plan allocates its members, summed."""

    @property
    def excess(self) -> float:
        return self.value - self.allocated

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "value": pennies(self.value),
            "allocated": pennies(self.allocated),
            "excess": pennies(self.excess),
        }


@attrs.frozen(kw_only=True)
class Stability:
    """Would any coalition walk away from a service's plan under its allocation?"""

    blocking: Blocking | None
    """The group that gains most by leaving, or None when no group would."""
    cost_of_stability: float
    """The least total subsidy with which some split of the plan is stable: the LP
    bound over every group that could form, less the plan's npv (0 when the core is
    not empty)."""
    lp_bound: float
    worse_off_alone: tuple[str, ...] = ()
    """Members allocated less than the nothing they get alone."""

    @property
    def stable(self) -> bool:
        return self.blocking is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "blocking": None if self.blocking is None else self.blocking.to_dict(),
            "cost_of_stability": pennies(self.cost_of_stability),
            "lp_bound": pennies(self.lp_bound),
            "worse_off_alone": list(self.worse_off_alone),
        }


def _add(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    if not a or not b:
        return a or b
    return tuple(x + y for x, y in zip(a, b, strict=True))


def cash_flow_dict(undiscounted, discounted) -> dict[str, list[float]]:
    """Year-by-year flows for the JSON: index 0 is the start, index t the end of year t."""
    return {
        "undiscounted": [pennies(v) for v in undiscounted],
        "discounted": [pennies(v) for v in discounted],
    }


@attrs.frozen(kw_only=True)
class Cash:
    """A share of a plan's cash, in one service or in all: npv, annual saving, one-off
    cost, and the cash flow of each year 0..horizon."""

    npv: float = 0.0
    annual_saving: float = 0.0
    transition_cost: float = 0.0
    undiscounted: tuple[float, ...] = ()
    discounted: tuple[float, ...] = ()
    non_cashable_value: float = 0.0
    non_cashable_counted: float = 0.0

    def __add__(self, other: Cash) -> Cash:
        return Cash(
            npv=self.npv + other.npv,
            annual_saving=self.annual_saving + other.annual_saving,
            transition_cost=self.transition_cost + other.transition_cost,
            non_cashable_value=self.non_cashable_value + other.non_cashable_value,
            non_cashable_counted=self.non_cashable_counted + other.non_cashable_counted,
            undiscounted=_add(self.undiscounted, other.undiscounted),
            discounted=_add(self.discounted, other.discounted),
        )

    @property
    def payback_year(self) -> int | None:
        return payback_year(self.discounted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "npv": pennies(self.npv),
            "annual_saving": pennies(self.annual_saving),
            "transition_cost": pennies(self.transition_cost),
            "cashable_saving": pennies(self.annual_saving - self.non_cashable_counted),
            "non_cashable_value": pennies(self.non_cashable_value),
        }


RECORD_FORMAT = 1
"""The version of the plan file's `record` (`PlanRecord`); a reader refuses a newer one."""


def plain(value: Any) -> Any:
    """A value as JSON holds it: mappings as dicts, tuples as lists, enums and anything
    else JSON has no word for as their text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    return str(value)


@attrs.frozen(kw_only=True)
class PlanRecord:
    """What makes a plan file a record that can be tracked years later without the
    consortium file (`docs/tracking.md`): the consortium's text and its hash, the
    sharedsvc that made it, every parameter it used and the appraisal's year-by-year
    shapes and discount factors."""

    version: str
    """The sharedsvc version that made the plan."""
    source: str
    """Where the consortium was read from (a path, or "<string>")."""
    text: str | None
    """The consortium's TOML exactly as read; None when the consortium was changed in
    code after it was read (its text would no longer give it)."""
    scenario: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """The consortium's appraisal settings, allocation, constraints and every service's
    model and parameters (defaults filled in), as JSON values."""
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    """The engine's `Settings` for the run (solver, time limit and tuning limits)."""
    discount_factors: tuple[float, ...] = ()
    """Years 0..horizon: what a pound in each year is worth at the start."""
    shapes: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    """Years 0..horizon: the share of the annual saving (`saving`), of the standalone
    cost paid on top (`double_running`) and of the one-off cost (`one_off`, the exit
    included) that fall in each year (`CashFlowProfile.shapes`)."""

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of the consortium's text (UTF-8), or None without a text."""
        if self.text is None:
            return None
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @classmethod
    def of(
        cls, consortium: Consortium, settings: Settings, *, version: str, exact: bool
    ) -> PlanRecord:
        """The record of a plan of `consortium` made under `settings`; `exact` says
        whether `consortium.text` still gives this consortium (`load.reads_back`)."""
        profile = consortium.cash_flows
        saving, double, one_off = profile.shapes()
        parameters = {
            "name": consortium.name,
            "horizon_years": consortium.horizon_years,
            "discount_rate": consortium.discount_rate,
            "objective": consortium.objective,
            "allocation": consortium.allocation,
            "ramp_up": consortium.ramp_up,
            "one_off_profile": consortium.one_off_profile,
            "double_running": consortium.double_running,
            "exit_cost": consortium.exit_cost,
            "count_non_cashable": consortium.count_non_cashable,
            "optimism_bias": consortium.optimism_bias.to_dict(),
            "constraints": consortium.settings,
            "services": {
                s.id: {"model": s.model, "parameters": s.parameters} for s in consortium.services
            },
            "uncertain": [u.path for u in consortium.uncertain],
        }
        return cls(
            version=version,
            source=consortium.source,
            text=consortium.text if exact and consortium.text else None,
            scenario=consortium.scenario,
            parameters=plain(parameters),
            settings=plain(attrs.asdict(settings)),
            discount_factors=tuple(profile.discount_factors().tolist()),
            shapes={
                "saving": tuple(saving.tolist()),
                "double_running": tuple(double.tolist()),
                "one_off": tuple(one_off.tolist()),
            },
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "sharedsvc_version": self.version,
            "consortium_source": self.source,
            "consortium_sha256": self.sha256,
            "consortium_text": self.text,
            "scenario": list(self.scenario),
            "parameters": plain(self.parameters),
            "settings": plain(self.settings),
            "years": {
                "discount_factors": list(self.discount_factors),
                **{k: list(v) for k, v in self.shapes.items()},
            },
        }


@attrs.frozen(kw_only=True)
class ServiceResult:
    service: str
    model: str
    groups: tuple[GroupResult, ...]
    standalone: tuple[str, ...]
    stability: Stability | None = None
    """Under the consortium's allocation rule; None when not assessed (unpriced)."""
    cash: dict[str, Cash] = attrs.field(factory=dict)
    """Each taking-part member's share of the service's cash (zero when alone)."""
    standalone_costs: dict[str, float] = attrs.field(factory=dict)
    """Each taking-part member's annual cost of running the service alone."""
    why_alone: dict[str, str] = attrs.field(factory=dict)
    """Why each member in `standalone` is alone, in words (`share = false`, no group
    with it saves money, or the best plan leaves it alone)."""

    @property
    def annual_saving(self) -> float:
        return sum(g.annual_saving for g in self.groups)

    @property
    def transition_cost(self) -> float:
        return sum(g.transition_cost for g in self.groups)

    @property
    def npv(self) -> float:
        return sum(g.npv for g in self.groups)

    def share_of(self, member: str) -> float:
        """The member's allocated npv in this service (zero when it stays alone)."""
        for group in self.groups:
            if member in group.allocation:
                return group.allocation[member]
        return 0.0

    def group_of(self, member: str) -> GroupResult | None:
        """The member's group, or None when it stays alone (or takes no part)."""
        return next((g for g in self.groups if member in g.members), None)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "model": self.model,
            "groups": [g.to_dict() for g in self.groups],
            "standalone": list(self.standalone),
        }
        if self.why_alone:
            data["why_alone"] = dict(sorted(self.why_alone.items()))
        if self.standalone_costs:
            data["standalone_costs"] = {
                m: pennies(v) for m, v in sorted(self.standalone_costs.items())
            }
        if self.stability is not None:
            data["stability"] = self.stability.to_dict()
        return data


@attrs.frozen(kw_only=True)
class RunStats:
    """How a run went: its size and where the time went (the JSON's `stats`)."""

    groups_enumerated: int
    """Groups of two or more that the constraints allow, before pruning."""
    groups_pruned: int
    """Of those, dropped as worthless or dominated (`docs/optimiser.md`)."""
    candidates: int
    """Columns of the model: the groups kept plus the members alone."""
    blocks: int
    """Separate models solved (services that no constraint ties)."""
    price_seconds: float
    build_seconds: float
    """Building LP and MIP models, summed over blocks that may run at once."""
    solve_seconds: float
    assess_seconds: float = 0.0
    """Allocating the plan and checking its stability (`sharedsvc.fairness`)."""

    def to_dict(self) -> dict[str, float]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class MemberResult:
    """One member's view of a plan: its npv in total and in each service."""

    member: str
    kind: str
    npv: float
    services: dict[str, float]
    """Service id -> the member's allocated npv there (zero when alone), for every service
    it takes part in, in the consortium's order."""
    cash: dict[str, Cash] = attrs.field(factory=dict)
    """Service id -> its share of that service's cash (npv, annual saving, one-off cost)."""
    standalone_cost: float = 0.0
    """Its annual cost of running, alone, every service it takes part in."""

    @property
    def payback_year(self) -> int | None:
        """The first year its cumulative discounted cash flow turns positive (None: never
        within the horizon, or nothing to pay back)."""
        return self.total.payback_year

    @property
    def total(self) -> Cash:
        return sum(self.cash.values(), Cash())

    @property
    def annual_saving(self) -> float:
        return self.total.annual_saving

    @property
    def transition_cost(self) -> float:
        return self.total.transition_cost

    @property
    def gain_percent(self) -> float | None:
        """Annual saving as a percentage of standalone annual cost."""
        if self.standalone_cost <= 0:
            return None
        return 100.0 * self.annual_saving / self.standalone_cost

    def to_dict(self) -> dict[str, Any]:
        gain = self.gain_percent
        return {
            "npv": pennies(self.npv),
            "kind": self.kind,
            "annual_saving": pennies(self.annual_saving),
            "transition_cost": pennies(self.transition_cost),
            "cashable_saving": pennies(self.annual_saving - self.total.non_cashable_counted),
            "non_cashable_value": pennies(self.total.non_cashable_value),
            "standalone_cost": pennies(self.standalone_cost),
            "gain_percent": None if gain is None else round(gain, 2),
            "payback_year": self.payback_year,
            "services": {s: c.to_dict() for s, c in self.cash.items()},
            "cash_flows": cash_flow_dict(self.total.undiscounted, self.total.discounted),
        }


@attrs.frozen(kw_only=True)
class Result:
    """What `optimise` returns: the status, the plan, its figures and the proven gap."""

    consortium: str
    status: Status = attrs.field(converter=Status)
    scenario: tuple[str, ...] = ()
    """The consortium file's scenarios this plan was made under; () for the file alone."""
    bound: float | None = None
    """No plan is worth more than this (in the objective's units); None when unknown."""
    objective: Objective = attrs.field(converter=Objective)
    gap: float | None
    """Proven relative gap to the best possible objective; 0 when optimal."""
    services: tuple[ServiceResult, ...] = ()
    members: dict[str, float] = attrs.field(factory=dict)
    """Each member's npv: the sum of its allocated shares."""
    kinds: dict[str, str] = attrs.field(factory=dict)
    conflicts: tuple[str, ...] = ()
    """When infeasible: the clashing constraints, in the user's words."""
    unfinished: tuple[str, ...] = ()
    """Services the time limit reached before they were priced or solved: their members
    are planned alone, and no bound is known for them (so `gap` is None)."""
    participation: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Member id -> the services it takes part in, in the consortium's order."""
    solver: str = ""
    seconds: float = 0.0
    stats: RunStats | None = None
    """How the run went: candidate groups, blocks, seconds pricing and solving."""
    horizon_years: int = 5
    discount_rate: float | str = 0.035
    allocation: str = ""
    """The allocation rule the shares follow."""
    uncertain: tuple[str, ...] = ()
    """Inputs given as distributions, optimised at their central values."""
    count_non_cashable: float = 0.0
    """The share of non-cash value counted in savings."""
    optimism_bias: dict[str, Any] = attrs.field(factory=dict)
    """The optimism bias applied (empty without one): uplifts, delay, preset, mitigation."""
    stability_cost: float = 0.0
    """NPV given up for `[constraints] stability` (the optimum without it, less with)."""
    record: PlanRecord | None = attrs.field(default=None, eq=False)
    """What a plan file keeps to be tracked later (`Engine.optimise` adds it); None for
    runs inside the engine (draws, explanations). Not compared: two equal plans are
    equal whatever run made them."""

    @property
    def solved(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)

    def service(self, service_id: str) -> ServiceResult:
        """The plan of one service; `KeyError` naming the known ones if there is none."""
        for service in self.services:
            if service.service == service_id:
                return service
        known = ", ".join(s.service for s in self.services) or "none (no plan)"
        raise KeyError(f"no service {service_id!r} in this result; expected one of {known}")

    def member(self, member_id: str) -> MemberResult:
        """One member's npv, in total and by service; `KeyError` if it is not a member."""
        if member_id not in self.kinds:
            known = ", ".join(sorted(self.kinds))
            raise KeyError(f"no member {member_id!r} in this result; expected one of {known}")
        taking_part = self.participation.get(member_id, ())
        by_service = {s.service: s for s in self.services}
        services = {s: by_service[s].share_of(member_id) for s in taking_part if s in by_service}
        cash = {
            s: by_service[s].cash.get(member_id, Cash()) for s in taking_part if s in by_service
        }
        return MemberResult(
            member=member_id,
            kind=self.kinds[member_id],
            npv=self.members.get(member_id, 0.0),
            services=services,
            cash=cash,
            standalone_cost=sum(
                by_service[s].standalone_costs.get(member_id, 0.0)
                for s in taking_part
                if s in by_service
            ),
        )

    @property
    def by_member(self) -> dict[str, MemberResult]:
        """Every member's view, sorted by member id as in the JSON."""
        return {m: self.member(m) for m in sorted(self.kinds)}

    @property
    def totals(self) -> dict[str, float]:
        return {
            "npv": sum(s.npv for s in self.services),
            "annual_saving": sum(s.annual_saving for s in self.services),
            "transition_cost": sum(s.transition_cost for s in self.services),
        }

    @property
    def unadjusted_totals(self) -> Cash | None:
        """The plan's npv, annual saving and one-off cost before optimism bias (None
        without it)."""
        if not self.optimism_bias:
            return None
        return sum((g.unadjusted for s in self.services for g in s.groups if g.unadjusted), Cash())

    def _unadjusted(self) -> dict[str, Any]:
        total = self.unadjusted_totals
        if total is None:
            return {}
        return {
            "optimism_bias": dict(self.optimism_bias),
            "unadjusted_totals": {
                "npv": pennies(total.npv),
                "annual_saving": pennies(total.annual_saving),
                "transition_cost": pennies(total.transition_cost),
            },
        }

    def _cash_flows(self) -> dict[str, Any]:
        groups = [g for s in self.services for g in s.groups if g.discounted]
        if not groups:
            return {}
        total = sum(
            (Cash(undiscounted=g.cash_flows, discounted=g.discounted) for g in groups), Cash()
        )
        return {
            "payback_year": total.payback_year,
            "cash_flows": cash_flow_dict(total.undiscounted, total.discounted),
        }

    @property
    def message(self) -> str:
        if self.status == Status.INFEASIBLE:
            text = "no grouping satisfies the constraints"
            return text + (": " + "; ".join(self.conflicts) if self.conflicts else "")
        if self.status == Status.FEASIBLE and self.gap is None:
            late = f" ({', '.join(self.unfinished)}: every member alone)" if self.unfinished else ""
            return (
                "stopped at the time limit before every service was bounded"
                f"{late}; the plan is feasible, its distance from the optimum unknown"
            )
        if self.status == Status.FEASIBLE:
            return f"stopped at the time limit; the plan is within {self.gap:.2%} of the optimum"
        return "proven optimal"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the consortium-format spec, section 3 (plus extra fields)."""
        data: dict[str, Any] = {
            "consortium": self.consortium,
            "status": self.status.value,
            "objective": self.objective.value,
            "totals": {k: pennies(v) for k, v in self.totals.items()},
            "gap": self.gap,
            "services": {s.service: s.to_dict() for s in self.services},
            "members": {
                m: (
                    self.member(m).to_dict()
                    if m in self.kinds
                    else {"npv": pennies(v), "kind": "council"}
                )
                for m, v in sorted(self.members.items())
            },
            "stability_cost": pennies(self.stability_cost),
            "non_cashable": {
                "value": pennies(
                    sum(g.non_cashable_value for s in self.services for g in s.groups)
                ),
                "counted": pennies(
                    sum(g.non_cashable_counted for s in self.services for g in s.groups)
                ),
                "count_share": self.count_non_cashable,
            },
            **self._unadjusted(),
            **({"central_values_of": list(self.uncertain)} if self.uncertain else {}),
            **self._cash_flows(),
            **({"scenario": list(self.scenario)} if self.scenario else {}),
            "message": self.message,
            "solver": self.solver,
            "seconds": round(self.seconds, 3),
            "stats": {} if self.stats is None else self.stats.to_dict(),
        }
        if self.unfinished:
            data["unfinished"] = list(self.unfinished)
        if self.status == Status.INFEASIBLE:
            data["conflicts"] = list(self.conflicts)
        if self.record is not None:
            data["record"] = self.record.to_dict()
        return data
