"""What `sharedsvc explain` found: for a member, the best plans with another group of
it forced in (each re-optimised exactly), why each is worse or forbidden, and what
relaxing each constraint by one unit is worth. Values only; `whynot.py` finds them."""

from __future__ import annotations

import math
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Alternative:
    """One group containing the member, and the best plan with it forced in."""

    service: str
    members: tuple[str, ...]
    value: float | None
    """The whole plan's objective with this group forced in; None when no plan can
    have it (`forbidden_by` says why)."""
    difference: float | None
    """`value` minus the plan's objective (never above zero when exact)."""
    at_most: float | None = None
    """When the forced plan was not proven optimal in the time given: the most it could
    be worth (`math.inf` when unknown). None when `value` is exact."""
    annual_saving: float | None = None
    transition_cost: float | None = None
    npv: float | None = None
    """The group's own figures (None when it cannot be priced)."""
    breaks: tuple[tuple[str, ...], ...] = ()
    """The plan's groups it would break up."""
    forbidden_by: tuple[str, ...] = ()
    why: str = ""
    """In words: what made it worse, or what forbids it."""

    def to_dict(self) -> dict[str, Any]:
        def pounds(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {
            "service": self.service,
            "members": list(self.members),
            "value": pounds(self.value),
            "exact": self.at_most is None,
            "at_most": None
            if self.at_most is None or math.isinf(self.at_most)
            else pounds(self.at_most),
            "difference": pounds(self.difference),
            "group": {
                "annual_saving": pounds(self.annual_saving),
                "transition_cost": pounds(self.transition_cost),
                "npv": pounds(self.npv),
            },
            "breaks": [list(g) for g in self.breaks],
            "forbidden_by": list(self.forbidden_by),
            "why": self.why,
        }


@attrs.frozen(kw_only=True)
class ServiceExplanation:
    service: str
    group: tuple[str, ...] | None
    """The member's group in the plan; None when it is alone."""
    why_alone: str | None
    alternatives: tuple[Alternative, ...]
    """The best other groups containing the member (and the `--with` members), best
    first, each exact."""
    requested: Alternative | None = None
    """The group of the member and the `--with` members alone, when asked for."""
    evaluated: int = 0
    """Forced plans solved."""
    unlisted_at_most: float | None = None
    """No group left out of `alternatives` gives a plan worth more than this (an LP
    bound); None when every group was solved or none is left."""
    groups_with_member: int = 0
    proven: bool = True
    """Whether `alternatives` are proven the best: every group was solved, or none left
    unsolved can beat them (its bound is no higher). False when the solve limit came
    first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "proven_best": self.proven,
            "group": None if self.group is None else list(self.group),
            "why_alone": self.why_alone,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "requested": None if self.requested is None else self.requested.to_dict(),
            "groups_with_member": self.groups_with_member,
            "evaluated": self.evaluated,
            "unlisted_at_most": None
            if self.unlisted_at_most is None
            else round(self.unlisted_at_most, 2),
        }


@attrs.frozen(kw_only=True)
class Relaxed:
    """One constraint relaxed by one unit, and what the re-optimised plan is worth."""

    path: str
    change: str
    value: float | None
    gain: float | None
    note: str = ""

    @property
    def binding(self) -> bool:
        return self.gain is not None and self.gain > 0.005

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraint": self.path,
            "change": self.change,
            "value": None if self.value is None else round(self.value, 2),
            "gain": None if self.gain is None else round(self.gain, 2),
            "binding": self.binding,
            "note": self.note,
        }


@attrs.frozen(kw_only=True)
class Explanation:
    consortium: str
    member: str
    objective: str
    plan_value: float
    status: str
    services: tuple[ServiceExplanation, ...]
    relaxations: tuple[Relaxed, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "consortium": self.consortium,
            "member": self.member,
            "objective": self.objective,
            "status": self.status,
            "plan_value": round(self.plan_value, 2),
            "services": {s.service: s.to_dict() for s in self.services},
            "relaxations": [r.to_dict() for r in self.relaxations],
            "notes": list(self.notes),
        }
