"""Check a `Consortium` value as the loader would: for values built or changed in code.

The loader reports problems in a file with key paths; a consortium made with
`attrs.evolve` (or by hand) never went through it, so `check` applies the same
rules to the value itself and names the field. `optimise` calls it first, so a
bad value is a `ConsortiumError`, never a wrong plan or a ZeroDivisionError.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from typing import Any

from sharedsvc.appraisal import allocation
from sharedsvc.constants import MEMBER_KINDS, AllocationRule, Objective
from sharedsvc.errors import ConsortiumError, Problem
from sharedsvc.model.consortium import Consortium
from sharedsvc.model.fields import show_value

MAX_HORIZON = 100
"""Years: the Green Book's schedule runs to 125, but no shared-service case spans a century."""


def horizon_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HORIZON:
        return f"expected a whole number of years from 1 to {MAX_HORIZON}, got {show_value(value)}"
    return None


def discount_rate_problem(value: Any) -> str | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value < 1
    ):
        return f"expected a rate from 0 to below 1 (0.035 is 3.5%), got {show_value(value)}"
    return None


def choice_problem(value: Any, kind: type) -> str | None:
    allowed = [c.value for c in kind]
    if value not in allowed:
        return f"expected one of {', '.join(allowed)}, got {show_value(value)}"
    return None


MAX_NAME_LENGTH = 200
"""Characters in a name: "Royal Borough of Kensington and Chelsea" is 39."""


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control(c: str) -> bool:
    """Control characters, line separators and bidirectional overrides."""
    return unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS


def name_problem(value: Any) -> str | None:
    """Why a name cannot be shown: not text, empty, too long, or with control characters
    (a newline or an escape sequence would forge lines and rewrite terminals in every
    report that prints it)."""
    if not isinstance(value, str) or not value.strip():
        return f"expected a non-empty string, got {show_value(value)}"
    if len(value) > MAX_NAME_LENGTH:
        return f"expected a name of at most {MAX_NAME_LENGTH} characters, got {len(value):,}"
    bad = next((c for c in value if _control(c)), None)
    if bad is not None:
        return (
            f"expected a name without control characters, got {show_value(value)} "
            f"(it contains U+{ord(bad):04X})"
        )
    return None


def largest_group(consortium: Consortium, service: str) -> int:
    """The most members any allowed group of `service` can have, before pricing.

    The sharers, capped by every size limit and, where groups must be connected, by
    the largest connected set of sharers.
    """
    sharers = [p.member.id for p in consortium.sharers(service)]
    largest = len(sharers)
    for constraint in consortium.constraints:
        limit = constraint.size_limit(service)
        if limit is not None:
            largest = min(largest, limit)
    if any(c.needs_connected(service) for c in consortium.constraints):
        largest = min(largest, _largest_component(consortium, sharers))
    return largest


def _largest_component(consortium: Consortium, sharers: list[str]) -> int:
    inside = set(sharers)
    seen: set[str] = set()
    best = 0
    for start in sharers:
        if start in seen:
            continue
        seen.add(start)
        stack, size = [start], 0
        while stack:
            size += 1
            for n in consortium.member(stack.pop()).neighbours:
                if n in inside and n not in seen:
                    seen.add(n)
                    stack.append(n)
        best = max(best, size)
    return best


def problems(consortium: Consortium) -> list[Problem]:
    """Every way in which `consortium` breaks what the loader guarantees."""
    found: list[Problem] = []

    def add(path: str, message: str | None) -> None:
        if message:
            found.append(Problem(path, message))

    add("consortium.name", name_problem(consortium.name))
    add("consortium.horizon_years", horizon_problem(consortium.horizon_years))
    add("consortium.discount_rate", discount_rate_problem(consortium.discount_rate))
    add("consortium.objective", choice_problem(consortium.objective, Objective))
    add("constraints.allocation", choice_problem(consortium.allocation, AllocationRule))
    for kind, ids in (
        ("member", [m.id for m in consortium.members]),
        ("service", [s.id for s in consortium.services]),
    ):
        for twice in sorted(i for i, n in Counter(ids).items() if n > 1):
            add(f"{kind}s.{twice}", f"the {kind} id {twice!r} is used twice")
    for member in consortium.members:
        add(f"members.{member.id}.name", name_problem(member.name))
        if member.kind not in MEMBER_KINDS:
            add(
                f"members.{member.id}.kind",
                f"expected one of {', '.join(MEMBER_KINDS)}, got {show_value(member.kind)}",
            )
    members = {m.id: m for m in consortium.members}
    services = {s.id for s in consortium.services}
    seen: Counter[tuple[str, str]] = Counter()
    for p in consortium.participations:
        path = f"members.{p.member.id}.services.{p.service}"
        if p.member.id not in members:
            add(path, f"the participation's member {p.member.id!r} is not a member")
        if p.service not in services:
            add(path, f"unknown service {p.service!r}")
        if not isinstance(p.share, bool):
            add(f"{path}.share", f"expected true or false, got {show_value(p.share)}")
        seen[(p.member.id, p.service)] += 1
    for (member, service), count in sorted(seen.items()):
        if count > 1:
            add(
                f"members.{member}.services.{service}",
                f"takes part {count} times; expected once (a member's service is one table)",
            )
    return found


def check(consortium: Consortium, *, max_shapley_size: int) -> None:
    """Raise `ConsortiumError` naming every field of `consortium` that is invalid, or an
    allocation rule that cannot share out its largest allowed group."""
    found = problems(consortium)
    if not found:
        largest = {s.id: largest_group(consortium, s.id) for s in consortium.services}
        found = allocation.size_problems(consortium.allocation, largest, max_shapley_size)
    if found:
        raise ConsortiumError(consortium.source, found)
