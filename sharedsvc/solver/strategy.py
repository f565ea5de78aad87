"""How one block is solved: LP and reduced-cost fixing, the partition search, or a MIP.

Small blocks go straight to a MIP solver. Large ones are first relaxed (from arrays
when the constraints give their rows as arrays), shrunk by reduced-cost fixing
from a first plan, then finished by the partition search inside the LP gap (one
service, no side rows, a narrow frontier) or by a MIP over the groups kept. Each
step is exact; `docs/optimiser.md` says why, and which solver "auto" picks.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np

from sharedsvc.constants import Objective, SearchStop, SolvedBy, Solver, Status
from sharedsvc.errors import SolverError
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.rules import Constraint, LinearRow
from sharedsvc.settings import Settings
from sharedsvc.solver import (
    bundles,
    fixing,
    lagrange,
    level_search,
    levels,
    relaxation,
    search,
    window,
)
from sharedsvc.solver.backends import (
    Cbc,
    Highs,
    Outcome,
    highs_available,
    new_highs,
    relative_gap,
    solve,
)
from sharedsvc.solver.basis import Bases
from sharedsvc.solver.blocks import Stopwatch
from sharedsvc.solver.build import build_model
from sharedsvc.solver.names import column_name
from sharedsvc.stopping import StopToken

Progress = Callable[[str], None]
Picked = dict[str, list[int]]
"""The positions of the chosen candidates of each service of a block."""


@attrs.frozen(kw_only=True)
class Block:
    """One block to solve, with everything its steps read."""

    pricers: Mapping[str, ServicePricer]
    """Each service's pricer (of which the solver reads `tag` and `ids`; a bundle solved as
    one service has a `bundles.Sharers` instead)."""
    candidates: Mapping[str, Sequence[Candidate]]
    """The block's services, each with its candidates in column order."""
    constraints: Sequence[Constraint]
    objective: Objective
    settings: Settings
    progress: Progress
    deadline: float | None
    """When the block's time is up (perf_counter seconds); None: no limit."""
    building: Stopwatch
    """Time spent building models is added here."""
    stop: StopToken = attrs.field(factory=StopToken)
    """Checked between steps and by the solvers: a stop ends the block at once."""
    bases: Bases | None = None
    """LP bases kept from earlier solves of this block under other prices, to start from."""

    @property
    def label(self) -> str:
        return ", ".join(self.candidates)

    @property
    def columns(self) -> int:
        return sum(len(c) for c in self.candidates.values())

    def remaining(self) -> float | None:
        """Seconds left, never less than `Settings.minimum_block_seconds`; None: no limit."""
        if self.deadline is None:
            return None
        return max(self.settings.minimum_block_seconds, self.deadline - time.perf_counter())

    def names(self) -> dict[str, tuple[str, int]]:
        """Each column's name -> (service, position)."""
        return {
            column_name(self.pricers[s].tag, j): (s, j)
            for s, cands in self.candidates.items()
            for j in range(len(cands))
        }


@attrs.frozen(kw_only=True)
class BlockSolution:
    outcome: Outcome
    """With no variable values: the plan is `picked`."""
    picked: Picked


def solve_block(block: Block) -> BlockSolution | None:
    """Solve one block; None when some member has no allowed group (infeasible).

    Every step counts against the block's deadline, building included.
    """
    try:
        return _solve_block(block)
    except SolverError:
        if block.deadline is None:
            raise
        # the time ran out before a solver found any plan: every member alone, if allowed
        fallback = everyone_alone(block)
        if fallback is None:
            raise
        block.progress(f"{block.label}: no plan within the time limit; every member alone")
        return fallback


def _solve_block(block: Block) -> BlockSolution | None:
    if block.settings.decompose:
        merged = bundles.merge(
            block.pricers, block.candidates, block.constraints, relaxation.side_rows
        )
        if merged is not None:  # each bundle as one service (`solver/bundles.py`)
            for bundle in merged.bundles:
                block.progress(
                    f"{', '.join(bundle.services)}: solved as one service "
                    "(the bundle gives them identical groupings)"
                )
            solved = _solve_block(
                attrs.evolve(
                    block,
                    pricers=merged.pricers,
                    candidates=merged.candidates,
                    constraints=merged.constraints,
                    bases=None,
                )
            )
            if solved is None:
                return None
            return attrs.evolve(solved, picked=merged.unmerge(solved.picked))
    return _solve_unmerged(block)


def _solve_unmerged(block: Block) -> BlockSolution | None:
    settings = block.settings
    block.stop.check()
    built = None
    if block.columns >= settings.fixing_min_columns and highs_available():
        rows = relaxation.side_rows(block.candidates, block.constraints)
        lp_started = time.perf_counter()
        with block.building.timing():
            if rows is not None:
                lp = relaxation.from_columns(block.pricers, block.candidates, rows, block.objective)
            else:
                built = build_model(
                    block.pricers, block.candidates, block.constraints, block.objective
                )
                lp = None if built is None else relaxation.from_problem(built.problem)
        if lp is None:
            return None
        order = search_order(block, rows) if settings.search else None
        if order is not None:  # x <= 1 is implied by the rows; without it no reduced cost > 0
            _drop_upper_bounds(lp)
        if block.bases is not None:  # the whole LP, from the basis kept (no sifting)
            block.bases.restore(block.label, lp.highs, lp.names)
            block = attrs.evolve(block, settings=attrs.evolve(settings, sift_min_columns=2**62))
        if rows and settings.decompose and block.bases is None:
            solution = relaxation.solve_lp(
                lp, block.remaining(), block.stop, sift_min_columns=settings.sift_min_columns
            )
            if solution.status == "infeasible":
                return None
            if solution.optimal:
                return _solve_decomposed(block, lp, rows, time.perf_counter() - lp_started)
        solved = _solve_by_fixing(block, lp, order)
        if block.bases is not None:
            block.bases.save(block.label, lp.highs, lp.names)
        if solved is not None:
            return solved
        if block.deadline is not None and time.perf_counter() >= block.deadline:
            # out of time before the LP gave a plan: building the whole model now would
            # overrun the limit by far (a PuLP model of 80,000 groups: tens of seconds)
            raise SolverError(f"no plan for {block.label} within the time limit")
    block.stop.check()
    if built is None:
        with block.building.timing():
            built = build_model(block.pricers, block.candidates, block.constraints, block.objective)
        if built is None:
            return None
    solver = block_solver(block.settings, block.candidates)
    block.progress(f"solving {block.label} with {solver}")
    outcome = _solve_pulp(block, built.problem, solver, block.remaining())
    return BlockSolution(outcome=_without_values(outcome), picked=built.picked(outcome))


def everyone_alone(block: Block, bound: float = math.inf) -> BlockSolution | None:
    """The plan that leaves every sharer alone, if the constraints allow it: each has a
    group of one, and every side row holds with no group formed. `bound` is what is
    known of the optimum (infinite: nothing). None when it is not a plan, or the rows
    cannot be checked without building the model."""
    picked: Picked = {}
    for service, cands in block.candidates.items():
        singles = {c.indices[0]: j for j, c in enumerate(cands) if c.size == 1}
        if len(singles) != len(block.pricers[service].ids):
            return None  # a member may not stay alone (must_share)
        picked[service] = sorted(singles.values())
    rows = relaxation.side_rows(block.candidates, block.constraints)
    if rows is None:
        return None
    for row in rows:
        activity = sum(
            float(np.asarray(coefficients, dtype=float)[picked[service]].sum())
            for service, coefficients in row.coefficients.items()
        )
        slack = 1e-9 * max(1.0, abs(activity))
        if not row.lower - slack <= activity <= row.upper + slack:
            return None
    outcome = Outcome(
        status=Status.FEASIBLE,
        gap=None if math.isinf(bound) else relative_gap(0.0, bound),
        solver=SolvedBy.TIME_LIMIT,
        objective=0.0,
        bound=bound,
    )
    return BlockSolution(outcome=outcome, picked=picked)


def _solve_pulp(block: Block, problem, solver: Solver, time_limit, warm_start=False) -> Outcome:
    return solve(
        problem,
        solver,
        time_limit,
        warm_start,
        highs_time_share=block.settings.highs_time_share,
        stop=block.stop,
    )


def _without_values(outcome: Outcome) -> Outcome:
    return attrs.evolve(outcome, values={})


def search_order(block: Block, rows: list[LinearRow] | None) -> np.ndarray | None:
    """The members' order for the partition search, or None when the block is not one it
    takes: it takes one service without side rows, few enough sharers, and a narrow
    frontier (in practice: grouped by geography)."""
    if rows != [] or len(block.candidates) != 1:
        return None
    ((service, cands),) = block.candidates.items()
    members = len(block.pricers[service].ids)
    if members > search.MAX_MEMBERS:
        return None
    pairs = FlatGroups.of([c.indices for c in cands if c.size == 2])
    order = search.search_order(members, pairs)
    width = search.frontier_width(members, pairs, order)
    return order if width <= block.settings.search_max_frontier else None


def _drop_upper_bounds(lp: relaxation.Relaxation) -> None:
    """Lift x <= 1 from every column (the partition rows imply it), so that no LP
    reduced cost is positive and the search's bound is as tight as the LP's."""
    import highspy

    lp.set_upper_bounds(np.full(len(lp.names), highspy.kHighsInf))


@attrs.frozen(kw_only=True)
class _Found:
    """What the partition search proved, and the plan it found (column names) if any."""

    search: search.Search
    names: list[str] | None = None
    value: float | None = None


def _solve_by_fixing(
    block: Block,
    lp: relaxation.Relaxation,
    order: np.ndarray | None,
    *,
    finish: bool = True,
    restricted: float | None = None,
) -> BlockSolution | None:
    """LP, a first plan and reduced-cost fixing, then the search (given its members'
    `order`; None: no search) or the MIP over the groups kept. Without `finish`, no MIP
    after fixing: the plan found with the LP's bound. `restricted`: seconds for the
    restricted MIP (default from the settings).

    None when the LP stage found no plan: the caller then solves the whole block.
    """
    settings = block.settings
    searching = order is not None
    by_name = block.names()
    singles = {name for name, (s, j) in by_name.items() if block.candidates[s][j].size == 1}
    if restricted is None:
        restricted = (
            settings.search_restricted_seconds if searching else settings.restricted_seconds
        )
    reduction = fixing.reduce_relaxation(
        lp, singles, block.remaining(), restricted, settings=settings, stop=block.stop
    )
    if searching and reduction is not None and reduction.incumbent is None:
        # rounding found no plan (members who may not stay alone): let a MIP find one
        reduction = fixing.reduce_relaxation(
            lp, singles, block.remaining(), settings=settings, stop=block.stop
        )
    if reduction is None or reduction.incumbent is None:
        return None
    label = block.label
    block.progress(_bound_message(label, reduction, len(by_name)))
    plan = [name for name, v in reduction.incumbent_values.items() if v > 0.5]
    if reduction.proven:
        value = reduction.incumbent
        outcome = Outcome(
            status=Status.OPTIMAL, gap=0.0, solver=SolvedBy.HIGHS, objective=value, bound=value
        )
        return BlockSolution(outcome=outcome, picked=_picked(block, by_name, plan))
    kept_mask = np.array([name in reduction.kept for name in lp.names], dtype=bool)
    lp_bound = reduction.lp_bound
    if searching:
        found = _search_kept(block, by_name, lp, np.flatnonzero(kept_mask), reduction, order)
        if found.names is not None and found.value > reduction.incumbent:
            reduction = attrs.evolve(
                reduction,
                incumbent=found.value,
                incumbent_values=dict.fromkeys(found.names, 1.0),
            )
            plan = found.names
        incumbent = reduction.incumbent
        stopped = found.search.stopped
        lp_bound = min(lp_bound, max(found.search.bound, incumbent))
        if stopped is None or stopped == SearchStop.TIME:
            outcome = Outcome(
                status=Status.OPTIMAL if stopped is None else Status.FEASIBLE,
                gap=0.0 if stopped is None else relative_gap(incumbent, lp_bound),
                solver=SolvedBy.SEARCH,
                objective=incumbent,
                bound=incumbent if stopped is None else lp_bound,
            )
            return BlockSolution(outcome=outcome, picked=_picked(block, by_name, plan))
        block.progress(f"{label}: the search would outgrow memory; solving the groups kept by MIP")
    limit = block.remaining()
    if not finish or (block.deadline is not None and time.perf_counter() >= block.deadline):
        # out of time: keep fixing's plan, proven against the LP bound (a MIP's presolve
        # alone ran 80 s past a 2 s limit on 83,000 groups)
        block.progress(f"{label}: out of time; keeping that plan")
        outcome = Outcome(
            status=Status.FEASIBLE,
            gap=relative_gap(reduction.incumbent, lp_bound),
            solver=SolvedBy.HIGHS,
            objective=reduction.incumbent,
            bound=lp_bound,
        )
        return BlockSolution(outcome=outcome, picked=_picked(block, by_name, plan))
    capped = limit is not None and int(kept_mask.sum()) > settings.timed_mip_max_columns
    if capped:
        # More groups than a MIP searches in the time given: search the most promising
        # (best reduced cost) for a better plan; the LP's bound stays the proven one.
        ranked = np.argsort(-reduction.reduced_costs, kind="stable")
        promising = ranked[kept_mask[ranked]][: settings.timed_mip_max_columns]
        kept_mask = np.zeros(len(lp.names), dtype=bool)
        kept_mask[promising] = True
        kept_mask |= np.array(
            [name in singles or name in reduction.incumbent_values for name in lp.names]
        )
        block.progress(
            f"{label}: searching the {len(promising):,} most promising of those groups "
            "in the time left; the gap is proven against the LP bound"
        )
    kept_columns = np.flatnonzero(kept_mask)
    # in the block's column order (a PuLP-built LP lists its columns by name)
    kept_positions = sorted(by_name[lp.names[i]] for i in kept_columns)
    kept = {
        s: [block.candidates[s][j] for service, j in kept_positions if service == s]
        for s in block.candidates
    }
    solver = block_solver(settings, kept)
    by_mps = capped and solver == Solver.HIGHS and settings.solver == Solver.AUTO
    if by_mps:
        # HiGHS's presolve spent 95 to 135 s on London's payments and HR (100,000 groups,
        # 33 rows) under a 76 s limit and searched no node; CBC on the same MIP proved the
        # best of those groups in 3.8 s and ended on time on the other
        solver = Solver.CBC
    block.progress(f"solving {label} with {solver}, starting from that plan")
    if solver == Solver.HIGHS or by_mps:  # straight from the relaxation: no PuLP model
        with block.building.timing():
            mip = relaxation.restricted_mip(lp, kept_columns)
        limit = block.remaining()
        backend = Highs(settings.highs_time_share)
        if by_mps:  # the MPS file and reading the plan back take time too
            backend = Cbc()
            limit = None if limit is None else limit * settings.highs_time_share
        run = functools.partial(
            backend.solve_model,
            mip.highs,
            mip.names,
            limit,
            start=reduction.incumbent_values,
            stop=block.stop,
        )
        kept_names = None
    else:
        in_plan = set(plan)
        # the kept columns of each service, renumbered from 0 in the restricted model
        kept_names = {
            s: [
                column_name(block.pricers[s].tag, j)
                for service, j in kept_positions
                if service == s
            ]
            for s in block.candidates
        }
        with block.building.timing():
            built = build_model(block.pricers, kept, block.constraints, block.objective)
        for s, cols in built.view.columns.items():
            for column, original in zip(cols, kept_names[s], strict=True):
                column.var.setInitialValue(1 if original in in_plan else 0)
        run = functools.partial(_solve_pulp, block, built.problem, solver, block.remaining(), True)
    try:
        outcome = run()
    except SolverError:
        if limit is None:
            raise
        outcome = None  # the time ran out before the solver found a plan of its own
    if capped and outcome is not None and outcome.status != Status.INFEASIBLE:
        # optimal over the groups searched, not over all
        outcome = attrs.evolve(
            outcome,
            status=Status.FEASIBLE,
            bound=lp_bound,
            gap=relative_gap(outcome.objective, lp_bound),
        )
    tolerance = 1e-9 * max(1.0, abs(reduction.incumbent))
    if outcome is not None and (
        outcome.status == Status.OPTIMAL or outcome.objective >= reduction.incumbent - tolerance
    ):
        if kept_names is None:
            chosen = [name for name, v in outcome.values.items() if v > 0.5]
        else:
            picked = built.picked(outcome)
            chosen = [kept_names[s][j] for s, positions in picked.items() for j in positions]
        return BlockSolution(
            outcome=_without_values(outcome), picked=_picked(block, by_name, chosen)
        )
    # keep the plan we have: a solver that stopped early must not lose it
    bound = lp_bound if outcome is None else max(outcome.bound, reduction.incumbent)
    outcome = Outcome(
        status=Status.FEASIBLE,
        gap=relative_gap(reduction.incumbent, bound),
        solver=SolvedBy(solver),
        objective=reduction.incumbent,
        bound=bound,
    )
    return BlockSolution(outcome=outcome, picked=_picked(block, by_name, plan))


def _solve_decomposed(
    block: Block, lp: relaxation.Relaxation, rows: list[LinearRow], lp_seconds: float = 0.0
) -> BlockSolution | None:
    """A block with side rows, from its LP's solution (`lp.solution`): a first plan from
    a MIP over the groups the LP marks as most promising; then the Lagrangian phase
    (`solver/lagrange.py`), each service solved alone under prices on the rows, from
    the LP's row duals; then MIPs over a widening window of the groups whose bounds (LP
    reduced cost, Lagrangian) could still beat the plan (`solver/window.py`). None when
    some member has no allowed group. `lp_seconds`: how long the block's LP took to
    build and solve, the measure of a round of prices (one LP per service)."""
    settings = block.settings
    solution = lp.solution
    z = solution.objective
    duals = solution.duals[-len(rows) :]
    column_bounds = z + np.minimum(solution.reduced_costs, 0.0)
    coupled = lagrange.Coupled(
        {
            s: np.fromiter((c.value(block.objective) for c in cands), float, len(cands))
            for s, cands in block.candidates.items()
        },
        rows,
        {s: _alone(block, s) for s in block.candidates},
    )
    offsets = dict(
        zip(block.candidates, np.cumsum([0, *map(len, block.candidates.values())]), strict=False)
    )
    by_name = block.names()
    singles = np.array(
        [block.candidates[s][j].size == 1 for s, j in (by_name[n] for n in lp.names)], dtype=bool
    )
    closing = functools.partial(
        window.close_gap,
        lp,
        always=singles,
        first_share=settings.first_budget_share,
        max_columns=settings.window_max_columns,
        time_share=settings.highs_time_share,
        progress=block.progress,
        label=block.label,
        stop=block.stop,
        use_cbc=settings.solver == Solver.CBC or settings.solver == Solver.AUTO,
    )
    # a first plan from the window the LP alone marks out, then prices for a tighter
    # bound and narrower windows
    closed = closing(
        column_bounds=column_bounds,
        bound=z,
        plan=None,
        value=-math.inf,
        deadline=block.deadline,
        rounds=1,
    )
    if closed.plan is None and closed.bound == -math.inf:
        return None  # the window held every group and no plan meets the rows
    if not closed.optimal:
        plan, value, bound = closed.plan, closed.value, closed.bound
        proven = math.inf  # a bound that does not set the window's thresholds
        if _no_time_for_prices(block, lp_seconds):
            block.progress(
                f"{block.label}: too little time left for a round of prices "
                f"(about {2 * lp_seconds:.1f} s); the window widens from the LP's bounds"
            )
        else:
            alone = {s: _Alone(block, s) for s in block.candidates}
            # the prices get a share of the time left
            prices_by = _share_of_time_left(block.deadline, settings.lagrange_time_share)
            dual = lagrange.lagrangian(
                coupled,
                alone,
                duals,
                deadline=prices_by,
                progress=block.progress,
                label=block.label,
                stop=block.stop,
                max_iterations=settings.lagrange_iterations,
                upper_bound=closed.bound,
                known=closed.value,
            )
            if math.isinf(dual.bound) and dual.bound < 0:
                return None  # some service has no plan at all
            for s, bounds in dual.column_bounds.items():
                part = slice(offsets[s], offsets[s] + len(bounds))
                column_bounds[part] = np.minimum(column_bounds[part], bounds)
            if dual.plan is not None and dual.plan.value > value:
                plan, value = _block_columns(dual.plan, offsets), dual.plan.value
            if math.isfinite(value) and math.isfinite(dual.bound):
                _bound_through_each(block, coupled, alone, dual, value, column_bounds, offsets)
            bound = min(bound, dual.bound)
            if (
                math.isfinite(value)
                and value < bound
                and not _no_time_for_prices(block, lp_seconds)
            ):
                proven, found = _bound_by_levels(
                    block, coupled, alone, dual, solution, offsets, bound
                )
                if found is not None and found.value > value:
                    plan = _block_columns(found, offsets)
                    value = found.value
        closed = closing(
            column_bounds=column_bounds,
            bound=bound,
            plan=plan,
            value=value,
            deadline=block.deadline,
            proven=proven,
        )
    if closed.plan is None and closed.bound == -math.inf:
        return None
    if closed.plan is None:
        raise SolverError(f"no plan for {block.label} within the time limit")
    names = [lp.names[j] for j in closed.plan]
    return BlockSolution(
        outcome=window.closed_outcome(closed), picked=_picked(block, by_name, names)
    )


def _bound_by_levels(
    block: Block,
    coupled: lagrange.Coupled,
    alone: Mapping[str, _Alone],
    dual: lagrange.Dual,
    solution: relaxation.LpSolution,
    offsets: Mapping[str, int],
    bound: float,
) -> tuple[float, lagrange.Plan | None]:
    """The knapsack bound over a budget row's levels (`solver/levels.py`), each
    service's LP with the row's level as one more row, and each service's best plan
    within a level where the search proves it (`solver/level_search.py`): the bound if
    below `bound` (else inf), and the best plans found combined, if they meet every row."""
    settings = block.settings
    deadline = _share_of_time_left(block.deadline, settings.level_time_share)

    def search(service: str, costs: np.ndarray, units: np.ndarray) -> levels.LevelSearcher:
        solver = alone[service]

        @functools.cache
        def prepared() -> level_search.Service | None:
            # on the first search only: the knapsack may never search this service
            return level_search.Service.of(solver.groups, solver.members, costs, units)

        def within(
            level: int,
            duals: np.ndarray,
            slope: float,
            count_dual: float,
            count_range: tuple[float, float],
            seed: np.ndarray | None,
            max_nodes: int,
        ) -> level_search.LevelPlan | None:
            service_search = prepared()
            if service_search is None:
                return None
            return service_search.best_within(
                level,
                duals,
                slope,
                max_nodes=max_nodes,
                deadline=deadline,
                stop=block.stop,
                seed=seed,
                count_dual=count_dual,
                count_range=count_range,
            )

        return within

    def service_lp(
        service: str, units: np.ndarray, counted: np.ndarray | None
    ) -> relaxation.Relaxation | None:
        base = alone[service].lp
        if base is None:
            return None
        h = new_highs()
        h.passModel(base.highs.getLp())
        for coefficients, upper in ((units, 0.0), (counted, math.inf)):
            if coefficients is None:
                continue
            nonzero = np.flatnonzero(coefficients)
            h.addRow(
                -math.inf,
                upper,
                len(nonzero),
                nonzero.astype(np.int32),
                np.asarray(coefficients, dtype=float)[nonzero],
            )
        working = None if base.working is None else base.working.copy()
        return relaxation.Relaxation(highs=h, names=base.names, working=working, keep_arrays=True)

    start = {
        s: solution.values[offsets[s] : offsets[s] + len(v)] for s, v in coupled.values.items()
    }
    started = time.perf_counter()
    found = levels.level_bound(
        coupled,
        dual.prices,
        dual.parts,
        service_lp,
        deadline=deadline,
        stop=block.stop,
        sift_min_columns=settings.sift_min_columns,
        max_units=settings.level_max_units,
        max_work=settings.level_knapsack_work,
        start=start,
        search=search if settings.search else None,
        search_nodes=(settings.level_search_first_nodes, settings.level_search_nodes),
    )
    if found is None:
        return math.inf, None
    unit = f"{found.unit:,.0f}" if found.unit >= 1 else f"{found.unit:.6g}"
    plan = None
    if found.plan is not None:
        activity = sum(coupled.activity(s, p) for s, p in found.plan.items())
        if coupled.meets_rows(activity):
            value = sum(float(coupled.values[s][p].sum()) for s, p in found.plan.items())
            plan = lagrange.Plan(picked=found.plan, value=value)
    block.progress(
        f"{block.label}: {found.row} counted in steps of {unit}: bound "
        f"{found.bound:,.0f} ({found.evaluations} service LPs, {found.exact} levels "
        f"searched to the best plan, {time.perf_counter() - started:.1f} s; levels "
        + ", ".join(f"{s} {k}" for s, k in found.levels.items())
        + ")"
        + ("" if plan is None else f"; their plans combined: {plan.value:,.0f}")
    )
    return (found.bound if found.bound < bound else math.inf), plan


def _block_columns(plan: lagrange.Plan, offsets: Mapping[str, int]) -> np.ndarray:
    """A plan's groups as columns of the block's LP."""
    return np.concatenate(
        [offsets[s] + np.asarray(p, dtype=np.int64) for s, p in plan.picked.items()]
    )


def _share_of_time_left(deadline: float | None, share: float) -> float | None:
    """The deadline (perf_counter seconds) of a step given `share` of the time left."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + share * (deadline - now)


def _no_time_for_prices(block: Block, lp_seconds: float) -> bool:
    """Whether a round of prices would overrun the block's deadline: it builds and
    solves an LP per service, and its setup cannot be stopped midway (on London's
    490,000 groups, about 2.5 s past a 10 s limit). Estimated at twice the block's LP."""
    if block.deadline is None:
        return False
    return block.deadline - time.perf_counter() < 2.0 * lp_seconds


def _bound_through_each(
    block: Block,
    coupled: lagrange.Coupled,
    alone: Mapping[str, _Alone],
    dual: lagrange.Dual,
    value: float,
    column_bounds: np.ndarray,
    offsets: Mapping[str, int],
) -> None:
    """Tighten `column_bounds` where the search applies: a plan using group j of service
    s is worth at most the dual bound less s's part of it plus the best plan of s that
    uses j under the same prices, found exactly for every group whose best plan could
    lift the block's plan above `value` (`search.best_with_each`)."""
    for s, solver in alone.items():
        if s not in dual.parts or not math.isfinite(dual.parts[s]):
            continue
        others = dual.bound - dual.parts[s]
        floor = value - others - 1e-6 * max(1.0, abs(value)) - 1.0
        found = solver.best_with(coupled.costs(s, dual.prices), floor, block.deadline)
        if found is None:
            continue
        block.progress(
            f"{s}: the best plan through each of its {solver.size:,} groups under those "
            f"prices ({found.states:,} states)"
        )
        part = slice(offsets[s], offsets[s] + solver.size)
        column_bounds[part] = np.minimum(column_bounds[part], others + found.with_group)


class _Alone:
    """One service of a block solved alone under any column costs, in process (HiGHS):
    LP, fixing, and the search where it applies (exact), else the plan fixing found with
    the LP's bound (`__call__`, a `lagrange.ServiceSolver`); and where the search applies,
    the best plan through each group (`best_with`). Its LP is kept from one call to the
    next, so that sifting starts from the columns of the last."""

    def __init__(self, block: Block, service: str):
        self.service = service
        cands = block.candidates[service]
        self.size = len(cands)
        self.lp = relaxation.from_columns(block.pricers, {service: cands}, [], block.objective)
        self.block = attrs.evolve(
            block,
            candidates={service: cands},
            constraints=(),
            progress=_quiet,
            settings=attrs.evolve(block.settings, solver=Solver.HIGHS),
        )
        self.members = len(block.pricers[service].ids)
        self.order = None
        """The search's order where the search solves this service (a narrow frontier)."""
        if block.settings.search and self.lp is not None:
            self.order = search_order(self.block, [])
        if self.order is not None:
            _drop_upper_bounds(self.lp)
        self.groups = FlatGroups.of([c.indices for c in cands])
        self.through_order = self.order
        """The order for the bounds through each group: tried on any service the search
        can hold, as a search near the optimum stays small even on a wide frontier."""
        wide = self.through_order is None and self.members <= search.MAX_MEMBERS
        if wide and block.settings.search and self.lp is not None:
            self.through_order = search.search_order(self.members, self.groups)

    def __call__(self, costs: np.ndarray, deadline: float | None) -> lagrange.ServicePlan | None:
        lp = self.lp
        if lp is None:
            return None
        lp.set_costs(np.asarray(costs, dtype=float))
        solved = _solve_by_fixing(
            attrs.evolve(self.block, deadline=deadline),
            lp,
            self.order,
            finish=False,
            restricted=self.block.settings.lagrange_restricted_seconds,
        )
        solution = lp.solution
        if solution is None or solution.status == "unsolved":  # out of time before the LP
            return lagrange.ServicePlan(positions=None, value=-math.inf, bound=math.inf)
        if solution.status == "infeasible":
            return None  # some member has no group at all
        z = solution.objective
        reduced = np.minimum(solution.reduced_costs, 0.0)
        if solved is None:  # the LP stage found no plan (members who may not stay alone)
            return lagrange.ServicePlan(
                positions=None, value=-math.inf, bound=z, lp_value=z, reduced_costs=reduced
            )
        return lagrange.ServicePlan(
            positions=np.asarray(solved.picked[self.service], dtype=np.int64),
            value=solved.outcome.objective,
            bound=solved.outcome.bound,
            lp_value=z,
            reduced_costs=reduced,
        )

    def best_with(
        self, costs: np.ndarray, floor: float, deadline: float | None
    ) -> search.BestWith | None:
        """Under these costs, the best plan through each group worth at least `floor`
        (exact, by the search); None where the search does not apply or gives up."""
        if self.through_order is None:
            return None
        lp = self.lp
        settings = self.block.settings
        max_states = None
        if self.order is None:  # a wide frontier: only while the search stays small
            max_states = settings.wide_through_states
            deadline = _share_of_time_left(deadline, settings.wide_through_share)
        lp.set_costs(np.asarray(costs, dtype=float))
        limit = None if deadline is None else max(0.1, deadline - time.perf_counter())
        solution = relaxation.solve_lp(
            lp, limit, self.block.stop, sift_min_columns=self.block.settings.sift_min_columns
        )
        if not solution.optimal:
            return None
        return search.best_with_each(
            self.members,
            self.groups,
            np.asarray(costs, dtype=float),
            solution.duals,
            floor,
            settings=self.block.settings,
            deadline=deadline,
            order=self.through_order,
            stop=self.block.stop,
            max_states=max_states,
        )


def _alone(block: Block, service: str) -> np.ndarray | None:
    """The positions of a service's groups of one, if every sharer has one."""
    cands = block.candidates[service]
    singles = [j for j, c in enumerate(cands) if c.size == 1]
    return np.array(singles) if len(singles) == len(block.pricers[service].ids) else None


def _quiet(message: str) -> None:
    """Progress that says nothing (a service solved inside the Lagrangian phase)."""


def _search_kept(
    block: Block,
    by_name: Mapping[str, tuple[str, int]],
    lp: relaxation.Relaxation,
    kept_columns: np.ndarray,
    reduction: fixing.Reduction,
    order: np.ndarray,
) -> _Found:
    """The partition search over the groups fixing kept, from the LP's duals and plan."""
    positions = [by_name[lp.names[j]] for j in kept_columns]
    service = positions[0][0]
    groups = [block.candidates[s][j] for s, j in positions]
    values = np.asarray(lp.highs.getLp().col_cost_)[kept_columns]
    limit = block.remaining()
    found = search.partition_search(
        len(block.pricers[service].ids),
        FlatGroups.of([c.indices for c in groups]),
        values,
        reduction.duals,
        reduction.incumbent,
        settings=block.settings,
        deadline=None if limit is None else time.perf_counter() + limit,
        progress=lambda message: block.progress(f"{service}: {message}"),
        order=order,
        stop=block.stop,
    )
    if found.columns is None:
        return _Found(search=found)
    names = [lp.names[kept_columns[j]] for j in found.columns]
    return _Found(search=found, names=names, value=float(values[found.columns].sum()))


def _bound_message(label: str, reduction: fixing.Reduction, columns: int) -> str:
    """What the relaxation proved, in words that never contradict themselves: when the
    plan meets the bound it is optimal; otherwise how far apart they are and how many
    groups could still close that distance."""
    seconds = f"({reduction.seconds:.1f} s)"
    if reduction.proven:
        plan = f"{reduction.incumbent:,.0f}"
        return f"{label}: plan {plan} meets the LP bound, or no other group can beat it {seconds}"
    distance = reduction.lp_bound - reduction.incumbent
    shown = f"{distance:,.2f}" if abs(distance) < 10 else f"{distance:,.0f}"
    return (
        f"{label}: plan {reduction.incumbent:,.0f}, LP bound {reduction.lp_bound:,.0f} "
        f"({shown} apart); {len(reduction.kept):,} of {columns:,} groups could close "
        f"the distance and are searched {seconds}"
    )


def block_solver(settings: Settings, candidates: Mapping[str, Sequence[Candidate]]) -> Solver:
    """The MIP solver for a block: the user's choice, or for "auto" the one measured faster.

    On large single-service blocks HiGHS proved all of England and Wales optimal in
    123 s where CBC stopped at a 0.05% gap after 300 s; on small blocks CBC starts
    faster, and on services tied together by a budget CBC found plans where HiGHS
    found none in the same time (`benchmarks/README.md`). Beyond
    `Settings.pulp_max_columns` HiGHS is used in process, as building the PuLP model
    for CBC would take longer than the time most users give.
    """
    if settings.solver != Solver.AUTO:
        return settings.solver
    columns = sum(len(c) for c in candidates.values())
    if not highs_available():
        return Solver.CBC
    single_large = len(candidates) == 1 and columns >= settings.fixing_min_columns
    if columns > settings.pulp_max_columns or single_large:
        return Solver.HIGHS
    return Solver.CBC


def _picked(block: Block, by_name: Mapping[str, tuple[str, int]], names: Sequence[str]) -> Picked:
    """The positions of the named columns, by service, in column order."""
    picked: Picked = {s: [] for s in block.candidates}
    for name in names:
        service, position = by_name[name]
        picked[service].append(position)
    return {s: sorted(positions) for s, positions in picked.items()}
