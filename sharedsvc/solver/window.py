"""The optimum of a block proven by MIPs over a widening window of promising groups.

Why: once every group j has a proven bound b_j on any plan that uses it (from the LP's
reduced costs and from the Lagrangian phase, `solver/lagrange.py`), the groups worth
searching are those whose bound is near the best possible value. A MIP over those
few is fast; the rest need no search if the plan it finds is good enough.

How. For a threshold t, let W be the groups with b_j >= t (with every member alone).
A plan that uses a group outside W is worth less than t. So, with the MIP over W
solved to its optimum g:

- if g >= t, the plan is optimal for the whole block;
- otherwise no plan is worth more than max(g, t) (and t is the bound, as g < t).

The threshold starts a small share below the bound and its distance doubles each
round, so a run stopped by its time limit has a proven bound at every round, and
a plan that loses little is found without opening the whole gap. A MIP stopped by
the time limit gives its own bound in place of g.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import attrs
import numpy as np

from sharedsvc.constants import SolvedBy, Status
from sharedsvc.errors import SolverError
from sharedsvc.solver import relaxation
from sharedsvc.solver.backends import Cbc, Highs, Outcome, relative_gap
from sharedsvc.stopping import StopToken

Progress = Callable[[str], None]


@attrs.frozen(kw_only=True)
class Closed:
    """The best plan found (columns of the LP), its value, and the proven bound."""

    plan: np.ndarray | None
    value: float
    bound: float
    """Minus infinity: no plan exists (the window held every group and had none)."""
    optimal: bool
    solver: SolvedBy = SolvedBy.HIGHS


def close_gap(
    lp: relaxation.Relaxation,
    column_bounds: np.ndarray,
    bound: float,
    always: np.ndarray,
    plan: np.ndarray | None,
    value: float,
    *,
    first_share: float,
    max_columns: int,
    deadline: float | None,
    time_share: float,
    progress: Progress,
    label: str,
    stop: StopToken,
    rounds: int | None = None,
    use_cbc: bool = False,
    proven: float = math.inf,
) -> Closed:
    """Widen the window until its MIP's plan reaches the threshold, the window would
    hold more than `max_columns` groups, the deadline passes, or after `rounds` MIPs.
    The MIPs are solved by CBC (`use_cbc`) or HiGHS.

    `column_bounds[j]` bounds any plan using column j; `bound` bounds every plan;
    `always` marks columns always in the window (the members alone); `plan`/`value` a
    plan known already (or None/-inf). `proven` bounds every plan too, but does not set
    the thresholds: a bound that no group's bound reflects (the knapsack over a budget's
    levels, `solver/levels.py`) would put every group above it into the first window
    (on random-40, 30,893 groups whose MIP found no better plan in 54 s)."""
    tolerance = 1e-9 * max(1.0, abs(bound)) + 1e-3
    """How close to the bound a plan is called optimal (the tests ask for a penny)."""
    margin = 1e-6 * max(1.0, abs(bound)) + 1.0
    """How far below the threshold a group's bound may be and the group still in the
    window: LP round-off in the bounds stays far below it, as in fixing."""
    solver = SolvedBy.CBC if use_cbc else SolvedBy.HIGHS

    def stopped() -> Closed:
        """The plan so far, not proven optimal, with the best bound proven."""
        return Closed(
            plan=plan, value=value, bound=min(bound, proven), optimal=False, solver=solver
        )

    if plan is not None and value > proven + tolerance:  # never: a plan above a proof
        raise SolverError(f"{label}: a plan worth {value:,.2f} above its bound {proven:,.2f}")
    if plan is not None and value >= min(bound, proven) - tolerance:
        return Closed(plan=plan, value=value, bound=value, optimal=True, solver=solver)
    distance = max(abs(bound) * first_share, 1.0)
    in_plan = np.zeros(len(column_bounds), dtype=bool)
    started = time.perf_counter()
    pace: float | None = None
    """Seconds per group of the last window's MIP."""
    while True:
        stop.check()
        threshold = bound - distance
        if plan is not None:
            threshold = max(threshold, value)
            in_plan[:] = False
            in_plan[plan] = True
        window = (column_bounds >= threshold - margin) | always | in_plan
        columns = np.flatnonzero(window)
        if len(columns) > max_columns:
            if plan is not None:
                progress(
                    f"{label}: {len(columns):,} groups could still beat the plan, more "
                    f"than one MIP takes ({max_columns:,}); stopping with the bound proven"
                )
                return stopped()
            # no plan yet: the most promising groups only (the rest bound what they miss)
            window = always | in_plan
            optional = np.flatnonzero(~window)
            best = optional[np.argsort(-column_bounds[optional], kind="stable")[:max_columns]]
            window[best] = True
            columns = np.flatnonzero(window)
        limit = None if deadline is None else deadline - time.perf_counter()
        if limit is not None and (limit <= 0 or (pace is not None and pace * len(columns) > limit)):
            # MIPs overran their limits by far in presolve (a 6 s limit: 19 s on 45,000
            # groups): no window that would not end in the time left at the pace so far
            return stopped()
        solving = time.perf_counter()
        outcome = _solve_window(lp, columns, plan, limit, time_share, stop, use_cbc)
        pace = (time.perf_counter() - solving) / max(1, len(columns))
        found = outcome is not None and outcome.status in (Status.OPTIMAL, Status.FEASIBLE)
        if found and outcome.objective > value + tolerance:
            chosen = [j for j in columns if lp.names[j] in outcome.values]
            plan, value = np.array(chosen, dtype=np.int64), outcome.objective
        window_bound = math.inf if outcome is None else outcome.bound
        if outcome is not None and outcome.status == Status.INFEASIBLE:
            window_bound = -math.inf
        outside = column_bounds[~window]
        beyond = float(outside.max()) if len(outside) else -math.inf
        bound = min(bound, max(window_bound, beyond, value))
        if math.isinf(bound) and bound < 0:  # every group in the window, and no plan
            progress(f"{label}: no plan meets the rows")
            return Closed(
                plan=None, value=-math.inf, bound=min(bound, proven), optimal=False, solver=solver
            )
        shown = min(bound, proven)
        gap = relative_gap(value, shown) if plan is not None else math.inf
        progress(
            f"{label}: window of {len(columns):,} groups: plan "
            + ("none" if plan is None else f"{value:,.0f}")
            + f", bound {shown:,.0f} ({gap:.3%}; {time.perf_counter() - started:.1f} s)"
        )
        if plan is not None and value >= shown - tolerance:
            return Closed(plan=plan, value=value, bound=value, optimal=True, solver=solver)
        if value > shown + tolerance:  # never: a plan above a proven bound
            raise SolverError(f"{label}: a plan worth {value:,.2f} above its bound {shown:,.2f}")
        if not len(outside):  # the window held every column and its MIP stopped early
            return stopped()
        if rounds is not None:
            rounds -= 1
            if rounds <= 0:
                return stopped()
        distance *= 2


def _solve_window(
    lp: relaxation.Relaxation,
    columns: np.ndarray,
    plan: np.ndarray | None,
    limit: float | None,
    time_share: float,
    stop: StopToken,
    use_cbc: bool,
) -> Outcome | None:
    """The MIP over `columns`, from `plan`, by CBC or HiGHS; None when it found no plan
    in time."""
    mip = relaxation.restricted_mip(lp, columns)
    start = () if plan is None else {lp.names[j] for j in plan}
    if use_cbc and limit is not None:
        limit *= time_share  # the MPS file and reading the plan back take time too
    solver = Cbc() if use_cbc else Highs(time_share)
    try:
        return solver.solve_model(mip.highs, mip.names, limit, start, stop=stop)
    except SolverError:  # no plan in time, or one that failed the rows: the bound stands
        return None


def closed_outcome(closed: Closed) -> Outcome:
    """The block's outcome from a closed (or time-limited) window search."""
    return Outcome(
        status=Status.OPTIMAL if closed.optimal else Status.FEASIBLE,
        gap=0.0 if closed.optimal else relative_gap(closed.value, closed.bound),
        solver=closed.solver,
        objective=closed.value,
        bound=closed.value if closed.optimal else closed.bound,
    )
