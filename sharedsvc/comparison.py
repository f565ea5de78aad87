"""Plans side by side (`sharedsvc compare`): the totals and each member's npv under
every scenario, the partnerships that appear or disappear, and the differences from
the first plan, which is the reference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from sharedsvc.results import Result

Partnership = tuple[str, tuple[str, ...]]
"""(service, members): one group of a plan."""


@attrs.frozen(kw_only=True)
class Comparison:
    """Plans by scenario name, in the order given; the first is the reference."""

    results: Mapping[str, Result]
    descriptions: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.results)

    @property
    def reference(self) -> str:
        return self.names[0]

    def partnerships(self, name: str) -> set[Partnership]:
        result = self.results[name]
        return {(s.service, g.members) for s in result.services for g in s.groups}

    def npv_of(self, name: str, partnership: Partnership) -> float | None:
        service, members = partnership
        result = self.results[name]
        for s in result.services:
            if s.service == service:
                for g in s.groups:
                    if g.members == members:
                        return g.npv
        return None

    def solved(self, name: str) -> bool:
        return self.results[name].solved

    def appeared(self, name: str) -> list[Partnership]:
        """Partnerships in `name`'s plan that the reference plan does not have (none
        when either has no plan: nothing is compared with a plan that does not exist)."""
        if not (self.solved(name) and self.solved(self.reference)):
            return []
        return sorted(self.partnerships(name) - self.partnerships(self.reference))

    def disappeared(self, name: str) -> list[Partnership]:
        """Partnerships of the reference plan that `name`'s plan does not have."""
        if not (self.solved(name) and self.solved(self.reference)):
            return []
        return sorted(self.partnerships(self.reference) - self.partnerships(name))

    def unsolved(self) -> list[str]:
        """The plans that do not exist (infeasible, or no plan in the time given)."""
        return [n for n in self.names if not self.solved(n)]

    def members(self) -> list[str]:
        """Every member of any plan, in order."""
        return sorted({m for r in self.results.values() for m in r.members})

    def member_npv(self, name: str, member: str) -> float | None:
        """The member's npv share in `name`'s plan; None when it is not in that plan's
        consortium (a scenario that adds or removes it)."""
        result = self.results[name]
        return result.members.get(member) if result.solved else None

    def total(self, name: str, key: str) -> float | None:
        result = self.results[name]
        return result.totals[key] if result.solved else None

    def difference(self, name: str, value_of) -> float | None:
        """`value_of(name) - value_of(reference)`, None when either is missing."""
        mine, theirs = value_of(name), value_of(self.reference)
        return None if mine is None or theirs is None else mine - theirs

    def to_dict(self) -> dict[str, Any]:
        def money(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        plans = {}
        for name, result in self.results.items():
            plans[name] = {
                "description": self.descriptions.get(name, ""),
                "status": result.status.value,
                "gap": result.gap,
                "totals": {k: money(v) for k, v in result.totals.items()}
                if result.solved
                else None,
                "members": {m: money(self.member_npv(name, m)) for m in self.members()},
                "partnerships": [
                    {"service": s, "members": list(m), "npv": money(self.npv_of(name, (s, m)))}
                    for s, m in sorted(self.partnerships(name))
                ],
                "appeared": [{"service": s, "members": list(m)} for s, m in self.appeared(name)],
                "disappeared": [
                    {"service": s, "members": list(m)} for s, m in self.disappeared(name)
                ],
                "npv_difference": money(self.difference(name, lambda n: self.total(n, "npv"))),
            }
        return {"reference": self.reference, "plans": plans}
