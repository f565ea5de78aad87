"""Run a solver on a PuLP problem and say honestly what came back.

A time-limited CBC run can report "Optimal" for a mere incumbent (coin-or/pulp
#711), and HiGHS stops at a 0.01% gap by default, so: the relative gap target is
set to zero, the status is read from PuLP's `sol_status` (which distinguishes a
proven optimum from a solution found), and a `feasible` answer always carries a
proven gap, from the solver's bound (HiGHS) or from the LP relaxation (CBC).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import ClassVar

import attrs
import pulp

from sharedsvc.constants import Solver, Status
from sharedsvc.errors import SolverError, UsageError

HIGHS_TIME_SHARE = 0.8
"""The default share of a time limit HiGHS is given (`Settings.highs_time_share`)."""


@attrs.frozen(kw_only=True)
class Outcome:
    """What a solver (or a step of the strategy) returned for a block."""

    status: Status
    gap: float | None
    solver: str
    objective: float = 0.0
    bound: float = 0.0
    """A proven upper bound on the optimum (the objective itself when optimal)."""
    values: dict[str, float] = attrs.field(factory=dict)
    """Variable name -> value of the plan found (empty when infeasible)."""


class Backend:
    """One MIP solver reached through PuLP: how to make it, and how to read its bound."""

    name: ClassVar[Solver]

    def available(self) -> bool:
        raise NotImplementedError

    def make(
        self, time_limit: float | None, *, mip: bool = True, warm_start: bool = False
    ) -> pulp.LpSolver:
        raise NotImplementedError

    def proven_bound(self, problem: pulp.LpProblem, log: Path) -> float | None:
        """The bound the solver proved on a problem it stopped early, if it says."""
        return None


class Cbc(Backend):
    """CBC 2.10, bundled with PuLP 3.x, run as a separate process."""

    name = Solver.CBC

    def available(self) -> bool:
        return True

    def make(self, time_limit, *, mip=True, warm_start=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(
                msg=False, mip=mip, timeLimit=time_limit, gapRel=0.0, warmStart=warm_start
            )

    def proven_bound(self, problem, log):
        return cbc_bound(log, problem) if log.exists() else None


class Highs(Backend):
    """HiGHS through highspy, in process."""

    name = Solver.HIGHS

    def __init__(self, time_share: float = HIGHS_TIME_SHARE):
        self.time_share = time_share
        """HiGHS overshoots its time limit (by up to 30% measured): it is given this share."""

    def available(self) -> bool:
        return bool(pulp.HiGHS(msg=False).available())

    def make(self, time_limit, *, mip=True, warm_start=False):
        limit = None if time_limit is None else time_limit * self.time_share
        return pulp.HiGHS(msg=False, mip=mip, timeLimit=limit, gapRel=0.0, gapAbs=0.0)

    def proven_bound(self, problem, log):
        return highs_bound(problem)

    def solve_model(
        self, highs, names: list[str], time_limit: float | None, start: Collection[str] = ()
    ) -> Outcome:
        """Solve a HiGHS maximisation MIP in process; `start` names the columns of a first
        plan. Used for large blocks, whose PuLP model would take longer to build than to
        solve."""
        import highspy

        if start:
            plan = highspy.HighsSolution()
            plan.col_value = [1.0 if name in start else 0.0 for name in names]
            highs.setSolution(plan)
        highs.setOptionValue("mip_rel_gap", 0.0)
        highs.setOptionValue("mip_abs_gap", 0.0)
        if time_limit is not None:
            highs.setOptionValue("time_limit", float(time_limit) * self.time_share)
        with native_stdout_silenced():
            highs.run()
        status = highs.getModelStatus()
        info = highs.getInfo()
        if status == highspy.HighsModelStatus.kInfeasible:
            return Outcome(status=Status.INFEASIBLE, gap=None, solver=self.name)
        if info.primal_solution_status != 2:  # no feasible plan
            raise _no_plan(self.name, time_limit, status.name)
        x = highs.getSolution().col_value
        values = {names[i]: 1.0 for i, v in enumerate(x) if v > 0.5}
        objective = info.objective_function_value
        if status == highspy.HighsModelStatus.kOptimal:
            return Outcome(
                status=Status.OPTIMAL,
                gap=0.0,
                solver=self.name,
                values=values,
                objective=objective,
                bound=objective,
            )
        bound = info.mip_dual_bound
        bound = max(objective, bound) if math.isfinite(bound) else math.inf
        return Outcome(
            status=Status.FEASIBLE,
            gap=relative_gap(objective, bound) if math.isfinite(bound) else None,
            solver=self.name,
            values=values,
            objective=objective,
            bound=bound,
        )


def highs_available() -> bool:
    return Highs().available()


def backend(solver: Solver | str, *, highs_time_share: float = HIGHS_TIME_SHARE) -> Backend:
    """The backend for a solver name ("auto" means CBC here); refuses one that is missing."""
    try:
        name = Solver(solver)
    except ValueError:
        raise UsageError(
            f"unknown solver {solver!r}; expected one of {', '.join(s.value for s in Solver)}"
        ) from None
    if name == Solver.HIGHS:
        highs = Highs(highs_time_share)
        if not highs.available():
            raise UsageError(
                "the HiGHS solver (the highspy package) is not installed; "
                "reinstall sharedsvc, or use --solver cbc"
            )
        return highs
    return Cbc()


def _no_plan(name: str, time_limit: float | None, why: str) -> SolverError:
    if time_limit is not None:
        return SolverError(
            f"the {name} solver found no plan within the time limit of {time_limit:g} s; "
            "allow more time with --time-limit"
        )
    return SolverError(f"the {name} solver stopped without a plan ({why})")


_SILENCE_LOCK = threading.Lock()
_silence_depth = 0
_saved_stdout: int | None = None


@contextlib.contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Silence what native code prints on stdout (HiGHS's banner).

    Results go to stdout, so nothing else may: `--format json | jq` must work.
    Solver errors still reach us as statuses and exceptions. File descriptor 1 is
    shared by every thread, so the first to enter redirects it and the last to
    leave restores it.
    """
    global _silence_depth, _saved_stdout
    with _SILENCE_LOCK:
        if _silence_depth == 0:
            sys.stdout.flush()
            _saved_stdout = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
        _silence_depth += 1
    try:
        yield
    finally:
        with _SILENCE_LOCK:
            _silence_depth -= 1
            if _silence_depth == 0 and _saved_stdout is not None:
                sys.stdout.flush()
                os.dup2(_saved_stdout, 1)
                os.close(_saved_stdout)
                _saved_stdout = None


def run_solver(problem: pulp.LpProblem, solver: pulp.LpSolver, name: str) -> None:
    """Run a PuLP solver with its chatter silenced; a solver failure is a `SolverError`."""
    try:
        with warnings.catch_warnings(), native_stdout_silenced():
            warnings.simplefilter("ignore", DeprecationWarning)
            problem.solve(solver)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"the {name} solver failed: {exc}") from None


def solve(
    problem: pulp.LpProblem,
    solver: Solver | str = Solver.AUTO,
    time_limit: float | None = None,
    warm_start: bool = False,
    *,
    highs_time_share: float = HIGHS_TIME_SHARE,
) -> Outcome:
    """Solve `problem` (a maximisation) and map the result to optimal/feasible/infeasible.

    `warm_start` hands CBC the variables' initial values as a first plan.
    """
    chosen = backend(solver, highs_time_share=highs_time_share)
    name = chosen.name
    with tempfile.TemporaryDirectory(prefix="sharedsvc-") as folder:
        engine = chosen.make(time_limit, warm_start=warm_start)
        log = Path(folder) / "solver.log"
        if name == Solver.CBC:
            engine.optionsDict["logPath"] = str(log)
        run_solver(problem, engine, name)
        proven = chosen.proven_bound(problem, log) if name == Solver.CBC else None
    sol_status = problem.sol_status
    if sol_status == pulp.LpSolutionInfeasible or problem.status == pulp.LpStatusInfeasible:
        return Outcome(status=Status.INFEASIBLE, gap=None, solver=name)
    if sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        raise _no_plan(name, time_limit, pulp.LpStatus[problem.status])
    values = {v.name: v.value() or 0.0 for v in problem.variables()}
    objective = pulp.value(problem.objective) or 0.0
    if sol_status == pulp.LpSolutionOptimal:
        return Outcome(
            status=Status.OPTIMAL,
            gap=0.0,
            solver=name,
            values=values,
            objective=objective,
            bound=objective,
        )
    if proven is None:
        proven = _best_bound(problem, chosen)
    bound = max(objective, proven)
    return Outcome(
        status=Status.FEASIBLE,
        gap=relative_gap(objective, bound),
        solver=name,
        values=values,
        objective=objective,
        bound=bound,
    )


def _best_bound(problem: pulp.LpProblem, chosen: Backend) -> float:
    """An upper bound on the optimum: the solver's own, else the LP relaxation's."""
    bound = chosen.proven_bound(problem, Path(os.devnull)) if chosen.name == Solver.HIGHS else None
    if bound is not None:
        return bound
    relaxed = problem.deepcopy()
    run_solver(relaxed, chosen.make(None, mip=False), chosen.name)
    if relaxed.status != pulp.LpStatusOptimal:
        raise SolverError(
            f"the {chosen.name} solver could not bound the plan (LP relaxation failed)"
        )
    return pulp.value(relaxed.objective) or 0.0


def highs_bound(problem: pulp.LpProblem) -> float | None:
    """HiGHS's proven bound in the problem's own sense, or None if it has none.

    PuLP hands HiGHS a maximisation as the minimisation of minus the objective,
    so HiGHS's dual bound must change sign to bound the maximum.
    """
    dual = float(problem.solverModel.getInfo().mip_dual_bound)
    if not math.isfinite(dual):
        return None
    return -dual if problem.sense == pulp.LpMaximize else dual


_CBC_BOUND = re.compile(r"^(Upper|Lower) bound:\s+(\S+)", re.MULTILINE)


def cbc_bound(log: Path, problem: pulp.LpProblem) -> float | None:
    """The bound CBC proved when it stopped, from its log, in the problem's sense."""
    wanted = "Upper" if problem.sense == pulp.LpMaximize else "Lower"
    for kind, number in _CBC_BOUND.findall(log.read_text(errors="replace")):
        if kind == wanted:
            try:
                value = float(number)
            except ValueError:
                return None
            return value if math.isfinite(value) else None
    return None


def relative_gap(objective: float, bound: float) -> float:
    """How far below the best possible objective the plan may be, as a fraction."""
    scale = max(abs(bound), abs(objective))
    if scale < 1e-9:
        return 0.0
    return max(0.0, (bound - objective) / scale)
