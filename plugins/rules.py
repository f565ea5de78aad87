"""The built-in rules: every key of the spec's `[constraints]` table.

Each rule parses its value (reporting problems with key paths) into
constraints, each labelled in the user's words for infeasibility reports.
They are plugins like any other: a third party adds a key the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
import pulp

from sharedsvc import (
    AllocationRule,
    Candidate,
    Constraint,
    FigureContext,
    LinearRow,
    ModelView,
    ParseContext,
    Problem,
    Rule,
    hookimpl,
    unknown_name,
)

GAIN_TOLERANCE = 1e-6
"""Pounds: a share above minus a millionth of a pound counts as no loss (rounding)."""


def _whole_number(value: Any, path: str, minimum: int) -> tuple[int | None, list[Problem]]:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return None, [Problem(path, f"expected a whole number >= {minimum}, got {value!r}")]
    return value, []


def _names(
    value: Any, path: str, known: Iterable[str], what: str
) -> tuple[list[str], list[Problem]]:
    """A list of known ids without repeats, or the problems with it."""
    known = set(known)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [], [Problem(path, f"expected a list of {what} ids, got {value!r}")]
    problems = [
        Problem(f"{path}[{i}]", unknown_name(what, v, known))
        for i, v in enumerate(value)
        if v not in known
    ]
    if len(set(value)) != len(value):
        problems.append(Problem(path, f"names a {what} twice: {value!r}"))
    return list(value), problems


def _and(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class _SizeLimit(Constraint):
    def __init__(self, limit: int):
        self.limit = limit
        self.label = f"max_group_size limits groups to {limit} member{'s' if limit > 1 else ''}"

    def size_limit(self, service: str) -> int:
        return self.limit

    def implied_by_enumeration(self, service: str) -> bool:
        return True

    def judges_names_only(self, service: str) -> bool:
        return True  # a count of members

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        return len(members) <= self.limit


class MaxGroupSize(Rule):
    key = "max_group_size"
    summary = "Largest group for any service, in members."
    expects = "a whole number >= 1"

    def parse(self, value, context: ParseContext):
        limit, problems = _whole_number(value, context.path, 1)
        return ([_SizeLimit(limit)] if limit is not None else []), problems


class _Partnerships(Constraint):
    def __init__(self, limit: int):
        self.limit = limit
        self.label = f"max_partnerships allows at most {limit} group(s) of two or more"

    def allows_pruning(self, service: str) -> bool:
        return True  # a pruned group's replacement never has more groups of two or more

    def add_rows(self, model: ModelView) -> None:
        pairs = [(c.var, 1) for c in model.all_columns() if c.candidate.size >= 2]
        model.add(pulp.LpAffineExpression(pairs) <= self.limit, "partnerships")

    def linear_rows(self, columns):
        sizes = {s: np.fromiter((c.size for c in cs), int, len(cs)) for s, cs in columns.items()}
        coefficients = {s: (size >= 2).astype(float) for s, size in sizes.items()}
        return [LinearRow("partnerships", coefficients, upper=self.limit)]


class MaxPartnerships(Rule):
    key = "max_partnerships"
    summary = "Most groups of two or more members, all services together."
    expects = "a whole number >= 0"

    def parse(self, value, context: ParseContext):
        limit, problems = _whole_number(value, context.path, 0)
        return ([_Partnerships(limit)] if limit is not None else []), problems


class _Budget(Constraint):
    def __init__(self, budget: float):
        self.budget = budget
        self.label = f"transition_budget caps one-off costs at £{budget:,.0f}"

    def allows_pruning(self, service: str) -> bool:
        return True  # a pruned group's replacement never costs more to form

    def add_rows(self, model: ModelView) -> None:
        pairs = [
            (c.var, c.candidate.transition_cost)
            for c in model.all_columns()
            if c.candidate.transition_cost
        ]
        model.add(pulp.LpAffineExpression(pairs) <= self.budget, "transition_budget")

    def linear_rows(self, columns):
        coefficients = {
            s: np.fromiter((c.transition_cost for c in cs), float, len(cs))
            for s, cs in columns.items()
        }
        return [LinearRow("transition_budget", coefficients, upper=self.budget)]


class TransitionBudget(Rule):
    key = "transition_budget"
    summary = "Total one-off transition cost of all chosen groups, in pounds."
    expects = "a number >= 0 (pounds)"

    def parse(self, value, context: ParseContext):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            return [], [Problem(context.path, f"expected {self.expects}, got {value!r}")]
        if value == float("inf") or value > 1e15:
            return [], [
                Problem(context.path, f"expected {self.expects}, got {value!r} (too large)")
            ]
        return [_Budget(float(value))], []


def is_connected(members: frozenset[str], neighbours: dict[str, frozenset[str]]) -> bool:
    start = next(iter(members))
    seen = {start}
    queue = deque([start])
    while queue:
        for n in neighbours[queue.popleft()] & members:
            if n not in seen:
                seen.add(n)
                queue.append(n)
    return len(seen) == len(members)


class _Connected(Constraint):
    def __init__(self, service: str, neighbours: dict[str, frozenset[str]]):
        self.service = service
        self.neighbours = neighbours
        self.label = f"contiguous requires {service} groups to be connected neighbours"

    def needs_connected(self, service: str) -> bool:
        return service == self.service

    def implied_by_enumeration(self, service: str) -> bool:
        return True

    def judges_names_only(self, service: str) -> bool:
        return True  # the neighbours graph

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        return service != self.service or len(members) < 2 or is_connected(members, self.neighbours)


class Contiguous(Rule):
    key = "contiguous"
    summary = "Services (or true for all) whose groups must be connected in the neighbours graph."
    expects = "true, false, or a list of service ids"

    def parse(self, value, context: ParseContext):
        services = [s.id for s in context.consortium.services]
        if isinstance(value, bool):
            chosen = services if value else []
            problems = []
        else:
            chosen, problems = _names(value, context.path, services, "service")
        if problems:
            return [], problems
        neighbours = {m.id: frozenset(m.neighbours) for m in context.consortium.members}
        return [_Connected(s, neighbours) for s in chosen], []


class _Apart(Constraint):
    def __init__(self, members: list[str]):
        self.members = frozenset(members)
        self.label = f"never_together forbids {_and(members)} in one group"

    def judges_names_only(self, service: str) -> bool:
        return True  # member ids

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        return len(members & self.members) < 2


class NeverTogether(Rule):
    key = "never_together"
    summary = "Lists of members no two of which may share a group, in any service."
    expects = "a list of lists of two or more member ids"

    def parse(self, value, context: ParseContext):
        if not isinstance(value, list):
            return [], [Problem(context.path, f"expected {self.expects}, got {value!r}")]
        members = [m.id for m in context.consortium.members]
        constraints, problems = [], []
        for i, entry in enumerate(value):
            path = f"{context.path}[{i}]"
            names, found = _names(entry, path, members, "member")
            if not found and len(names) < 2:
                found = [Problem(path, f"expected two or more member ids, got {entry!r}")]
            problems += found
            if not found:
                constraints.append(_Apart(names))
        return constraints, problems


class _Together(Constraint):
    def __init__(self, service: str, members: list[str]):
        self.service = service
        self.members = frozenset(members)
        self.label = f"must_share for {service} puts {_and(sorted(members))} together"

    def allows_pruning(self, service: str) -> bool:
        return service != self.service  # it forbids the singletons a pruned group falls back on

    def limits_coalitions(self, service: str) -> bool:
        return False  # a requirement of the plan, not a bar to others walking away together

    def judges_names_only(self, service: str) -> bool:
        return True  # member ids

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        if service != self.service or not members & self.members:
            return True
        return self.members <= members


class MustShare(Rule):
    key = "must_share"
    summary = "Members that must be in one group for a service."
    expects = 'a list of tables {service = "id", members = ["id", ...]}'

    def parse(self, value, context: ParseContext):
        if not isinstance(value, list):
            return [], [Problem(context.path, f"expected {self.expects}, got {value!r}")]
        consortium = context.consortium
        services = [s.id for s in consortium.services]
        constraints, problems = [], []
        for i, entry in enumerate(value):
            path = f"{context.path}[{i}]"
            if not isinstance(entry, dict) or set(entry) != {"service", "members"}:
                problems.append(Problem(path, f"expected {self.expects}, got {entry!r}"))
                continue
            service = entry["service"]
            if service not in services:
                problems.append(
                    Problem(f"{path}.service", unknown_name("service", service, services))
                )
                continue
            names, found = _names(
                entry["members"], f"{path}.members", [m.id for m in consortium.members], "member"
            )
            if not found and len(names) < 2:
                found = [Problem(f"{path}.members", "expected two or more member ids")]
            taking_part = {p.member.id: p for p in consortium.participants(service)}
            for name in names if not found else []:
                if name not in taking_part:
                    found.append(
                        Problem(
                            f"{path}.members",
                            f"{name} does not take part in {service} "
                            f"(no members.{name}.services.{service} table)",
                        )
                    )
                elif not taking_part[name].share:
                    found.append(
                        Problem(
                            f"{path}.members",
                            f"{name} must share {service}, but "
                            f"members.{name}.services.{service}.share is false",
                        )
                    )
            found += self._clashes(names, service, path, context.table)
            problems += found
            if not found:
                constraints.append(_Together(service, names))
        return constraints, problems

    @staticmethod
    def _clashes(names: list[str], service: str, path: str, table) -> list[Problem]:
        """Contradictions visible without solving: a size limit, a never_together pair."""
        problems = []
        limit = table.get("max_group_size")
        if isinstance(limit, int) and not isinstance(limit, bool) and len(names) > limit:
            problems.append(
                Problem(
                    f"{path}.members",
                    f"puts {len(names)} members together for {service}, but "
                    f"constraints.max_group_size is {limit}",
                )
            )
        apart = table.get("never_together")
        for j, entry in enumerate(apart if isinstance(apart, list) else []):
            both = sorted(set(names) & set(entry)) if isinstance(entry, list) else []
            if len(both) >= 2:
                problems.append(
                    Problem(
                        f"{path}.members",
                        f"must_share for {service} puts {_and(both)} together, "
                        f"but constraints.never_together[{j}] forbids it",
                    )
                )
        return problems


class _Bundle(Constraint):
    def __init__(self, services: list[str], in_all: frozenset[str]):
        self.services = services
        self.in_all = in_all
        self.label = f"bundles give {_and(services)} identical groupings"

    def judges_names_only(self, service: str) -> bool:
        return True  # member ids

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        return service not in self.services or len(members) < 2 or members <= self.in_all

    def linked_services(self, services):
        return self.services

    def bundled(self):
        return self.services

    def allows_pruning(self, service: str) -> bool:
        return service not in self.services  # worth is judged across the bundle, not alone

    def add_rows(self, model: ModelView) -> None:
        by_service = [
            {c.candidate.members: c.var for c in model.columns.get(s, ())} for s in self.services
        ]
        groups = sorted({g for columns in by_service for g in columns if len(g) >= 2})
        first, rest = by_service[0], by_service[1:]
        for g_index, group in enumerate(groups):
            lead = first.get(group)
            for s_index, other in enumerate(rest, start=1):
                var = other.get(group)
                if lead is None and var is None:
                    continue
                row = pulp.LpAffineExpression(
                    [(v, c) for v, c in ((lead, 1), (var, -1)) if v is not None]
                )
                model.add(row == 0, f"bundle_{self.services[0]}_{s_index}_{g_index}")


class Bundles(Rule):
    key = "bundles"
    summary = "Services that must get identical groupings (overlapping bundles merge)."
    expects = "a list of lists of two or more service ids"

    def parse(self, value, context: ParseContext):
        if not isinstance(value, list):
            return [], [Problem(context.path, f"expected {self.expects}, got {value!r}")]
        consortium = context.consortium
        services = [s.id for s in consortium.services]
        merged: list[set[str]] = []
        problems = []
        for i, entry in enumerate(value):
            path = f"{context.path}[{i}]"
            names, found = _names(entry, path, services, "service")
            if not found and len(names) < 2:
                found = [Problem(path, f"expected two or more service ids, got {entry!r}")]
            problems += found
            if found:
                continue
            group = set(names)
            for existing in [m for m in merged if m & group]:
                group |= existing
                merged.remove(existing)
            merged.append(group)
        constraints = []
        for bundle in merged:
            ordered = [s for s in services if s in bundle]
            sharing = [{p.member.id for p in consortium.sharers(s)} for s in ordered]
            constraints.append(_Bundle(ordered, frozenset(set.intersection(*sharing))))
        return constraints, problems


class _Gain(Constraint):
    def __init__(self, allocation: str):
        self.label = f"individual_gain requires every member to gain under {allocation} allocation"

    def allows_figures(self, candidate: Candidate, context: FigureContext) -> bool:
        if candidate.size < 2:
            return True
        return min(context.allocation(candidate).values()) >= -GAIN_TOLERANCE


class IndividualGain(Rule):
    key = "individual_gain"
    summary = "Every member's allocated share is >= 0 in every group."
    expects = "true or false"

    def parse(self, value, context: ParseContext):
        if not isinstance(value, bool):
            return [], [Problem(context.path, f"expected true or false, got {value!r}")]
        allocation = context.table.get("allocation", "proportional")
        return ([_Gain(allocation)] if value else []), []


class Allocation(Rule):
    key = "allocation"
    summary = "How a group's npv is shared among its members (and judged by individual_gain)."
    expects = " | ".join(rule.value for rule in AllocationRule)

    def parse(self, value, context: ParseContext):
        if value not in [rule.value for rule in AllocationRule]:
            return [], [Problem(context.path, f"expected one of {self.expects}, got {value!r}")]
        return [], []


class _Stable(Constraint):
    label = 'stability = "core": no allowed group would do better on its own'

    def allows_pruning(self, service: str) -> bool:
        return False  # a stable plan may need a group that is worth less on its own


class Stability(Rule):
    key = "stability"
    summary = (
        '"core": choose the best plan whose allocation no allowed group would walk '
        "away from (docs/fair-shares.md)."
    )
    expects = '"core" or "none"'

    def parse(self, value, context: ParseContext):
        if value not in ("core", "none"):
            return [], [Problem(context.path, f"expected {self.expects}, got {value!r}")]
        allocation = context.table.get("allocation", "proportional")
        if value == "core" and allocation in ("nucleolus", "core"):
            return [], [
                Problem(
                    context.path,
                    f'stability = "core" needs a rule that shares out each group on its own '
                    f"(proportional, equal or shapley), not {allocation}: that rule already "
                    "gives a stable split whenever one exists, and reports the cost of "
                    "stability when none does",
                )
            ]
        return ([_Stable()] if value == "core" else []), []


BUILTIN_RULES = (
    MaxGroupSize,
    MaxPartnerships,
    TransitionBudget,
    Contiguous,
    NeverTogether,
    MustShare,
    Bundles,
    IndividualGain,
    Allocation,
    Stability,
)


@hookimpl
def sharedsvc_register_rules(register):
    for rule in BUILTIN_RULES:
        register(rule())
