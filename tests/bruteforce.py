"""An independent reference: enumerate every partition and apply the spec literally.

Nothing here imports sharedsvc. Figures follow the spec's section 2 formulas;
Shapley values average marginal contributions over all orderings (a different
algorithm from the engine's subset weights).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

TOLERANCE = 1e-6


def partitions(items: list[str]) -> Iterator[list[tuple[str, ...]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in partitions(rest):
        yield [(first,), *smaller]
        for i, block in enumerate(smaller):
            yield [*smaller[:i], (first, *block), *smaller[i + 1 :]]


def annuity(years: int, rate: float) -> float:
    return sum((1 + rate) ** -t for t in range(1, years + 1))


class Reference:
    def __init__(self, data: dict[str, Any]):
        self.data = data
        head = data.get("consortium", {})
        self.annuity = annuity(head.get("horizon_years", 5), head.get("discount_rate", 0.035))
        self.objective = head.get("objective", "npv")
        self.constraints = data.get("constraints", {})
        self.allocation_rule = self.constraints.get("allocation", "proportional")
        self.members = data["members"]
        self.services = list(data["services"])
        edges = set()
        for m, body in self.members.items():
            for n in body.get("neighbours", []):
                edges.add(frozenset((m, n)))
        self.edges = edges

    def takes_part(self, service: str) -> list[str]:
        return sorted(m for m, b in self.members.items() if service in b.get("services", {}))

    def sharers(self, service: str) -> list[str]:
        return [
            m
            for m in self.takes_part(service)
            if self.members[m]["services"][service].get("share", True)
        ]

    def figures(self, service: str, group: tuple[str, ...]) -> tuple[float, float, float]:
        """(annual saving, transition, npv) by the spec's section 2 formulas."""
        if len(group) < 2:
            return 0.0, 0.0, 0.0
        params = self.data["services"][service]
        b = params.get("scale_exponent", 0.85)
        coordination = params.get("coordination_cost", 0.0)
        transition_cost = params.get("transition_cost", 0.0)
        rows = [self.members[m]["services"][service] for m in group]
        total_volume = sum(r["volume"] for r in rows)
        k = len(group)
        running = sum(r["annual_cost"] * (total_volume / r["volume"]) ** (b - 1) for r in rows)
        running += coordination * k * (k - 1) / 2
        saving = sum(r["annual_cost"] for r in rows) - running
        transition = transition_cost * (k - 1)
        return saving, transition, saving * self.annuity - transition

    def allocation(self, service: str, group: tuple[str, ...]) -> dict[str, float]:
        npv = self.figures(service, group)[2]
        if self.allocation_rule == "equal":
            return {m: npv / len(group) for m in group}
        if self.allocation_rule == "proportional":
            costs = {m: self.members[m]["services"][service]["annual_cost"] for m in group}
            total = sum(costs.values())
            if total <= 0:
                return {m: npv / len(group) for m in group}
            return {m: npv * c / total for m, c in costs.items()}
        shares = dict.fromkeys(group, 0.0)
        orders = list(itertools.permutations(group))

        def worth(coalition: tuple[str, ...]) -> float:  # the group itself shares its npv
            if len(coalition) == len(group):
                return npv
            return self.coalition_value(service, coalition)

        for order in orders:
            so_far: tuple[str, ...] = ()
            for m in order:
                before = worth(tuple(sorted(so_far)))
                so_far = (*so_far, m)
                shares[m] += worth(tuple(sorted(so_far))) - before
        return {m: s / len(orders) for m, s in shares.items()}

    def coalition_allowed(self, service: str, group: tuple[str, ...]) -> bool:
        """Whether a coalition could form on its own: the filters, not the plan's
        requirements (must_share) nor the allocation's (individual_gain)."""
        if len(group) < 2:
            return True
        c = self.constraints
        if len(group) > c.get("max_group_size", math.inf):
            return False
        for apart in c.get("never_together", []):
            if len(set(apart) & set(group)) >= 2:
                return False
        if service in self.contiguous_services() and not self.connected(group):
            return False
        for bundle in self.bundles():
            if service in bundle:
                common = set.intersection(*(set(self.sharers(s)) for s in bundle))
                if not set(group) <= common:
                    return False
        return True

    def coalition_value(self, service: str, coalition: tuple[str, ...]) -> float:
        """v(S): the best npv of any partition of S into coalitions that could form."""
        if len(coalition) < 2:
            return 0.0
        best = -math.inf
        for parts in partitions(list(coalition)):
            if all(self.coalition_allowed(service, part) for part in parts):
                best = max(best, sum(self.figures(service, part)[2] for part in parts))
        return best

    def connected(self, group: tuple[str, ...]) -> bool:
        seen = {group[0]}
        frontier = [group[0]]
        while frontier:
            m = frontier.pop()
            for n in group:
                if n not in seen and frozenset((m, n)) in self.edges:
                    seen.add(n)
                    frontier.append(n)
        return len(seen) == len(group)

    def contiguous_services(self) -> set[str]:
        value = self.constraints.get("contiguous", False)
        if value is True:
            return set(self.services)
        return set(value) if isinstance(value, list) else set()

    def bundles(self) -> list[set[str]]:
        merged: list[set[str]] = []
        for bundle in self.constraints.get("bundles", []):
            group = set(bundle)
            for other in [b for b in merged if b & group]:
                group |= other
                merged.remove(other)
            merged.append(group)
        return merged

    def group_allowed(self, service: str, group: tuple[str, ...]) -> bool:
        c = self.constraints
        for members in c.get("must_share", []):
            if members["service"] == service:
                inside = set(members["members"]) & set(group)
                if inside and not set(members["members"]) <= set(group):
                    return False
        if not self.coalition_allowed(service, group):
            return False
        if len(group) < 2 or not c.get("individual_gain", False):
            return True
        return min(self.allocation(service, group).values()) >= -TOLERANCE

    def value(self, service: str, group: tuple[str, ...]) -> float:
        saving, _, npv = self.figures(service, group)
        return npv if self.objective == "npv" else saving

    def plan_allowed(self, plan: dict[str, list[tuple[str, ...]]]) -> bool:
        """Whole-plan constraints: budget, partnership count, bundles."""
        c = self.constraints
        groups = [(s, g) for s, p in plan.items() for g in p if len(g) >= 2]
        if len(groups) > c.get("max_partnerships", math.inf):
            return False
        transition = sum(self.figures(s, g)[1] for s, g in groups)
        if transition > c.get("transition_budget", math.inf) + TOLERANCE:
            return False
        for bundle in self.bundles():
            shapes = {frozenset(g for g in plan[s] if len(g) >= 2) for s in bundle}
            if len(shapes) > 1:
                return False
        return True

    def stable(self, service: str, blocks: list[tuple[str, ...]]) -> bool:
        """No coalition of sharers is worth more on its own than its members' shares."""
        shares = dict.fromkeys(self.sharers(service), 0.0)
        for block in blocks:
            if len(block) >= 2:
                shares.update(self.allocation(service, block))
        scale = max([1.0] + [abs(self.figures(service, b)[2]) for b in blocks])
        members = list(shares)
        return all(
            self.coalition_value(service, c) - sum(shares[m] for m in c) <= 1e-7 * scale
            for k in range(1, len(members) + 1)
            for c in itertools.combinations(members, k)
        )

    def best(
        self, stable: bool = False, forced: tuple[str, tuple[str, ...]] | None = None
    ) -> float | None:
        """The optimal objective value, or None when no plan is feasible; with `stable`,
        among plans that no coalition blocks; with `forced` (service, group), among plans
        that form exactly that group for that service."""
        options = {}
        for s in self.services:
            valid = []
            for partition in partitions(self.sharers(s)):
                blocks = [tuple(sorted(b)) for b in partition]
                if forced is not None and forced[0] == s and forced[1] not in blocks:
                    continue
                if all(self.group_allowed(s, b) for b in blocks) and (
                    not stable or self.stable(s, blocks)
                ):
                    valid.append((sum(self.value(s, b) for b in blocks), blocks))
            options[s] = valid
        if any(not v for v in options.values()):
            return None
        c = self.constraints
        coupled = any(k in c for k in ("max_partnerships", "transition_budget")) or self.bundles()
        if not coupled:
            return sum(max(v for v, _ in options[s]) for s in self.services)
        best = None
        for combo in itertools.product(*(options[s] for s in self.services)):
            plan = dict(zip(self.services, (blocks for _, blocks in combo), strict=True))
            if self.plan_allowed(plan):
                total = sum(v for v, _ in combo)
                best = total if best is None else max(best, total)
        return best
