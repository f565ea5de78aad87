"""The optimiser: for every service, the grouping of its members that maximises the objective.

The model is set partitioning over candidate groups: one 0/1 variable per
allowed group of each service, one row per (service, sharing member) saying it
is in exactly one chosen group, rows added by constraints (budgets, counts,
bundle links), and the objective sum of npv (or annual saving) of the chosen
groups. Singletons are columns too, worth zero, so "share with nobody" is
always a choice. It is exact: every allowed group is a column.

(Named `optimiser` so that it never shadows the `sharedsvc.optimise` function.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pulp

from sharedsvc.candidates import service_candidates
from sharedsvc.consortium import Consortium
from sharedsvc.output import write_file_atomically
from sharedsvc.plugins import Registry
from sharedsvc.pricing import Candidate, ServicePricer
from sharedsvc.results import GroupResult, Result, ServiceResult
from sharedsvc.rules import Column, Constraint, ModelView
from sharedsvc.solve import Outcome, pick_solver, solve

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


def make_pricers(consortium: Consortium, registry: Registry) -> dict[str, ServicePricer]:
    return {
        s.id: ServicePricer(
            consortium, s.id, registry.cost_models[s.model], registry.owner_of_model(s.model)
        )
        for s in consortium.services
    }


def build_model(
    pricers: Mapping[str, ServicePricer],
    candidates: Mapping[str, Sequence[Candidate]],
    constraints: Sequence[Constraint],
    objective: str | None,
) -> tuple[pulp.LpProblem, ModelView] | None:
    """The PuLP problem, or None when some member has no allowed group at all.

    `objective=None` builds a feasibility model (objective zero).
    """
    problem = pulp.LpProblem("sharedsvc", pulp.LpMaximize)
    columns: dict[str, list[Column]] = {}
    terms = []
    for s_index, (service, cands) in enumerate(candidates.items()):
        columns[service] = [
            Column(candidate=c, var=problem.add_variable(f"x{s_index}_{j}", cat=pulp.LpBinary))
            for j, c in enumerate(cands)
        ]
        covering: list[list[tuple[pulp.LpVariable, int]]] = [[] for _ in pricers[service].ids]
        for column in columns[service]:
            for i in column.candidate.indices:
                covering[i].append((column.var, 1))
            if objective is not None:
                terms.append((column.var, column.candidate.value(objective)))
        for i, pairs in enumerate(covering):
            if not pairs:
                return None
            problem.addConstraint(pulp.LpAffineExpression(pairs) == 1, name=f"cover{s_index}_{i}")
    problem.setObjective(pulp.LpAffineExpression(terms))
    view = ModelView(problem=problem, columns=columns)
    for constraint in constraints:
        constraint.add_rows(view)
    return problem, view


def _all_candidates(consortium, pricers, constraints) -> dict[str, list[Candidate]]:
    return {
        s.id: service_candidates(consortium, pricers[s.id], constraints)
        for s in consortium.services
    }


def _is_feasible(consortium, pricers, constraints, solver: str) -> bool:
    built = build_model(
        pricers, _all_candidates(consortium, pricers, constraints), constraints, None
    )
    return built is not None and solve(built[0], solver).status != "infeasible"


def explain_infeasibility(
    consortium: Consortium, pricers: Mapping[str, ServicePricer], solver: str = "auto"
) -> list[str]:
    """A minimal set of constraints that clash, by deletion filtering.

    Drop each constraint in turn; if the rest is still infeasible it is not
    needed for the clash and stays dropped. What remains is irreducible: remove
    any one and a grouping exists.
    """
    active = list(consortium.constraints)
    for constraint in list(active):
        trial = [c for c in active if c is not constraint]
        if not _is_feasible(consortium, pricers, trial, solver):
            active = trial
    return [c.label for c in active]


def optimise(
    consortium: Consortium,
    registry: Registry,
    *,
    solver: str = "auto",
    time_limit: float | None = None,
    write_model: str | Path | None = None,
    progress: Progress = _quiet,
) -> Result:
    """Optimise every service's grouping; see `Result` for what comes back."""
    started = time.perf_counter()
    solver = pick_solver(solver)
    pricers = make_pricers(consortium, registry)
    candidates = _all_candidates(consortium, pricers, consortium.constraints)
    progress(f"{sum(len(c) for c in candidates.values()):,} candidate groups priced")
    built = build_model(pricers, candidates, consortium.constraints, consortium.objective)
    if built is not None and write_model is not None:
        problem = built[0]
        write_file_atomically(write_model, lambda tmp: problem.writeMPS(tmp))
    outcome = Outcome(status="infeasible", gap=None, solver=solver)
    if built is not None:
        progress(f"solving with {solver}")
        outcome = solve(built[0], solver, time_limit)
    common = {
        "consortium": consortium.name,
        "objective": consortium.objective,
        "kinds": {m.id: m.kind for m in consortium.members},
        "solver": outcome.solver,
    }
    if outcome.status == "infeasible":
        progress("infeasible: looking for the constraints that clash")
        conflicts = explain_infeasibility(consortium, pricers, solver)
        return Result(
            status="infeasible",
            gap=None,
            conflicts=tuple(conflicts),
            seconds=time.perf_counter() - started,
            **common,
        )
    chosen = {
        service: [c.candidate for c in columns if outcome.values.get(c.var.name, 0.0) > 0.5]
        for service, columns in built[1].columns.items()
    }
    services = tuple(
        _service_result(consortium, s.id, s.model, chosen[s.id]) for s in consortium.services
    )
    members = {m.id: 0.0 for m in consortium.members}
    for service in services:
        for group in service.groups:
            for member, share in group.allocation.items():
                members[member] += share
    return Result(
        status=outcome.status,
        gap=outcome.gap,
        services=services,
        members=members,
        seconds=time.perf_counter() - started,
        **common,
    )


def _service_result(
    consortium: Consortium, service: str, model: str, chosen: Sequence[Candidate]
) -> ServiceResult:
    groups = sorted(
        (
            GroupResult(
                members=c.members,
                annual_saving=c.annual_saving,
                transition_cost=c.transition_cost,
                npv=c.npv,
                allocation=c.allocation(),
            )
            for c in chosen
            if c.size >= 2
        ),
        key=lambda g: g.members,
    )
    alone = [c.members[0] for c in chosen if c.size == 1]
    alone += [p.member.id for p in consortium.participants(service) if not p.share]
    return ServiceResult(
        service=service, model=model, groups=tuple(groups), standalone=tuple(sorted(alone))
    )
