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
from sharedsvc.appraisal.bias import PRESETS, OptimismBias
from sharedsvc.appraisal.cashflows import GREEN_BOOK
from sharedsvc.constants import MEMBER_KINDS, AllocationRule, Objective
from sharedsvc.errors import ConsortiumError, Problem
from sharedsvc.model.consortium import Consortium
from sharedsvc.model.fields import show_value
from sharedsvc.wording import unknown_name

MAX_HORIZON = 100
"""Years: the Green Book's schedule runs to 125, but no shared-service case spans a century."""


def horizon_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HORIZON:
        return f"expected a whole number of years from 1 to {MAX_HORIZON}, got {show_value(value)}"
    return None


def _number_within(value: Any, low: float, high: float, *, below_high: bool = False) -> bool:
    """Whether `value` is a finite number (not a boolean) from `low` to `high` (or below)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return low <= value < high if below_high else low <= value <= high


def discount_rate_problem(value: Any) -> str | None:
    if value == GREEN_BOOK:
        return None
    if not _number_within(value, 0, 1, below_high=True):
        return (
            f'expected a rate from 0 to below 1 (0.035 is 3.5%) or "{GREEN_BOOK}" (the Green '
            f"Book's declining schedule), got {show_value(value)}"
        )
    return None


def _shares(value: Any, *, most: int, ceiling: float | None) -> str | None:
    """None if `value` is a list of at most `most` numbers from 0 to `ceiling`."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        return f"expected a list of numbers, got {show_value(value)}"
    if len(value) > most:
        return f"expected at most {most} values (one a year of the horizon), got {len(value)}"
    if any(v < 0 or (ceiling is not None and v > ceiling) for v in value):
        top = "" if ceiling is None else f" to {ceiling:g}"
        return f"expected shares from 0{top}, got {list(value)}"
    return None


def yearly_shares_problem(value: Any, horizon: int) -> str | None:
    """Shares for years 1, 2, ..., each from 0 to 1: of the full saving (`ramp_up`), or
    of the standalone cost still paid on top (`double_running`)."""
    return _shares(value, most=horizon, ceiling=1.0)


def one_off_problem(value: Any, horizon: int) -> str | None:
    """Shares of the one-off cost in years 0, 1, ...: they must sum to 1."""
    problem = _shares(value, most=horizon + 1, ceiling=None)
    if problem:
        return problem
    if not value or abs(math.fsum(value) - 1.0) > 1e-9:
        return f"expected shares that sum to 1 (for example [0.6, 0.4]), got {list(value)}"
    return None


def optimism_bias(value: Any) -> tuple[OptimismBias, list[tuple[str, str]]]:
    """The optimism bias of `[consortium] optimism_bias`, and its problems as (key below
    `consortium.optimism_bias`, message): a preset name, or a table of `one_off`,
    `running`, `delay_years`, or of `preset`, `mitigation`, `delay_years`."""
    names = ", ".join(PRESETS)
    if isinstance(value, str):
        value = {"preset": value}
    if not isinstance(value, dict):
        return OptimismBias(), [
            ("", f"expected a preset ({names}) or a table {{ one_off = 0.54, running = 0.41 }}")
        ]
    problems: list[tuple[str, str]] = []
    known = ("preset", "mitigation", "one_off", "running", "delay_years")
    problems += [(f".{k}", unknown_name("key", k, known)) for k in value if k not in known]

    def number(key: str, low: float, high: float, default: float = 0.0) -> float:
        v = value.get(key, default)
        if not _number_within(v, low, high):
            problems.append(
                (f".{key}", f"expected a number from {low:g} to {high:g}, got {show_value(v)}")
            )
            return default
        return float(v)

    delay = value.get("delay_years", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 10:
        problems.append(
            (".delay_years", f"expected whole years from 0 to 10, got {show_value(delay)}")
        )
        delay = 0
    if "preset" in value:
        preset = value["preset"]
        for clash in ("one_off", "running"):
            if clash in value:
                problems.append((f".{clash}", "give a preset or your own uplifts, not both"))
        if preset not in PRESETS:
            problems.append(
                (".preset", f"unknown preset {show_value(preset)}; expected one of {names}")
            )
            return OptimismBias(), problems
        mitigation = number("mitigation", 0.0, 1.0)
        return OptimismBias.from_preset(preset, mitigation, delay), problems
    if "mitigation" in value:
        problems.append((".mitigation", "mitigation moves a preset's uplifts: give a preset too"))
    return (
        OptimismBias(
            one_off=number("one_off", 0.0, 10.0),
            running=number("running", 0.0, 10.0),
            delay_years=delay,
        ),
        problems,
    )


def share_problem(value: Any) -> str | None:
    if not _number_within(value, 0, 1):
        return f"expected a share from 0 to 1 (0.22 is 22%), got {show_value(value)}"
    return None


def exit_cost_problem(value: Any) -> str | None:
    if not _number_within(value, 0, 10):
        return (
            "expected the share of the one-off cost paid again at the end, from 0 to 10 "
            f"(0.5 is half), got {show_value(value)}"
        )
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
    horizon = (
        MAX_HORIZON if horizon_problem(consortium.horizon_years) else int(consortium.horizon_years)
    )
    add("consortium.ramp_up", yearly_shares_problem(consortium.ramp_up, horizon))
    add("consortium.one_off_profile", one_off_problem(consortium.one_off_profile, horizon))
    add("consortium.double_running", yearly_shares_problem(consortium.double_running, horizon))
    add("consortium.exit_cost", exit_cost_problem(consortium.exit_cost))
    add("consortium.count_non_cashable", share_problem(consortium.count_non_cashable))
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
            add(path, unknown_name("service", p.service, services))
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
