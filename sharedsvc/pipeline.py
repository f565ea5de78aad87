"""The run: price -> candidates -> blocks -> solve -> results (-> why, when infeasible).

Each stage is a module of its own; this one only strings them together, keeps
the clock and the statistics, and assembles the `Result`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pulp

from sharedsvc import explain
from sharedsvc.constants import SolvedBy, Status
from sharedsvc.errors import PluginError, SolverError, TooLargeError
from sharedsvc.fairness.assess import Assessment, assess
from sharedsvc.fairness.stable import stable_plan
from sharedsvc.model import validate
from sharedsvc.model.consortium import Consortium
from sharedsvc.output import write_file_atomically
from sharedsvc.plugins import Registry
from sharedsvc.pricing.candidates import (
    Candidate,
    Enumerated,
    ServiceCandidates,
    service_candidates,
)
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.results import Cash, GroupResult, Result, RunStats, ServiceResult
from sharedsvc.settings import Settings
from sharedsvc.solver.backends import Outcome, backend, relative_gap
from sharedsvc.solver.basis import Bases
from sharedsvc.solver.blocks import Stopwatch, blocks, run_jobs
from sharedsvc.solver.build import build_model
from sharedsvc.solver.strategy import Block, BlockSolution, everyone_alone, solve_block
from sharedsvc.stopping import StopToken
from sharedsvc.wording import counted

Progress = Callable[[str], None]


def quiet(message: str) -> None:
    """The default progress callback: say nothing."""


def _priced_message(found: ServiceCandidates, seconds: float) -> str:
    """``payments: 11 groups of two or more allowed, 4 kept after pruning (0.0 s)``."""
    kept = sum(1 for c in found.candidates if c.size > 1)
    groups = counted(found.enumerated, "group")
    return (
        f"{found.service}: {groups} of two or more allowed, {kept:,} kept after pruning "
        f"({seconds:.1f} s)"
    )


def make_pricers(
    consortium: Consortium, registry: Registry, settings: Settings
) -> dict[str, ServicePricer]:
    """A pricer per service; a `PluginError` when this registry lacks a service's model
    (a consortium loaded by another engine, with a plugin this one does not have)."""
    missing = sorted({s.model for s in consortium.services} - set(registry.cost_models))
    if missing:
        known = ", ".join(sorted(registry.cost_models)) or "none"
        raise PluginError(
            f"cost model {', '.join(map(repr, missing))} is not registered with this engine "
            f"(it has {known}); optimise with the engine that loaded the consortium, or "
            "register the plugin that provides it"
        )
    return {
        s.id: ServicePricer(
            consortium,
            s.id,
            registry.cost_models[s.model],
            registry.owner_of_model(s.model),
            max_shapley_size=settings.max_shapley_size,
        )
        for s in consortium.services
    }


@attrs.define
class Warm:
    """What a run keeps for the next runs of the same consortium under other figures
    (re-optimised draws, `uncertainty/simulate.py`).

    A service whose inputs (its parameters and its participants' fields) are as in the
    first run is not priced again, and a block of such services is not solved again:
    it is the same problem. Other services are priced again, from the groups already
    enumerated when no constraint judges groups by a figure, and their blocks solved
    to the same proof, starting from the first run's LP basis. So a warm run finds
    what a cold one finds. Everything is forgotten when anything else changes (the
    members, constraints, appraisal settings or `Settings`)."""

    frame: tuple | None = None
    groups: dict[str, Enumerated] = attrs.Factory(dict)
    priced: dict[str, tuple[tuple, ServiceCandidates]] = attrs.Factory(dict)
    solved: dict[str, tuple[tuple, BlockSolution]] = attrs.Factory(dict)
    bases: Bases = attrs.Factory(Bases)

    def fit(self, consortium: Consortium, settings: Settings) -> None:
        """Start afresh unless `consortium` differs from the last only in its services'
        parameters and participants' fields, under the same settings."""
        frame = (attrs.evolve(consortium, participations=(), services=()), settings)
        if frame != self.frame:
            self.frame = frame
            self.groups.clear()
            self.priced.clear()
            self.solved.clear()
            self.bases.saved.clear()

    @staticmethod
    def inputs(consortium: Consortium, service: str) -> tuple:
        """Everything a service's pricing reads that a draw may change."""
        return consortium.service(service), consortium.participants(service)


def optimise(
    consortium: Consortium,
    registry: Registry,
    settings: Settings,
    *,
    progress: Progress = quiet,
    write_model: str | Path | None = None,
    stop: StopToken | None = None,
    warm: Warm | None = None,
) -> Result:
    """Optimise every service's grouping; see `Result` for what comes back.

    `stop` (set by a signal handler or the embedder) ends the run at the next step
    with `Interrupted`, its solvers ended and nothing written. `warm` carries what
    runs of this consortium under other figures may share (`Warm`), and is updated.
    """
    stop = StopToken() if stop is None else stop
    started = time.perf_counter()
    validate.check(consortium, max_shapley_size=settings.max_shapley_size)
    if warm is not None:
        warm.fit(consortium, settings)
    backend(settings.solver)  # refuse an unknown or missing solver before any work
    deadline = None if settings.time_limit is None else started + settings.time_limit
    pricers = make_pricers(consortium, registry, settings)
    constraints = consortium.constraints
    if consortium.uncertain:
        count = len(consortium.uncertain)
        said = "1 input is a distribution" if count == 1 else f"{count} inputs are distributions"
        progress(
            f"{said}: optimising at their central "
            "values (the mode of a triangular or PERT, the mean otherwise); `sharedsvc "
            "simulate` draws from them"
        )
    # the model file is the whole model: with --write-model every service is priced
    pricing_deadline = None if write_model is not None else deadline
    found, unpriced = _price(
        consortium, pricers, settings, progress, stop, pricing_deadline, warm=warm
    )
    candidates = {f.service: f.candidates for f in found}
    total = sum(len(c) for c in candidates.values())
    progress(f"{total:,} candidate groups priced")
    if total > settings.large_model and settings.time_limit is None:
        progress(
            f"a large model ({total:,} groups): proving it optimal may take many minutes; "
            "--time-limit returns the best plan found with its proven gap, and "
            "constraints.max_group_size or constraints.contiguous make it smaller"
        )
    if write_model is not None:
        _write_model(write_model, pricers, candidates, consortium)
    priced = time.perf_counter()
    stopwatches: list[Stopwatch] = []

    def solve_with(constraints) -> tuple[dict[str, list[Candidate]], list[Outcome], set[str]]:
        """Solve every block under `constraints`: the plan, the blocks' outcomes, and the
        services the time limit left untouched."""
        ordered = sorted(  # smallest first, so that the hardest block gets what time is left
            blocks(list(candidates), constraints), key=lambda b: sum(len(candidates[s]) for s in b)
        )
        if settings.thread_count() > 1 and len(ordered) > 2:
            # ...but with threads to spare, the largest starts at once on one of them (on
            # England and Wales its MIP, SEN transport's, waited 16 s for the HR block)
            ordered = [ordered[-1], *ordered[:-1]]

        def job(services: list[str]) -> BlockSolution | None:
            block_deadline = None
            late = False
            if deadline is not None:
                late = time.perf_counter() >= deadline
                block_deadline = max(time.perf_counter() + settings.minimum_block_seconds, deadline)
            building = Stopwatch()
            stopwatches.append(building)  # one per block: the blocks run in threads
            block = Block(
                pricers=pricers,
                candidates={s: candidates[s] for s in services},
                constraints=constraints,
                objective=consortium.objective,
                settings=settings,
                progress=progress,
                deadline=block_deadline,
                building=building,
                stop=stop,
                bases=None if warm is None else warm.bases,
            )
            if any(s in unpriced for s in services) or (
                late and block.columns >= settings.fixing_min_columns
            ):
                # reached after the time limit (or not priced): no time to solve a large
                # block, so every member alone where that is a plan; its bound is unknown
                fallback = everyone_alone(block)
                if fallback is not None:
                    progress(f"{block.label}: out of time; every member alone")
                    return fallback
                missed = [s for s in services if s in unpriced]
                if missed:  # solving its members alone would call the constraints infeasible
                    raise SolverError(
                        f"the time limit of {settings.time_limit:g} s came before "
                        f"{', '.join(missed)} could be priced, and leaving every member alone "
                        "is not a plan there; allow more time with --time-limit"
                    )
            if warm is None or any(s in unpriced for s in services):
                return solve_block(block)
            key = (tuple(Warm.inputs(consortium, s) for s in services), tuple(constraints))
            kept = warm.solved.get(block.label)
            if kept is not None and kept[0] == key:
                progress(f"{block.label}: as in the first run (the same inputs)")
                return kept[1]
            solved = solve_block(block)
            if solved is not None:
                warm.solved.setdefault(block.label, (key, solved))
            return solved

        chosen: dict[str, list[Candidate]] = {}
        outcomes: list[Outcome] = []
        untouched: set[str] = set()
        for solved in run_jobs(job, ordered, settings.thread_count(), stop):
            if solved is None:
                outcomes.append(Outcome(status=Status.INFEASIBLE, gap=None, solver=settings.solver))
                break
            outcomes.append(solved.outcome)
            if solved.outcome.status == Status.INFEASIBLE:
                break
            chosen.update(
                {s: [candidates[s][j] for j in positions] for s, positions in solved.picked.items()}
            )
            if solved.outcome.solver == SolvedBy.TIME_LIMIT:
                untouched.update(solved.picked)
        return chosen, outcomes, untouched

    ordered = blocks(list(candidates), constraints)
    chosen, outcomes, untouched = solve_with(constraints)
    stability_cost = 0.0
    if consortium.settings.get("stability", "none") == "core" and not any(
        o.status == Status.INFEASIBLE for o in outcomes
    ):
        found_stable = stable_plan(
            consortium,
            pricers,
            {f.service: f.game for f in found},
            chosen,
            solve_with,
            progress,
        )
        if not found_stable.exists:
            return Result(
                status=Status.INFEASIBLE,
                gap=None,
                conflicts=(found_stable.why,),
                seconds=time.perf_counter() - started,
                **_common(consortium, outcomes, settings),
            )
        stability_cost = found_stable.given_up
        if found_stable.plan is not None:
            chosen, outcomes, untouched = found_stable.plan
    stats = RunStats(
        groups_enumerated=sum(f.enumerated for f in found),
        groups_pruned=sum(f.pruned_worthless + f.pruned_dominated for f in found),
        candidates=total,
        blocks=len(ordered),
        price_seconds=priced - started,
        build_seconds=sum(watch.seconds for watch in stopwatches),
        solve_seconds=time.perf_counter() - priced,
    )
    common = _common(consortium, outcomes, settings)
    if any(o.status == Status.INFEASIBLE for o in outcomes):
        progress("infeasible: looking for the constraints that clash")
        explain_by = None
        if deadline is not None:  # explaining counts against the limit too
            explain_by = max(deadline, time.perf_counter() + settings.minimum_block_seconds)
        conflicts = explain.clashing_constraints(
            consortium, pricers, settings, stop, deadline=explain_by
        )
        return Result(
            status=Status.INFEASIBLE,
            gap=None,
            conflicts=tuple(conflicts),
            seconds=time.perf_counter() - started,
            **common,
        )
    optimal = all(o.status == Status.OPTIMAL for o in outcomes)
    bound = sum(o.bound for o in outcomes)
    if optimal:
        gap: float | None = 0.0
    elif math.isinf(bound) or any(o.gap is None for o in outcomes):
        gap = None  # some block has no proven bound (the time limit came first)
    else:
        gap = relative_gap(sum(o.objective for o in outcomes), bound)
    unfinished = tuple(
        s for s in (x.id for x in consortium.services) if s in unpriced or s in untouched
    )
    games = {f.service: f.game for f in found}
    listed = {f.service: f.candidates for f in found if f.service not in unpriced}
    progress("checking whether any coalition would walk away")
    assessing = time.perf_counter()
    services = tuple(
        _service_result(
            consortium,
            pricers[s.id],
            chosen[s.id],
            assess(
                pricers[s.id],
                chosen[s.id],
                games.get(s.id),
                assessed=settings.assess_stability and s.id not in unfinished,
            ),
            listed.get(s.id),
        )
        for s in consortium.services
    )
    stats = attrs.evolve(stats, assess_seconds=time.perf_counter() - assessing)
    members = {m.id: 0.0 for m in consortium.members}
    for service in services:
        for group in service.groups:
            for member, share in group.allocation.items():
                members[member] += share
    return Result(
        stats=stats,
        horizon_years=consortium.horizon_years,
        stability_cost=stability_cost,
        allocation=str(consortium.allocation),
        optimism_bias=consortium.optimism_bias.to_dict() if consortium.optimism_bias.any else {},
        count_non_cashable=consortium.count_non_cashable,
        uncertain=tuple(u.path for u in consortium.uncertain),
        discount_rate=consortium.discount_rate,
        status=Status.OPTIMAL if optimal else Status.FEASIBLE,
        gap=gap,
        bound=None if math.isinf(bound) or gap is None else bound,
        services=services,
        members=members,
        unfinished=unfinished,
        seconds=time.perf_counter() - started,
        **common,
    )


def _common(consortium: Consortium, outcomes: Sequence[Outcome], settings: Settings) -> dict:
    """The fields every result carries, solved or not."""
    return {
        "consortium": consortium.name,
        "scenario": consortium.scenario,
        "objective": consortium.objective,
        "kinds": {m.id: m.kind for m in consortium.members},
        "participation": {
            m.id: tuple(p.service for p in consortium.participations if p.member.id == m.id)
            for m in consortium.members
        },
        "solver": "+".join(sorted({str(o.solver) for o in outcomes if o.solver}))
        or settings.solver,
    }


def _price(
    consortium: Consortium,
    pricers: dict[str, ServicePricer],
    settings: Settings,
    progress: Progress,
    stop: StopToken,
    deadline: float | None,
    *,
    warm: Warm | None = None,
) -> tuple[list[ServiceCandidates], set[str]]:
    """Each service's priced candidates, refused when they outgrow memory; and the
    services the time limit left unpriced (they get their members alone only)."""
    found: list[ServiceCandidates] = []
    unpriced: set[str] = set()
    for service in consortium.services:
        stop.check()
        started = time.perf_counter()
        late = deadline is not None and started >= deadline
        if late:
            unpriced.add(service.id)
        inputs = None if warm is None else Warm.inputs(consortium, service.id)
        kept = None if warm is None or late else warm.priced.get(service.id)
        if kept is not None and kept[0] == inputs:
            found.append(kept[1])
            progress(f"{service.id}: priced as in the first run (the same inputs)")
            continue
        found.append(
            service_candidates(
                consortium,
                pricers[service.id],
                consortium.constraints,
                prune=settings.prune,
                max_groups=settings.max_groups_per_service,
                with_groups=not late,
                enumerated=None if warm is None else warm.groups.get(service.id),
            )
        )
        enumeration = found[-1].enumeration
        if warm is not None and not late:
            warm.priced.setdefault(service.id, (inputs, found[-1]))
            if enumeration is not None and enumeration.reusable:
                warm.groups[service.id] = enumeration
        if late:
            progress(f"{service.id}: not priced, the time limit came first")
            continue
        progress(_priced_message(found[-1], time.perf_counter() - started))
        kept = sum(len(f.candidates) for f in found)
        if kept > settings.max_candidates:
            raise TooLargeError(
                f"{kept:,} candidate groups after pruning, over {len(found)} services: more "
                f"than sharedsvc holds in memory (the limit is {settings.max_candidates:,}); "
                "set constraints.max_group_size lower, or make services contiguous"
            )
    return found, unpriced


def _write_model(path, pricers, candidates, consortium: Consortium) -> None:
    whole = build_model(pricers, candidates, consortium.constraints, consortium.objective)
    if whole is None:
        return
    # As a minimisation of minus the objective: every MPS reader (CBC 2.10 included)
    # understands that, while OBJSENSE sections are not read everywhere.
    write_file_atomically(path, lambda tmp: whole.problem.writeMPS(tmp, mpsSense=pulp.LpMinimize))


SHARE_FALSE = "share = false"
NO_SAVING = "no allowed group gains by having it"
LEFT_ALONE = "groups with it are worth less than this plan"
NOT_PRICED = "not priced before the time limit"


def why_alone(
    consortium: Consortium,
    service: str,
    chosen: Sequence[Candidate],
    candidates: Sequence[Candidate] | None,
) -> dict[str, str]:
    """Why each member the plan leaves alone is alone, from the service's candidates
    (after the rules and pruning): its own choice; no allowed group gains by having it
    (each was worth nothing, or pruned because the group without it does as well, or
    refused by a rule on figures such as individual_gain); or a plan that is worth more
    without it (the constraints or the other groups: `sharedsvc explain` says which)."""
    reasons = {p.member.id: SHARE_FALSE for p in consortium.participants(service) if not p.share}
    alone = [c.members[0] for c in chosen if c.size == 1]
    if candidates is None:
        return reasons | {m: NOT_PRICED for m in alone}
    worth = {m: False for m in alone}
    objective = consortium.objective
    for c in candidates:
        if c.size > 1 and c.value(objective) > 0:
            for m in c.members:
                if m in worth:
                    worth[m] = True
    return reasons | {m: LEFT_ALONE if w else NO_SAVING for m, w in worth.items()}


def _service_result(
    consortium: Consortium,
    pricer: ServicePricer,
    chosen: Sequence[Candidate],
    assessment: Assessment,
    candidates: Sequence[Candidate] | None,
) -> ServiceResult:
    service = pricer.service
    blocking = assessment.blocking_positions
    profile = pricer.cash_flows

    def flows(c: Candidate) -> dict[str, tuple[float, ...]]:
        standalone = float(sum(pricer.standalone[i] for i in c.indices))
        undiscounted = profile.flows(c.annual_saving, standalone, c.transition_cost)
        return {
            "cash_flows": tuple(undiscounted.tolist()),
            "discounted": tuple(profile.discounted(undiscounted).tolist()),
        }

    formed = [c for c in chosen if c.size >= 2]
    unadjusted: dict[tuple[int, ...], Cash] = {}
    if pricer.bias.any and formed:
        before = pricer.figures([c.indices for c in formed], adjusted=False)
        unadjusted = {
            c.indices: Cash(npv=n, annual_saving=a, transition_cost=t)
            for c, n, a, t in zip(
                formed,
                before.npv.tolist(),
                before.saving.tolist(),
                before.transition.tolist(),
                strict=True,
            )
        }
    non_cash: dict[tuple[int, ...], float] = {}
    if formed:
        priced = pricer.figures([c.indices for c in formed])
        if priced.non_cashable is not None:
            non_cash = dict(
                zip((c.indices for c in formed), priced.non_cashable.tolist(), strict=True)
            )
    count = pricer.count_non_cashable
    cash = dict(assessment.cash)
    for c in formed:
        value = non_cash.get(c.indices, 0.0)
        if not value:
            continue
        for i in c.indices:
            member = pricer.ids[i]
            share = cash[member].annual_saving / c.annual_saving if c.annual_saving else 1 / c.size
            cash[member] = attrs.evolve(
                cash[member],
                non_cashable_value=value * share,
                non_cashable_counted=count * value * share,
            )
    groups = sorted(
        (
            GroupResult(
                members=c.members,
                annual_saving=c.annual_saving,
                transition_cost=c.transition_cost,
                npv=c.npv,
                allocation=assessment.allocations[c.indices],
                stable=None if assessment.stability is None else not (blocking & set(c.indices)),
                unadjusted=unadjusted.get(c.indices),
                non_cashable_value=non_cash.get(c.indices, 0.0),
                non_cashable_counted=count * non_cash.get(c.indices, 0.0),
                **flows(c),
            )
            for c in chosen
            if c.size >= 2
        ),
        key=lambda g: g.members,
    )
    alone = [c.members[0] for c in chosen if c.size == 1]
    alone += [p.member.id for p in consortium.participants(service.id) if not p.share]
    return ServiceResult(
        service=service.id,
        model=service.model,
        groups=tuple(groups),
        standalone=tuple(sorted(alone)),
        stability=assessment.stability,
        cash=cash,
        standalone_costs=dict(pricer.standalone_by_member),
        why_alone=why_alone(consortium, service.id, chosen, candidates),
    )
