"""Run a solver on a model and say honestly what came back.

A time-limited CBC run can report "Optimal" for a mere incumbent (coin-or/pulp
#711), and HiGHS stops at a 0.01% gap by default, so: the relative gap target is
set to zero, the status is read from PuLP's `sol_status` (which distinguishes a
proven optimum from a solution found), and a `feasible` answer always carries a
proven gap, from the solver's bound (HiGHS) or from the LP relaxation (CBC).

Solvers are silenced through their own options (HiGHS `output_flag`, CBC's log
to a file), never by redirecting the process's stdout, so an embedding
application keeps its output. Every run honours a `StopToken`: CBC runs as a
child process that a stop ends, HiGHS polls the token in its interrupt callbacks.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Collection
from pathlib import Path
from typing import ClassVar

import attrs
import numpy as np
import pulp

from sharedsvc.constants import SolvedBy, Solver, Status
from sharedsvc.errors import SolverError, UsageError
from sharedsvc.settings import Settings
from sharedsvc.stopping import StopToken

HIGHS_TIME_SHARE = attrs.fields(Settings).highs_time_share.default
"""The default share of a time limit HiGHS is given: `Settings.highs_time_share`'s."""


@attrs.frozen(kw_only=True)
class Outcome:
    """What a solver (or a step of the strategy) returned for a block."""

    status: Status
    gap: float | None
    solver: SolvedBy | Solver
    """What found the plan (`Solver.AUTO` for a block found infeasible before solving)."""
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
        self,
        time_limit: float | None,
        *,
        mip: bool = True,
        warm_start: bool = False,
        stop: StopToken | None = None,
    ) -> pulp.LpSolver:
        raise NotImplementedError

    def proven_bound(self, problem: pulp.LpProblem, log: Path) -> float | None:
        """The bound the solver proved on a problem it stopped early, if it says."""
        return None


class Cbc(Backend):
    """CBC 2.10, bundled with PuLP 3.x, run as a child process that a stop ends."""

    name = Solver.CBC

    def available(self) -> bool:
        return True

    def make(self, time_limit, *, mip=True, warm_start=False, stop=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(
                msg=False,
                mip=mip,
                timeLimit=time_limit,
                gapRel=0.0,
                warmStart=warm_start,
                # CBC 2.10.3's integer preprocessing proved a wrong optimum on a 4-member
                # model with a budget row (0.08 for 4,023; tests/test_solve.py); without it
                # CBC is exact there, and HiGHS agrees
                options=["preprocess off"],
            )

    def proven_bound(self, problem, log):
        return cbc_bound(log, problem) if log.exists() else None

    def solve_model(
        self,
        highs,
        names: list[str],
        time_limit: float | None,
        start: Collection[str] = (),
        *,
        stop: StopToken | None = None,
    ) -> Outcome:
        """Solve a HiGHS maximisation MIP with CBC: the model written as MPS by HiGHS, CBC
        run on it as a child process. `start` names the columns of a first plan.

        Why: on the MIPs over a window of promising groups with a budget row (London's
        boroughs, 20,479 groups), CBC proved the optimum in 11.5 s where HiGHS took
        32.7 s. Only an "Optimal solution found" is taken as proven: a time-limited CBC
        prints its incumbent as the bound (`../shared/notes/solvers.md`), so a stopped run
        gives its plan with an unknown bound. The plan read back is checked against
        every row and its worth computed here, not read from CBC.
        """
        stop = StopToken() if stop is None else stop
        model = highs.getLp()
        with tempfile.TemporaryDirectory(prefix="sharedsvc-") as folder:
            where = Path(folder)
            highs.writeModel(str(where / "model.mps"))
            with warnings.catch_warnings():  # PuLP 3 warns that PULP_CBC_CMD goes in 4.0
                warnings.simplefilter("ignore", DeprecationWarning)
                path = pulp.PULP_CBC_CMD().path
            args = [path, str(where / "model.mps"), "-max"]
            if start:
                with open(where / "start.sol", "w") as out:
                    out.write("Stopped on time - objective value 0\n")
                    for j, name in enumerate(names):
                        out.write(f"{j:>7} c{j} {1 if name in start else 0} 0\n")
                args += ["-mips", str(where / "start.sol")]
            if time_limit is not None:  # wall-clock seconds: CBC counts CPU time otherwise
                args += ["-timeMode", "elapsed", "-sec", str(max(0.1, time_limit))]
            args += ["-ratio", "0", "-preprocess", "off", "-solve"]
            args += ["-solution", str(where / "plan.sol")]
            log = where / "cbc.log"
            try:
                with open(log, "w") as out:
                    process = subprocess.Popen(
                        args, stdout=out, stderr=out, stdin=subprocess.DEVNULL
                    )
                    with stop.child(process):
                        code = _wait_or_kill(process, time_limit)
            except OSError as exc:
                raise SolverError(f"the cbc solver failed: cannot run it: {exc}") from None
            if code is None:
                raise _no_plan(self.name, time_limit, "killed at its time limit")
            stop.check()
            text = log.read_text(errors="replace")
            if code != 0:
                raise SolverError(f"the cbc solver failed: it exited with status {code}")
            result = re.search(r"^Result - (.*)$", text, re.M)
            result = "" if result is None else result.group(1)
            plan = where / "plan.sol"
            lines = plan.read_text().splitlines() if plan.exists() else []
            said = lines[0].lower() if lines else ""
            # an infeasible LP ends without a "Result" line: "Problem is infeasible"
            if "infeasible" in result.lower() or said.startswith(("infeasible", "integer inf")):
                return Outcome(status=Status.INFEASIBLE, gap=None, solver=SolvedBy.CBC)
            x = np.zeros(len(names))
            if lines:
                for line in lines[1:]:
                    parts = line.split()
                    if len(parts) >= 3 and parts[1].startswith("c"):
                        x[int(parts[1][1:])] = float(parts[2])
        chosen = np.flatnonzero(x > 0.5)
        if not _meets_rows(model, chosen):
            raise _no_plan(self.name, time_limit, "no plan")
        objective = float(np.asarray(model.col_cost_)[chosen].sum())
        values = {names[j]: 1.0 for j in chosen}
        if result.startswith("Optimal solution found"):
            return Outcome(
                status=Status.OPTIMAL,
                gap=0.0,
                solver=SolvedBy.CBC,
                values=values,
                objective=objective,
                bound=objective,
            )
        return Outcome(
            status=Status.FEASIBLE,
            gap=None,
            solver=SolvedBy.CBC,
            values=values,
            objective=objective,
            bound=math.inf,
        )


CBC_GRACE_SHARE = 0.25
"""A CBC child still running this share of its time limit past it (at least a second) is
killed: `-sec` is checked between nodes, and a slow root node can hold it far longer."""


def _wait_or_kill(process: subprocess.Popen, time_limit: float | None) -> int | None:
    """The child's exit status; None when it outran its time limit by the grace and was
    killed (its plan, if any, is then lost, and the caller keeps the one it had)."""
    if time_limit is None:
        return process.wait()
    grace = max(1.0, CBC_GRACE_SHARE * time_limit)
    try:
        return process.wait(timeout=max(0.1, time_limit) + grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def _meets_rows(model, chosen: np.ndarray) -> bool:
    """Whether the 0/1 plan `chosen` (column indices) meets every row of a HiGHS model."""
    import highspy

    matrix = model.a_matrix_
    starts = np.asarray(matrix.start_)
    index = np.asarray(matrix.index_)
    value = np.asarray(matrix.value_)
    activity = np.zeros(model.num_row_)
    if matrix.format_ == highspy.MatrixFormat.kColwise:
        for j in chosen:
            np.add.at(activity, index[starts[j] : starts[j + 1]], value[starts[j] : starts[j + 1]])
    else:
        x = np.zeros(model.num_col_)
        x[chosen] = 1.0
        rows = np.repeat(np.arange(model.num_row_), np.diff(starts))
        np.add.at(activity, rows, value * x[index])
    lower, upper = np.asarray(model.row_lower_), np.asarray(model.row_upper_)
    scale = 1e-9 * np.maximum(
        1.0,
        np.maximum(
            np.abs(np.nan_to_num(lower, posinf=0, neginf=0)),
            np.abs(np.nan_to_num(upper, posinf=0, neginf=0)),
        ),
    )
    return bool(np.all(activity >= lower - scale) and np.all(activity <= upper + scale))


class Highs(Backend):
    """HiGHS through highspy, in process."""

    name = Solver.HIGHS

    def __init__(self, time_share: float = HIGHS_TIME_SHARE):
        self.time_share = time_share
        """HiGHS overshoots its time limit (by up to 30% measured): it is given this share."""

    def available(self) -> bool:
        return bool(pulp.HiGHS(msg=False).available())

    def make(self, time_limit, *, mip=True, warm_start=False, stop=None):
        import highspy

        limit = None if time_limit is None else time_limit * self.time_share
        if stop is None:
            return pulp.HiGHS(msg=False, mip=mip, timeLimit=limit, gapRel=0.0, gapAbs=0.0)
        kinds = highspy.cb.HighsCallbackType
        return pulp.HiGHS(
            msg=False,
            mip=mip,
            timeLimit=limit,
            gapRel=0.0,
            gapAbs=0.0,
            callbackTuple=(_stop_callback(stop), None),
            callbacksToActivate=[
                kinds.kCallbackSimplexInterrupt,
                kinds.kCallbackIpmInterrupt,
                kinds.kCallbackMipInterrupt,
            ],
        )

    def proven_bound(self, problem, log):
        return highs_bound(problem)

    def solve_model(
        self,
        highs,
        names: list[str],
        time_limit: float | None,
        start: Collection[str] = (),
        *,
        stop: StopToken | None = None,
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
        run_highs(highs, stop)
        status = highs.getModelStatus()
        info = highs.getInfo()
        if status == highspy.HighsModelStatus.kInfeasible:
            return Outcome(status=Status.INFEASIBLE, gap=None, solver=SolvedBy.HIGHS)
        if info.primal_solution_status != 2:  # no feasible plan
            raise _no_plan(self.name, time_limit, status.name)
        x = highs.getSolution().col_value
        values = {names[i]: 1.0 for i, v in enumerate(x) if v > 0.5}
        objective = info.objective_function_value
        if status == highspy.HighsModelStatus.kOptimal:
            return Outcome(
                status=Status.OPTIMAL,
                gap=0.0,
                solver=SolvedBy.HIGHS,
                values=values,
                objective=objective,
                bound=objective,
            )
        bound = info.mip_dual_bound
        bound = max(objective, bound) if math.isfinite(bound) else math.inf
        return Outcome(
            status=Status.FEASIBLE,
            gap=relative_gap(objective, bound) if math.isfinite(bound) else None,
            solver=SolvedBy.HIGHS,
            values=values,
            objective=objective,
            bound=bound,
        )


def new_highs():
    """A silent HiGHS instance (`output_flag` off)."""
    import highspy

    _quiet_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def run_highs(highs, stop: StopToken | None) -> None:
    """`highs.run()`, stopped when `stop` is set; then `stop.check()`, so a stopped run
    unwinds instead of returning a partial answer.

    HiGHS polls the token through its interrupt callbacks, but some phases (presolve,
    a long root node) call none for a minute: so the solve runs in a helper thread and
    the caller waits in Python, checking the token every tenth of a second (which also
    lets Python run its signal handlers). On a stop the caller unwinds at once; the
    helper is a daemon thread, told to interrupt, that ends with HiGHS or the process.
    """
    if stop is None:
        highs.run()
        return
    stop.check()
    callback = _stop_event_callback(stop)
    for event in (highs.cbSimplexInterrupt, highs.cbIpmInterrupt, highs.cbMipInterrupt):
        event += callback
    in_background(highs.run, stop)
    for event in (highs.cbSimplexInterrupt, highs.cbIpmInterrupt, highs.cbMipInterrupt):
        event -= callback
    stop.check()


def in_background(work, stop: StopToken) -> None:
    """Run `work()` in a daemon thread and wait for it, checking `stop` every 0.1 s:
    `Interrupted` as soon as a stop is requested, whatever the native code is doing."""
    done = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the waiting caller, raised there
            failure.append(exc)
        finally:
            done.set()

    helper = threading.Thread(target=target, name="sharedsvc-solver", daemon=True)
    helper.start()
    try:
        while not done.wait(0.1):
            stop.check()
    except BaseException:  # a stop, or the signal handler's Interrupted: leave it running
        stop.request()
        stop.abandon(helper)
        raise
    if failure:
        raise failure[0]


def _stop_event_callback(stop: StopToken):
    def interrupt(event) -> None:
        if stop.requested:
            event.interrupt()

    return interrupt


def _stop_callback(stop: StopToken):
    """The legacy callback form that PuLP's HiGHS interface takes."""

    def interrupt(callback_type, message, data_out, data_in, user_data) -> None:
        if stop.requested and data_in is not None:
            data_in.user_interrupt = True

    return interrupt


_BANNER_LOCK = threading.Lock()
_banner_shown = False


def _quiet_banner() -> None:
    """HiGHS prints its banner on stdout once per process, when the first instance is
    made, before any option can be set: make that first instance with file descriptor 1
    pointed at /dev/null, once. Everything later is silenced by `output_flag`."""
    global _banner_shown
    with _BANNER_LOCK:
        if _banner_shown:
            return
        import highspy

        sys.stdout.flush()
        saved = os.dup(1)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True


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


def run_solver(
    problem: pulp.LpProblem,
    solver: pulp.LpSolver,
    name: str,
    *,
    stop: StopToken | None = None,
    folder: Path | None = None,
) -> None:
    """Run a PuLP solver on `problem`, silenced; a solver failure is a `SolverError`.

    CBC runs as a child process in `folder` (its model, solution and log files stay
    there, so they go when the folder goes), ended at once if `stop` is set.
    """
    if stop is not None:
        stop.check()
    if isinstance(solver, pulp.PULP_CBC_CMD):
        with contextlib.ExitStack() as scope:
            if folder is None:
                folder = Path(scope.enter_context(tempfile.TemporaryDirectory(prefix="sharedsvc-")))
            _run_cbc(problem, solver, folder, stop or StopToken())
        return
    _quiet_banner()

    def work() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            problem.solve(solver)

    try:
        if stop is None:
            work()
        else:
            in_background(work, stop)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"the {name} solver failed: {exc}") from None
    if stop is not None:
        stop.check()


def _run_cbc(problem: pulp.LpProblem, solver: pulp.PULP_CBC_CMD, folder: Path, stop) -> None:
    """CBC on `problem` as PuLP runs it, but as a child process `stop` can end.

    The model is written as MPS with PuLP's own names and the plan read back with
    PuLP's reader, as `PULP_CBC_CMD` does; the objective is fixed up (and restored)
    as `LpProblem.solve` does.
    """
    was_none, dummy = problem.fixObjective()
    try:
        _cbc_files_run(problem, solver, folder, stop)
    finally:
        problem.restoreObjective(was_none, dummy)


def _cbc_files_run(problem: pulp.LpProblem, solver: pulp.PULP_CBC_CMD, folder: Path, stop):
    model, solution, start = folder / "model.mps", folder / "plan.sol", folder / "start.mst"
    log = Path(solver.optionsDict.get("logPath") or folder / "cbc.log")
    variables, variable_names, row_names, _ = problem.writeMPS(str(model), rename=1)
    args = [solver.path, str(model)]
    if problem.sense == pulp.LpMaximize:
        args.append("-max")
    if solver.optionsDict.get("warmStart", False):
        solver.writesol(str(start), problem, variables, variable_names, row_names)
        args += ["-mips", str(start)]
    if solver.timeLimit is not None:
        args += ["-sec", str(solver.timeLimit)]
    for option in solver.options + solver.getOptions():
        args += ("-" + option).split()
    args += ["-solve" if solver.mip else "-initialSolve", "-printingOptions", "all"]
    args += ["-solution", str(solution)]
    try:
        with open(log, "w") as out:
            process = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
            with stop.child(process):
                code = process.wait()
    except OSError as exc:
        raise SolverError(f"the cbc solver failed: cannot run {solver.path}: {exc}") from None
    stop.check()
    if code != 0:
        raise SolverError(f"the cbc solver failed: it exited with status {code}")
    if not solution.exists():
        raise SolverError("the cbc solver failed: it wrote no solution")
    status, values, reduced, shadow, slacks, sol_status = solver.readsol_MPS(
        str(solution), problem, variables, variable_names, row_names
    )
    problem.assignVarsVals(values)
    problem.assignVarsDj(reduced)
    problem.assignConsPi(shadow)
    problem.assignConsSlack(slacks, activity=True)
    problem.assignStatus(status, sol_status)


def solve(
    problem: pulp.LpProblem,
    solver: Solver | str = Solver.AUTO,
    time_limit: float | None = None,
    warm_start: bool = False,
    *,
    highs_time_share: float = HIGHS_TIME_SHARE,
    stop: StopToken | None = None,
) -> Outcome:
    """Solve `problem` (a maximisation) and map the result to optimal/feasible/infeasible.

    `warm_start` hands CBC the variables' initial values as a first plan.
    """
    chosen = backend(solver, highs_time_share=highs_time_share)
    name = chosen.name
    with tempfile.TemporaryDirectory(prefix="sharedsvc-") as folder:
        engine = chosen.make(time_limit, warm_start=warm_start, stop=stop)
        log = Path(folder) / "solver.log"
        if name == Solver.CBC:
            engine.optionsDict["logPath"] = str(log)
        run_solver(problem, engine, name, stop=stop, folder=Path(folder))
        proven = chosen.proven_bound(problem, log) if name == Solver.CBC else None
        sol_status = problem.sol_status
        if sol_status == pulp.LpSolutionInfeasible or problem.status == pulp.LpStatusInfeasible:
            return Outcome(status=Status.INFEASIBLE, gap=None, solver=SolvedBy(name))
        if sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            raise _no_plan(name, time_limit, pulp.LpStatus[problem.status])
        values = {v.name: v.value() or 0.0 for v in problem.variables()}
        objective = pulp.value(problem.objective) or 0.0
        if sol_status == pulp.LpSolutionOptimal:
            return Outcome(
                status=Status.OPTIMAL,
                gap=0.0,
                solver=SolvedBy(name),
                values=values,
                objective=objective,
                bound=objective,
            )
        if proven is None:
            proven = _best_bound(problem, chosen, stop, Path(folder))
    bound = max(objective, proven)
    return Outcome(
        status=Status.FEASIBLE,
        gap=relative_gap(objective, bound),
        solver=SolvedBy(name),
        values=values,
        objective=objective,
        bound=bound,
    )


def _best_bound(problem: pulp.LpProblem, chosen: Backend, stop, folder: Path) -> float:
    """An upper bound on the optimum: the solver's own, else the LP relaxation's."""
    bound = chosen.proven_bound(problem, Path(os.devnull)) if chosen.name == Solver.HIGHS else None
    if bound is not None:
        return bound
    relaxed = problem.deepcopy()
    run_solver(
        relaxed, chosen.make(None, mip=False, stop=stop), chosen.name, stop=stop, folder=folder
    )
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
