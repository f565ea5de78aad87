"""The result of an optimisation, and its JSON shape (the spec's section 3).

Figures are computed once, by the optimiser, from the priced candidates; the
report only renders them.
"""

from __future__ import annotations

from typing import Any

import attrs

STATUSES = ("optimal", "feasible", "infeasible")


def _money(value: float) -> float:
    """Pounds rounded to the penny, with no negative zero."""
    return round(value, 2) + 0.0


@attrs.frozen(kw_only=True)
class GroupResult:
    members: tuple[str, ...]
    annual_saving: float
    transition_cost: float
    npv: float
    allocation: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "annual_saving": _money(self.annual_saving),
            "transition_cost": _money(self.transition_cost),
            "npv": _money(self.npv),
            "allocation": {m: _money(v) for m, v in sorted(self.allocation.items())},
        }


@attrs.frozen(kw_only=True)
class ServiceResult:
    service: str
    model: str
    groups: tuple[GroupResult, ...]
    standalone: tuple[str, ...]

    @property
    def annual_saving(self) -> float:
        return sum(g.annual_saving for g in self.groups)

    @property
    def transition_cost(self) -> float:
        return sum(g.transition_cost for g in self.groups)

    @property
    def npv(self) -> float:
        return sum(g.npv for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "groups": [g.to_dict() for g in self.groups],
            "standalone": list(self.standalone),
        }


@attrs.frozen(kw_only=True)
class Result:
    """What `optimise` returns: the status, the plan, its figures and the proven gap."""

    consortium: str
    status: str = attrs.field(validator=attrs.validators.in_(STATUSES))
    objective: str
    gap: float | None
    """Proven relative gap to the best possible objective; 0 when optimal."""
    services: tuple[ServiceResult, ...] = ()
    members: dict[str, float] = attrs.field(factory=dict)
    """Each member's npv: the sum of its allocated shares."""
    kinds: dict[str, str] = attrs.field(factory=dict)
    conflicts: tuple[str, ...] = ()
    """When infeasible: the clashing constraints, in the user's words."""
    solver: str = ""
    seconds: float = 0.0
    stats: dict[str, float] = attrs.field(factory=dict)
    """How the run went: candidate groups, blocks, seconds pricing and solving."""

    @property
    def solved(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def totals(self) -> dict[str, float]:
        return {
            "npv": sum(s.npv for s in self.services),
            "annual_saving": sum(s.annual_saving for s in self.services),
            "transition_cost": sum(s.transition_cost for s in self.services),
        }

    @property
    def message(self) -> str:
        if self.status == "infeasible":
            text = "no grouping satisfies the constraints"
            return text + (": " + "; ".join(self.conflicts) if self.conflicts else "")
        if self.status == "feasible":
            return f"stopped at the time limit; the plan is within {self.gap:.2%} of the optimum"
        return "proven optimal"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the consortium-format spec, section 3 (plus extra fields)."""
        data: dict[str, Any] = {
            "consortium": self.consortium,
            "status": self.status,
            "objective": self.objective,
            "totals": {k: _money(v) for k, v in self.totals.items()},
            "gap": self.gap,
            "services": {s.service: s.to_dict() for s in self.services},
            "members": {
                m: {"npv": _money(v), "kind": self.kinds.get(m, "council")}
                for m, v in sorted(self.members.items())
            },
            "message": self.message,
            "solver": self.solver,
            "seconds": round(self.seconds, 3),
            "stats": self.stats,
        }
        if self.status == "infeasible":
            data["conflicts"] = list(self.conflicts)
        return data
