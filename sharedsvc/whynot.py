"""Why a member is in its group, or alone (`sharedsvc explain`): exact answers, found by
re-optimising with another group forced in, never by a heuristic.

For each service the member takes part in, every allowed group containing it (and the
`--with` members) is a candidate alternative. The LP relaxation of the service's block
bounds, for all of them at once, what a plan with that group can be worth: the LP value
plus the group's reduced cost, the bound reduced-cost fixing uses (`solver/fixing.py`).
Alternatives are then solved exactly, best bound first (the whole plan re-optimised
with the group forced in as a constraint), until the best `alternatives` found are
worth at least the bound of every group not yet solved: those are then the exact best.

The constraints binding the plan are found the same way: each is relaxed by one unit
(one more partnership, £100,000 more transition budget, groups one larger, a
never_together pair or must_share entry dropped, contiguity or individual gain off) and
the plan re-optimised.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from sharedsvc import pipeline
from sharedsvc.alternatives import Alternative, Explanation, Relaxed, ServiceExplanation
from sharedsvc.constants import Objective, Status
from sharedsvc.errors import SharedsvcError, TooLargeError, UsageError
from sharedsvc.model.consortium import Consortium
from sharedsvc.model.load import reads_back, reread
from sharedsvc.model.toml_writer import value as value_text
from sharedsvc.plugins import Registry
from sharedsvc.pricing.candidates import (
    Candidate,
    figure_check,
    figure_context,
    make_candidates,
    service_candidates,
)
from sharedsvc.pricing.pricer import amount_problem
from sharedsvc.report.text import money
from sharedsvc.results import Result
from sharedsvc.rules import Constraint
from sharedsvc.settings import Settings
from sharedsvc.solver import relaxation
from sharedsvc.solver.backends import run_highs
from sharedsvc.solver.blocks import blocks
from sharedsvc.stopping import StopToken
from sharedsvc.wording import joined, unknown_name

BUDGET_STEP = 100_000.0
"""Pounds of transition budget that "relaxing the budget by one unit" adds."""
TOLERANCE = 0.005
"""Pounds: a difference smaller than half a penny is no difference."""


class Forced(Constraint):
    """Exactly this group for this service: no other group may hold any of its members."""

    def __init__(self, service: str, members: Sequence[str]):
        self.service = service
        self.members = frozenset(members)
        self.label = f"explain forces {joined(sorted(members))} together for {service}"

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        if service != self.service or not members & self.members:
            return True
        return members == self.members

    def allows_pruning(self, service: str) -> bool:
        return service != self.service  # its members may not fall back on being alone

    def limits_coalitions(self, service: str) -> bool:
        return False  # a question about the plan, not a bar to coalitions forming

    def judges_names_only(self, service: str) -> bool:
        return True


def explain_member(
    consortium: Consortium,
    registry: Registry,
    settings: Settings,
    member: str,
    *,
    service: str | None = None,
    together_with: Sequence[str] = (),
    alternatives: int = 5,
    max_solves: int = 40,
    relax: bool = True,
    progress: Callable[[str], None] = pipeline.quiet,
    stop: StopToken | None = None,
) -> Explanation:
    """Why `member` is where the plan puts it; see the module's note."""
    ids = [m.id for m in consortium.members]
    for name in (member, *together_with):
        if name not in ids:
            raise UsageError(unknown_name("member", name, ids))
    if member in together_with:
        raise UsageError(f"--with {member}: that is the member being explained")
    taking = [s.id for s in consortium.services if _participation(consortium, s.id, member)]
    if service is not None:
        if service not in [s.id for s in consortium.services]:
            raise UsageError(unknown_name("service", service, [s.id for s in consortium.services]))
        if service not in taking:
            raise UsageError(f"{member} does not take part in {service}")
        taking = [service]
    plan = pipeline.optimise(consortium, registry, settings, progress=progress, stop=stop)
    objective = consortium.objective
    status = plan.status.value
    if not plan.solved:
        return Explanation(
            consortium=consortium.name,
            member=member,
            objective=objective.value,
            plan_value=0.0,
            status=status,
            services=(),
            notes=(f"no plan to explain: {plan.message}",),
        )
    quick = attrs.evolve(settings, assess_stability=False)
    explainer = _Explainer(consortium, registry, quick, plan, progress, stop)
    found = tuple(
        explainer.service(s, member, tuple(sorted(together_with)), alternatives, max_solves)
        for s in taking
    )
    relaxations = (
        tuple(_relaxations(consortium, registry, quick, plan, progress, stop)) if relax else ()
    )
    notes = ()
    if plan.status.value != "optimal":
        notes = (f"the plan is not proven optimal ({plan.message}): differences are from it",)
    return Explanation(
        consortium=consortium.name,
        member=member,
        objective=objective.value,
        plan_value=_value(plan, objective),
        status=status,
        services=found,
        relaxations=relaxations,
        notes=notes,
    )


def _participation(consortium: Consortium, service: str, member: str):
    return next((p for p in consortium.participants(service) if p.member.id == member), None)


def _value(result: Result, objective: Objective) -> float:
    totals = result.totals
    return totals["npv"] if objective == Objective.NPV else totals["annual_saving"]


class _Explainer:
    def __init__(self, consortium, registry, settings, plan, progress, stop):
        self.consortium = consortium
        self.registry = registry
        self.settings = settings
        self.plan = plan
        self.progress = progress
        self.stop = stop
        self.objective = consortium.objective
        self.plan_value = _value(plan, self.objective)
        self.pricers = pipeline.make_pricers(consortium, registry, settings)
        self.solved: dict[tuple[str, tuple[str, ...]], float | None] = {}
        self.ceilings: dict[tuple[str, tuple[str, ...]], float | None] = {}
        self.allowed: dict[str, list[Candidate]] = {}

    def candidates(self, service: str) -> list[Candidate]:
        """Every group the constraints allow, none pruned: each may be forced in."""
        if service not in self.allowed:
            self.allowed[service] = service_candidates(
                self.consortium,
                self.pricers[service],
                self.consortium.constraints,
                prune=False,
                max_groups=self.settings.max_groups_per_service,
            ).candidates
        return self.allowed[service]

    def block(self, service: str) -> list[str]:
        """The services solved together with `service` (tied by a budget, a count or a
        bundle): forcing a group changes only their plan."""
        services = [s.id for s in self.consortium.services]
        return next(b for b in blocks(services, self.consortium.constraints) if service in b)

    def forced_value(self, service: str, members: tuple[str, ...]) -> float | None:
        """The whole plan's objective with exactly this group in `service`; None when no
        plan can have it. Only the service's block is re-optimised: the other blocks'
        plans cannot change. Within `Settings.explain_seconds` it is exact; past them it
        is the best plan found, and `ceiling` says how much more it could be."""
        key = (service, members)
        if key not in self.solved:
            block = self.block(service)
            offset = self.plan_value - self.block_value(self.plan, block)
            c = self.consortium
            if self.separable(service, block):
                result = self.around(service, members)
                (group,) = [x for x in self.candidates(service) if x.members == members]
                offset += group.value(self.objective)
            else:
                forced = attrs.evolve(
                    c,
                    services=tuple(s for s in c.services if s.id in block),
                    participations=tuple(p for p in c.participations if p.service in block),
                    constraints=(*c.constraints, Forced(service, members)),
                )
                result = self.solve(forced)
            value = ceiling = None
            if result.solved:
                value = offset + self.block_value(result, block)
                ceiling = value
                if result.status != Status.OPTIMAL:
                    ceiling = math.inf if result.bound is None else offset + result.bound
            self.solved[key] = value
            self.ceilings[key] = ceiling
            proven = "" if ceiling == value else " (not proven in the time given)"
            self.progress(f"{service}: with {' + '.join(members)} forced in, solved{proven}")
        return self.solved[key]

    def ceiling(self, service: str, members: tuple[str, ...]) -> float | None:
        """The most the plan with this group forced in could be worth (its value when
        proven); None when no plan can have it."""
        self.forced_value(service, members)
        return self.ceilings[(service, members)]

    def solve(self, consortium: Consortium) -> Result:
        limit = self.settings.explain_seconds or None
        return pipeline.optimise(
            consortium,
            self.registry,
            attrs.evolve(self.settings, time_limit=limit),
            progress=pipeline.quiet,
            stop=self.stop,
        )

    def separable(self, service: str, block: Sequence[str]) -> bool:
        """True when the service is solved alone and no row ties its groups together:
        then the best plan with a group G is G plus the best plan of the others."""
        if list(block) != [service] or self.consortium.settings.get("stability") == "core":
            return False
        return not any(
            set(c.linked_services([service])) & {service} for c in self.consortium.constraints
        )

    def around(self, service: str, members: tuple[str, ...]) -> Result:
        """The best plan of the service's other sharers: each member of G is taken out of
        the sharing (share = false), which is what forcing G leaves for the rest. The
        smaller problem is pruned and solved as any plan is."""
        c = self.consortium
        out = set(members)
        participations = tuple(
            attrs.evolve(p, share=False) if p.member.id in out else p
            for p in c.participations
            if p.service == service
        )
        return self.solve(
            attrs.evolve(c, services=(c.service(service),), participations=participations)
        )

    def block_value(self, result: Result, block: Sequence[str]) -> float:
        return sum(_service_value(result.service(s), self.objective) for s in block)

    def service(
        self,
        service: str,
        member: str,
        together_with: tuple[str, ...],
        count: int,
        max_solves: int,
    ) -> ServiceExplanation:
        planned = self.plan.service(service)
        current = planned.group_of(member)
        group = None if current is None else current.members
        why_alone = planned.why_alone.get(member)
        participation = _participation(self.consortium, service, member)
        wanted = tuple(sorted({member, *together_with}))
        if not participation.share:
            requested = None
            if together_with:
                requested = self.forbidden(service, wanted, [f"{member} has share = false"])
            return ServiceExplanation(
                service=service,
                group=None,
                why_alone=why_alone,
                alternatives=(),
                requested=requested,
            )
        allowed = self.candidates(service)
        containing = [
            c
            for c in allowed
            if c.size > 1
            and member in c.members
            and set(together_with) <= set(c.members)
            and c.members != group
        ]
        bound = self.bounds(service, allowed)
        ranked = sorted(
            containing,
            key=lambda c: (-(bound(c) if bound else c.value(self.objective)), c.members),
        )
        exact: list[tuple[float, Candidate]] = []
        unlisted, solves, proven = None, 0, True
        for c in ranked:
            ceiling = bound(c) if bound else math.inf
            best = sorted((v for v, _ in exact), reverse=True)
            if len(best) >= count and ceiling <= best[count - 1] + TOLERANCE:
                unlisted = ceiling
                break
            if solves >= max_solves:
                unlisted = None if math.isinf(ceiling) else ceiling
                proven = False
                break
            solves += 1
            value = self.forced_value(service, c.members)
            if value is not None:
                exact.append((value, c))
        exact.sort(key=lambda pair: (-pair[0], pair[1].members))
        listed = tuple(self.alternative(service, c, v) for v, c in exact[:count])
        if len(listed) == count:  # a solved group past the time limit might still beat them
            last = listed[-1].value
            unproven = [self.ceiling(service, c.members) for _, c in exact[count:]] + [
                a.at_most for a in listed if a.at_most is not None
            ]
            proven = proven and all(u is None or u <= last + TOLERANCE for u in unproven)
        proven = proven and all(a.at_most is None for a in listed)
        requested = None
        if together_with or len(wanted) > 1:
            requested = self.requested(service, wanted, group, allowed)
        return ServiceExplanation(
            service=service,
            group=group,
            why_alone=why_alone,
            alternatives=listed,
            requested=requested,
            evaluated=solves,
            unlisted_at_most=unlisted if len(ranked) > solves else None,
            groups_with_member=len(containing),
            proven=proven,
        )

    def bounds(self, service: str, allowed: list[Candidate]):
        """`bound(candidate)`: no plan with that group forced in is worth more; None when
        the block's rows have no array form (then groups are tried by their own value)."""
        block = self.block(service)
        columns = {s: (allowed if s == service else self.candidates(s)) for s in block}
        rows = relaxation.side_rows(columns, self.consortium.constraints)
        if rows is None:
            return None
        lp = relaxation.from_columns(self.pricers, columns, rows, self.objective)
        if lp is None:
            return None
        import highspy

        run_highs(lp.highs, self.stop)
        if lp.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        z = lp.highs.getInfo().objective_function_value
        reduced = np.minimum(np.array(lp.highs.getSolution().col_dual), 0.0)
        offset = 0
        for s in block:
            if s == service:
                break
            offset += len(columns[s])
        rest = self.plan_value - self.block_value(self.plan, block)
        position = {c.members: offset + j for j, c in enumerate(allowed)}
        return lambda c: rest + z + float(reduced[position[c.members]])

    def alternative(self, service: str, c: Candidate, value: float) -> Alternative:
        broken = tuple(
            g.members
            for g in self.plan.service(service).groups
            if set(g.members) & set(c.members) and g.members != c.members
        )
        difference = value - self.plan_value
        ceiling = self.ceiling(service, c.members)
        return Alternative(
            service=service,
            members=c.members,
            value=value,
            at_most=None if ceiling is None or ceiling <= value + TOLERANCE else ceiling,
            difference=difference,
            annual_saving=c.annual_saving,
            transition_cost=c.transition_cost,
            npv=c.npv,
            breaks=broken,
            why=self.why_worse(c, difference, broken),
        )

    def parts(self, c: Candidate) -> dict[str, float]:
        """The cost model's named parts of the group's running cost (checked numbers)."""
        pricer = self.pricers[c.service]
        people = [pricer.participants[i] for i in c.indices]
        try:
            found = dict(pricer.model.running_parts(people, pricer.service.parameters))
        except Exception as exc:
            raise pricer._fail(f"raised {type(exc).__name__}: {exc} in running_parts") from exc
        for name, value in found.items():
            problem = amount_problem(value, 0.0)
            if problem is not None:
                raise pricer._fail(f"gave running part {name!r} as {problem}")
        return {name: float(value) for name, value in found.items() if value}

    def why_worse(self, c: Candidate, difference: float, broken) -> str:
        group = " + ".join(c.members)
        own = c.value(self.objective)
        if difference >= -TOLERANCE:
            return f"{group} is as good as the plan: another optimum"
        figures = (
            f"saves {money(c.annual_saving)} a year for {money(c.transition_cost)} once "
            f"(npv {money(c.npv)})"
        )
        if own <= 0:
            parts = self.parts(c)
            if c.annual_saving <= 0 and parts:
                named = "; ".join(f"{n} cost {money(v)} a year" for n, v in parts.items())
                rest = c.annual_saving + sum(parts.values())
                return f"{group}: {named} outweighs the rest of its saving, {money(rest)} a year"
            if c.annual_saving <= 0:
                return f"{group} {figures}: sharing costs more than its members alone"
            return f"{group} {figures}: the one-off cost outweighs the savings over the horizon"
        if broken:
            apart = "; ".join(" + ".join(g) for g in broken)
            return (
                f"{group} {figures}, but breaks up {apart}: the best plan around it is "
                f"worth {money(-difference)} less"
            )
        return f"{group} {figures}; the best plan around it is worth {money(-difference)} less"

    def requested(self, service, wanted, group, allowed) -> Alternative:
        if group == wanted:
            return Alternative(
                service=service,
                members=wanted,
                value=self.plan_value,
                difference=0.0,
                why=f"{' + '.join(wanted)} is the plan's group",
            )
        found = next((c for c in allowed if c.members == wanted), None)
        if found is None:
            return self.forbidden(service, wanted, self.reasons(service, wanted))
        value = self.forced_value(service, wanted)
        if value is None:
            return self.forbidden(
                service, wanted, ["no plan satisfies the other constraints with it"]
            )
        return self.alternative(service, found, value)

    def forbidden(self, service: str, members: tuple[str, ...], reasons) -> Alternative:
        reasons = tuple(reasons) or ("the constraints forbid it",)
        return Alternative(
            service=service,
            members=members,
            value=None,
            difference=None,
            forbidden_by=reasons,
            why=f"{' + '.join(members)} cannot be formed: " + "; ".join(reasons),
        )

    def reasons(self, service: str, members: tuple[str, ...]) -> list[str]:
        """Why a group is not allowed, in the constraints' own words."""
        consortium = self.consortium
        found = []
        taking = {p.member.id: p for p in consortium.participants(service)}
        for m in members:
            if m not in taking:
                found.append(f"{m} does not take part in {service}")
            elif not taking[m].share:
                found.append(f"{m} has share = false for {service}")
        if found:
            return found
        group = frozenset(members)
        for constraint in consortium.constraints:
            limit = constraint.size_limit(service)
            if limit is not None and len(members) > limit:
                found.append(f"exceeds max_group_size ({limit})")
            elif constraint.needs_connected(service) and not _connected(consortium, members):
                found.append(f"not contiguous: {_islands(consortium, members)}")
            elif not constraint.allows_members(service, group):
                found.append(f"blocked by {constraint.label or type(constraint).__name__}")
        if found:
            return found
        pricer = self.pricers[service]
        indices = tuple(sorted(pricer.ids.index(m) for m in members))
        if pricer.listed is not None and indices not in set(map(tuple, pricer.listed)):
            return [f"cost model {pricer.model.name!r} does not price this group"]
        (priced,) = make_candidates(pricer, [indices], pricer.figures([indices]))
        context = figure_context(pricer, self.objective)
        for constraint in consortium.constraints:
            if not figure_check(constraint, context)(priced):
                found.append(f"blocked by {constraint.label or type(constraint).__name__}")
        return found


def _service_value(service, objective: Objective) -> float:
    return service.npv if objective == Objective.NPV else service.annual_saving


def _connected(consortium: Consortium, members: Sequence[str]) -> bool:
    return len(_components(consortium, members)) == 1


def _components(consortium: Consortium, members: Sequence[str]) -> list[list[str]]:
    left, parts = set(members), []
    while left:
        start = min(left)
        seen, frontier = {start}, [start]
        while frontier:
            m = frontier.pop()
            for n in consortium.member(m).neighbours:
                if n in left and n not in seen:
                    seen.add(n)
                    frontier.append(n)
        parts.append(sorted(seen))
        left -= seen
    return parts


def _islands(consortium: Consortium, members: Sequence[str]) -> str:
    parts = _components(consortium, members)
    return "; ".join(joined(p) for p in parts) + " share no border"


def _relaxations(consortium, registry, settings, plan, progress, stop):
    """Each constraint relaxed by one unit, re-optimised from the file's text."""
    if not reads_back(consortium, registry, settings):
        return  # a consortium made or changed in code: no text to relax
    table = dict(consortium.settings)
    plan_value = _value(plan, consortium.objective)
    for path, change, body in _steps(table):
        progress(f"relaxing {path}: {change}")
        try:
            relaxed = reread(consortium, registry, settings, change=body)
            limited = attrs.evolve(settings, time_limit=settings.explain_seconds or None)
            result = pipeline.optimise(
                relaxed, registry, limited, progress=pipeline.quiet, stop=stop
            )
        except TooLargeError as exc:
            yield Relaxed(
                path=path, change=change, value=None, gain=None, note=f"not solved: {exc}"
            )
            continue
        except SharedsvcError as exc:
            yield Relaxed(path=path, change=change, value=None, gain=None, note=str(exc))
            continue
        if not result.solved:
            yield Relaxed(path=path, change=change, value=None, gain=None, note=result.message)
            continue
        value = _value(result, consortium.objective)
        if result.status == Status.OPTIMAL:
            yield Relaxed(path=path, change=change, value=value, gain=value - plan_value)
        elif result.gap is None or result.unfinished:
            note = "not solved in the time given (--solve-seconds)"
            yield Relaxed(path=path, change=change, value=None, gain=None, note=note)
        else:  # relaxing never lowers the optimum: the plan found is a lower bound
            gain = max(0.0, value - plan_value)
            note = f"not proven in the time given (gap {result.gap:.2%}): worth at least this"
            yield Relaxed(path=path, change=change, value=value, gain=gain, note=note)


def _steps(table: Mapping[str, Any]):
    """(key path, the change in words, the scenario body that makes it)."""
    for key, value in table.items():
        path = f"constraints.{key}"
        if (key == "max_partnerships" and isinstance(value, int)) or (
            key == "max_group_size" and isinstance(value, int)
        ):
            yield path, f"{value} -> {value + 1}", {"constraints": {key: value + 1}}
        elif key == "transition_budget" and isinstance(value, int | float):
            more = value + BUDGET_STEP
            yield path, f"{money(value)} -> {money(more)}", {"constraints": {key: more}}
        elif key in ("contiguous", "individual_gain") and value not in (False, [], None):
            yield path, f"{value_text(value)} -> false", {"constraints": {key: False}}
        elif key == "stability" and value == "core":
            yield path, '"core" -> "none"', {"constraints": {key: "none"}}
        elif key in ("never_together", "must_share", "bundles") and isinstance(value, list):
            for i, entry in enumerate(value):
                rest = value[:i] + value[i + 1 :]
                body = {"constraints": {key: rest}} if rest else {"remove": [f"constraints.{key}"]}
                yield f"{path}[{i}]", f"{value_text(entry)} dropped", body
