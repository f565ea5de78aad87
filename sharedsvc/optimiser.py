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

import concurrent.futures
import contextlib
import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
import pulp

from sharedsvc import fixing, partition_search, relaxation
from sharedsvc.candidates import service_candidates
from sharedsvc.consortium import Consortium
from sharedsvc.costmodel import FlatGroups
from sharedsvc.errors import SolverError, TooLargeError
from sharedsvc.fixing import reduce_relaxation
from sharedsvc.output import write_file_atomically
from sharedsvc.plugins import Registry
from sharedsvc.pricing import Candidate, ServicePricer
from sharedsvc.results import GroupResult, Result, ServiceResult
from sharedsvc.rules import Column, Constraint, ModelView
from sharedsvc.solve import (
    Outcome,
    highs_available,
    pick_solver,
    relative_gap,
    solve,
    solve_highs_model,
)

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
    """The PuLP problem over these services, or None when a member has no allowed group.

    `objective=None` builds a feasibility model (objective zero).
    """
    problem = pulp.LpProblem("sharedsvc", pulp.LpMaximize)
    columns: dict[str, list[Column]] = {}
    terms = []
    for service, cands in candidates.items():
        tag = pricers[service].tag
        columns[service] = [
            Column(candidate=c, var=problem.add_variable(f"x{tag}_{j}", cat=pulp.LpBinary))
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
            problem.addConstraint(pulp.LpAffineExpression(pairs) == 1, name=f"cover{tag}_{i}")
    problem.setObjective(pulp.LpAffineExpression(terms))
    view = ModelView(problem=problem, columns=columns)
    services = list(candidates)
    for constraint in constraints:
        if set(constraint.linked_services(services)) & set(services):
            try:
                constraint.add_rows(view)
            except Exception as exc:  # plugin code: name it
                raise relaxation.rule_failed(constraint, "add_rows", exc) from exc
    return problem, view


def blocks(services: Sequence[str], constraints: Sequence[Constraint]) -> list[list[str]]:
    """Services in groups that constraints tie together; each group is solved on its own."""
    block_of = {s: {s} for s in services}
    for constraint in constraints:
        linked = [s for s in constraint.linked_services(services) if s in block_of]
        merged = set().union(*(block_of[s] for s in linked)) if linked else set()
        for s in merged:
            block_of[s] = merged
    seen: list[set[str]] = []
    for s in services:
        if not any(block_of[s] is b for b in seen):
            seen.append(block_of[s])
    return [[s for s in services if s in b] for b in seen]


def _all_candidates(consortium, pricers, constraints, prune=True) -> dict[str, list[Candidate]]:
    return {
        s.id: service_candidates(consortium, pricers[s.id], constraints, prune=prune).candidates
        for s in consortium.services
    }


def _is_feasible(consortium, pricers, constraints, solver: str) -> bool:
    candidates = _all_candidates(consortium, pricers, constraints)
    for block in blocks(list(candidates), constraints):
        built = build_model(pricers, {s: candidates[s] for s in block}, constraints, None)
        if built is None or solve(built[0], solver).status == "infeasible":
            return False
    return True


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


MINIMUM_BLOCK_SECONDS = 1.0
"""A block reached after the time limit has passed still gets this long to find a plan."""

LARGE_MODEL = 1_000_000
"""Candidate groups above which a run without a time limit is warned it may be long:
1.5 million groups tied by a budget were 1.9% from proven after two minutes."""

MAX_CANDIDATES = 5_000_000
"""Candidate groups kept over all services: each costs about half a kilobyte in memory."""

WORKERS_ENV = "SHAREDSVC_WORKERS"
"""How many blocks are solved at once (default: the CPUs, at most 4; 1 turns it off)."""


def _run_jobs(job: Callable, jobs: list):
    """Run `job` on each item, in threads when there are several and the CPUs to spare.

    The solvers do the work outside Python (CBC in its own process, HiGHS in C++),
    so threads run blocks in parallel. Forked processes would not do: forking after
    HiGHS has started its threads can deadlock.
    """
    workers = int(os.environ.get(WORKERS_ENV, "0") or 0) or min(4, os.cpu_count() or 1)
    if workers < 2 or len(jobs) < 2:
        yield from map(job, jobs)
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        yield from pool.map(job, jobs)


FIXING_MIN_COLUMNS = 3000
"""Blocks with at least this many columns are first shrunk by reduced-cost fixing."""


@attrs.define
class Stopwatch:
    """Seconds spent in the `timing()` blocks: here, building models."""

    seconds: float = 0.0

    @contextlib.contextmanager
    def timing(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started


def _solve_block(pricers, candidates, constraints, objective, solver, limit, progress, building):
    """Solve one block; None when some member has no allowed group (infeasible).

    Every step counts against `limit` (seconds), building included; the time spent
    building models is added to the `building` stopwatch.
    """
    deadline = None if limit is None else time.perf_counter() + limit

    def remaining() -> float | None:
        if deadline is None:
            return None
        return max(MINIMUM_BLOCK_SECONDS, deadline - time.perf_counter())

    columns = sum(len(c) for c in candidates.values())
    built = None
    if columns >= FIXING_MIN_COLUMNS and highs_available():
        rows = relaxation.side_rows(candidates, constraints)
        with building.timing():
            if rows is not None:
                lp = relaxation.from_columns(pricers, candidates, rows, objective)
            else:
                built = build_model(pricers, candidates, constraints, objective)
                lp = None if built is None else relaxation.from_problem(built[0])
        if lp is None:
            return None
        order = _search_order(pricers, candidates, rows)  # `solver` names the MIP solver only
        if order is not None:  # x <= 1 is implied by the rows; without it no reduced cost > 0
            _drop_upper_bounds(lp)
        solved = _solve_by_fixing(
            pricers,
            candidates,
            constraints,
            objective,
            solver,
            lp,
            remaining,
            progress,
            order,
            building,
        )
        if solved is not None:
            return solved
    if built is None:
        with building.timing():
            built = build_model(pricers, candidates, constraints, objective)
        if built is None:
            return None
    problem, view = built
    solver = _block_solver(solver, candidates)
    progress(f"solving {', '.join(candidates)} with {solver}")
    outcome = solve(problem, solver, remaining())
    return outcome, _picked(view, outcome)


def _search_order(pricers, candidates, rows) -> np.ndarray | None:
    """The members' order for the partition search, or None when the block is not one it
    takes: it takes one service without side rows, few enough sharers, and a narrow
    frontier (in practice: grouped by geography)."""
    if rows != [] or len(candidates) != 1:
        return None
    ((service, cands),) = candidates.items()
    members = len(pricers[service].ids)
    if members > partition_search.MAX_MEMBERS:
        return None
    pairs = FlatGroups.of([c.indices for c in cands if c.size == 2])
    order = partition_search.search_order(members, pairs)
    narrow = partition_search.frontier_width(members, pairs, order) <= partition_search.MAX_FRONTIER
    return order if narrow else None


def _drop_upper_bounds(lp: relaxation.Relaxation) -> None:
    """Lift x <= 1 from every column (the partition rows imply it), so that no LP
    reduced cost is positive and the search's bound is as tight as the LP's."""
    import highspy

    count = len(lp.names)
    lp.highs.changeColsBounds(
        count,
        np.arange(count, dtype=np.int32),
        np.zeros(count),
        np.full(count, highspy.kHighsInf),
    )


SEARCH_RESTRICTED_SECONDS = 0.0
"""Before the partition search, the restricted MIP gets this long (none): the search's
own first pass finds as good a plan sooner."""


def _solve_by_fixing(
    pricers,
    candidates,
    constraints,
    objective,
    solver,
    lp,
    remaining,
    progress,
    order,
    building,
):
    """LP, a first plan and reduced-cost fixing, then the search (given its members'
    `order`; None: no search) or the MIP over the groups kept.

    None when the LP stage found no plan: the caller then solves the whole block.
    """
    search = order is not None
    by_name = {
        relaxation.column_name(pricers[s].tag, j): c
        for s, cands in candidates.items()
        for j, c in enumerate(cands)
    }
    singles = {name for name, c in by_name.items() if c.size == 1}
    restricted = SEARCH_RESTRICTED_SECONDS if search else fixing.RESTRICTED_SECONDS
    reduction = reduce_relaxation(lp, singles, remaining(), restricted)
    if search and reduction is not None and reduction.incumbent is None:
        # rounding found no plan (members who may not stay alone): let a MIP find one
        reduction = reduce_relaxation(lp, singles, remaining())
    if reduction is None or reduction.incumbent is None:
        return None
    columns = len(by_name)
    label = ", ".join(candidates)
    progress(
        f"{label}: LP bound {reduction.lp_bound:,.0f}, plan {reduction.incumbent:,.0f}; "
        f"{len(reduction.kept):,} of {columns:,} groups can still improve it "
        f"({reduction.seconds:.1f} s)"
    )
    plan = [by_name[name] for name, v in reduction.incumbent_values.items() if v > 0.5]
    if reduction.proven:
        value = reduction.incumbent
        outcome = Outcome(status="optimal", gap=0.0, solver="highs", objective=value, bound=value)
        return outcome, _by_service(candidates, plan)
    kept_mask = np.array([name in reduction.kept for name in lp.names], dtype=bool)
    lp_bound = reduction.lp_bound
    if search:
        found, found_names, found_value = _search_kept(
            pricers, by_name, lp, np.flatnonzero(kept_mask), reduction, order, remaining, progress
        )
        if found_names is not None and found_value > reduction.incumbent:
            reduction = attrs.evolve(
                reduction,
                incumbent=found_value,
                incumbent_values=dict.fromkeys(found_names, 1.0),
            )
            plan = [by_name[name] for name in found_names]
        incumbent = reduction.incumbent
        lp_bound = min(lp_bound, max(found.bound, incumbent))
        if found.stopped is None or found.stopped == "time":
            outcome = Outcome(
                status="optimal" if found.stopped is None else "feasible",
                gap=0.0 if found.stopped is None else relative_gap(incumbent, lp_bound),
                solver="search",
                objective=incumbent,
                bound=incumbent if found.stopped is None else lp_bound,
            )
            return outcome, _by_service(candidates, plan)
        progress(f"{label}: the search would outgrow memory; solving the groups kept by MIP")
    limit = remaining()
    capped = limit is not None and int(kept_mask.sum()) > TIMED_MIP_MAX_COLUMNS
    if capped:
        # More groups than a MIP searches in the time given: search the most promising
        # (best reduced cost) for a better plan; the LP's bound stays the proven one.
        order = np.argsort(-reduction.reduced_costs, kind="stable")
        promising = order[kept_mask[order]][:TIMED_MIP_MAX_COLUMNS]
        kept_mask = np.zeros(len(lp.names), dtype=bool)
        kept_mask[promising] = True
        kept_mask |= np.array(
            [name in singles or name in reduction.incumbent_values for name in lp.names]
        )
        progress(
            f"{label}: searching the {len(promising):,} most promising of those groups "
            "in the time left; the gap is proven against the LP bound"
        )
    kept_columns = np.flatnonzero(kept_mask)
    kept = _by_service(candidates, [by_name[lp.names[i]] for i in kept_columns])
    solver = _block_solver(solver, kept)
    progress(f"solving {label} with {solver}, starting from that plan")
    if solver == "highs":  # in process, straight from the relaxation: no PuLP model to build
        with building.timing():
            mip = relaxation.restricted_mip(lp, kept_columns)
        run = functools.partial(
            solve_highs_model, mip.highs, mip.names, remaining(), start=reduction.incumbent_values
        )
        view = None
    else:
        in_plan = {id(c) for c in plan}
        with building.timing():
            problem, view = build_model(pricers, kept, constraints, objective)
        for cols in view.columns.values():
            for column in cols:
                column.var.setInitialValue(1 if id(column.candidate) in in_plan else 0)
        run = functools.partial(solve, problem, solver, remaining(), warm_start=True)
    try:
        outcome = run()
    except SolverError:
        if limit is None:
            raise
        outcome = None  # the time ran out before the solver found a plan of its own
    if capped and outcome is not None and outcome.status != "infeasible":
        # optimal over the groups searched, not over all
        outcome = attrs.evolve(
            outcome,
            status="feasible",
            bound=lp_bound,
            gap=relative_gap(outcome.objective, lp_bound),
        )
    tolerance = 1e-9 * max(1.0, abs(reduction.incumbent))
    if outcome is not None and (
        outcome.status == "optimal" or outcome.objective >= reduction.incumbent - tolerance
    ):
        if view is None:
            chosen = [by_name[name] for name, v in outcome.values.items() if v > 0.5]
            return outcome, _by_service(candidates, chosen)
        return outcome, _picked(view, outcome)
    # keep the plan we have: a solver that stopped early must not lose it
    bound = lp_bound if outcome is None else max(outcome.bound, reduction.incumbent)
    outcome = Outcome(
        status="feasible",
        gap=relative_gap(reduction.incumbent, bound),
        solver=solver,
        objective=reduction.incumbent,
        bound=bound,
    )
    return outcome, _by_service(candidates, plan)


def _search_kept(pricers, by_name, lp, kept_columns, reduction, order, remaining, progress):
    """The partition search over the groups fixing kept, from the LP's duals and plan.

    Returns what it proved, and the plan it found (its columns' names, or None) with
    its value.
    """
    groups = [by_name[lp.names[j]] for j in kept_columns]
    service = groups[0].service
    values = np.asarray(lp.highs.getLp().col_cost_)[kept_columns]
    limit = remaining()
    found = partition_search.partition_search(
        len(pricers[service].ids),
        FlatGroups.of([c.indices for c in groups]),
        values,
        reduction.duals,
        reduction.incumbent,
        deadline=None if limit is None else time.perf_counter() + limit,
        progress=lambda message: progress(f"{service}: {message}"),
        order=order,
    )
    if found.columns is None:
        return found, None, None
    names = [lp.names[kept_columns[j]] for j in found.columns]
    return found, names, float(values[found.columns].sum())


def _block_solver(solver: str, candidates: Mapping[str, Sequence[Candidate]]) -> str:
    """The MIP solver for a block: the user's choice, or for "auto" the one measured faster.

    On large single-service blocks HiGHS proved all of England and Wales optimal in
    123 s where CBC stopped at a 0.05% gap after 300 s; on small blocks CBC starts
    faster, and on services tied together by a budget CBC found plans where HiGHS
    found none in the same time (`benchmarks/README.md`). Beyond `PULP_MAX_COLUMNS`
    HiGHS is used in process, as building the PuLP model for CBC would take longer
    than the time most users give.
    """
    if solver != "auto":
        return solver
    columns = sum(len(c) for c in candidates.values())
    if not highs_available():
        return "cbc"
    if columns > PULP_MAX_COLUMNS or (len(candidates) == 1 and columns >= FIXING_MIN_COLUMNS):
        return "highs"
    return "cbc"


TIMED_MIP_MAX_COLUMNS = 100_000
"""With a time limit, the MIP after fixing searches at most this many groups: beyond it
a MIP's presolve alone can outrun the limit (928,000 groups: over 5 minutes)."""

PULP_MAX_COLUMNS = 200_000
"""Above this many groups left after fixing, "auto" solves the block with HiGHS in process."""


def _by_service(
    candidates: Mapping[str, Sequence[Candidate]], chosen: Sequence[Candidate]
) -> dict[str, list[Candidate]]:
    """The chosen candidates of each service, in the block's column order."""
    picked = {id(c) for c in chosen}
    return {s: [c for c in cands if id(c) in picked] for s, cands in candidates.items()}


def _picked(view: ModelView, outcome: Outcome) -> dict[str, list[Candidate]]:
    return {
        service: [c.candidate for c in columns if outcome.values.get(c.var.name, 0.0) > 0.5]
        for service, columns in view.columns.items()
    }


def optimise(
    consortium: Consortium,
    registry: Registry,
    *,
    solver: str = "auto",
    time_limit: float | None = None,
    write_model: str | Path | None = None,
    progress: Progress = _quiet,
    prune: bool = True,
) -> Result:
    """Optimise every service's grouping; see `Result` for what comes back.

    Services that no constraint ties together are solved as separate models;
    the plan is the union of their optima, which is optimal for the whole.
    """
    started = time.perf_counter()
    deadline = None if time_limit is None else started + time_limit
    pick_solver(solver)  # refuse an unknown or missing solver before any work
    pricers = make_pricers(consortium, registry)
    constraints = consortium.constraints
    found = []
    for service in consortium.services:
        started_service = time.perf_counter()
        found.append(service_candidates(consortium, pricers[service.id], constraints, prune=prune))
        progress(
            f"{service.id}: {found[-1].enumerated:,} groups, {len(found[-1].candidates):,} "
            f"kept after pruning ({time.perf_counter() - started_service:.1f} s)"
        )
        kept = sum(len(f.candidates) for f in found)
        if kept > MAX_CANDIDATES:
            raise TooLargeError(
                f"{kept:,} candidate groups after pruning, over {len(found)} services: more "
                f"than sharedsvc holds in memory (the limit is {MAX_CANDIDATES:,}); set "
                "constraints.max_group_size lower, or make services contiguous"
            )
    candidates = {f.service: f.candidates for f in found}
    total = sum(len(c) for c in candidates.values())
    progress(f"{total:,} candidate groups priced")
    if total > LARGE_MODEL and time_limit is None:
        progress(
            f"a large model ({total:,} groups): proving it optimal may take many minutes; "
            "--time-limit returns the best plan found with its proven gap, and "
            "constraints.max_group_size or constraints.contiguous make it smaller"
        )
    if write_model is not None:
        whole = build_model(pricers, candidates, constraints, consortium.objective)
        if whole is not None:
            problem = whole[0]
            # As a minimisation of minus the objective: every MPS reader (CBC 2.10 included)
            # understands that, while OBJSENSE sections are not read everywhere.
            write_file_atomically(
                write_model, lambda tmp: problem.writeMPS(tmp, mpsSense=pulp.LpMinimize)
            )
    common = {
        "consortium": consortium.name,
        "objective": consortium.objective,
        "kinds": {m.id: m.kind for m in consortium.members},
        "solver": solver,
    }
    chosen: dict[str, list[Candidate]] = {}
    outcomes: list[Outcome] = []
    # smallest first, so that the hardest block gets what time is left
    ordered = sorted(
        blocks(list(candidates), constraints), key=lambda b: sum(len(candidates[s]) for s in b)
    )
    priced = time.perf_counter()

    stopwatches: list[Stopwatch] = []

    def job(block: list[str]) -> tuple[Outcome, dict[str, list[int]]] | None:
        limit = None
        if deadline is not None:
            limit = max(MINIMUM_BLOCK_SECONDS, deadline - time.perf_counter())
        block_candidates = {s: candidates[s] for s in block}
        building = Stopwatch()
        stopwatches.append(building)  # one per block: the blocks run in threads
        solved = _solve_block(
            pricers,
            block_candidates,
            constraints,
            consortium.objective,
            solver,
            limit,
            progress,
            building,
        )
        if solved is None:
            return None
        outcome, picked = solved
        positions = {id(c): i for s in block for i, c in enumerate(candidates[s])}
        return (
            attrs.evolve(outcome, values={}),
            {s: [positions[id(c)] for c in picked.get(s, [])] for s in block},
        )

    for solved in _run_jobs(job, ordered):
        if solved is None:
            outcomes.append(Outcome(status="infeasible", gap=None, solver=solver))
            break
        outcome, picked = solved
        outcomes.append(outcome)
        if outcome.status == "infeasible":
            break
        chosen.update({s: [candidates[s][i] for i in picks] for s, picks in picked.items()})
    stats = {
        "groups_enumerated": sum(f.enumerated for f in found),
        "groups_pruned": sum(f.pruned_worthless + f.pruned_dominated for f in found),
        "candidates": sum(len(c) for c in candidates.values()),
        "blocks": len(ordered),
        "price_seconds": priced - started,
        "build_seconds": sum(watch.seconds for watch in stopwatches),
        "solve_seconds": time.perf_counter() - priced,
    }
    common["solver"] = "+".join(sorted({o.solver for o in outcomes if o.solver})) or solver
    if any(o.status == "infeasible" for o in outcomes):
        progress("infeasible: looking for the constraints that clash")
        conflicts = explain_infeasibility(consortium, pricers, solver)
        return Result(
            status="infeasible",
            gap=None,
            conflicts=tuple(conflicts),
            seconds=time.perf_counter() - started,
            **common,
        )
    optimal = all(o.status == "optimal" for o in outcomes)
    gap = (
        0.0
        if optimal
        else relative_gap(sum(o.objective for o in outcomes), sum(o.bound for o in outcomes))
    )
    services = tuple(
        _service_result(consortium, s.id, s.model, chosen[s.id]) for s in consortium.services
    )
    members = {m.id: 0.0 for m in consortium.members}
    for service in services:
        for group in service.groups:
            for member, share in group.allocation.items():
                members[member] += share
    return Result(
        stats=stats,
        status="optimal" if optimal else "feasible",
        gap=gap,
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
