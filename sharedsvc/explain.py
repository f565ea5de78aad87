"""Why a plan is what it is: today, which constraints clash when no plan exists.

Analyses that re-solve live here, apart from the run loop (as PyPSA keeps `mga.py`
apart from its optimisation); the coming why-not explanations join them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from sharedsvc.constants import Status
from sharedsvc.model.consortium import Consortium
from sharedsvc.pricing.candidates import Candidate, service_candidates, too_large
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.rules import Constraint
from sharedsvc.settings import Settings
from sharedsvc.solver.backends import solve
from sharedsvc.solver.blocks import blocks
from sharedsvc.solver.build import build_model
from sharedsvc.stopping import StopToken


def all_candidates(
    consortium: Consortium,
    pricers: Mapping[str, ServicePricer],
    constraints: Sequence[Constraint],
    settings: Settings,
) -> dict[str, list[Candidate]]:
    """Every service's candidates under `constraints` (pruned as `settings` says)."""
    return {
        s.id: service_candidates(
            consortium,
            pricers[s.id],
            constraints,
            prune=settings.prune,
            max_groups=settings.max_groups_per_service,
        ).candidates
        for s in consortium.services
    }


def is_feasible(
    consortium: Consortium,
    pricers: Mapping[str, ServicePricer],
    constraints: Sequence[Constraint],
    settings: Settings,
    stop: StopToken | None = None,
) -> bool:
    """Whether some plan satisfies `constraints` (a feasibility model per block)."""
    candidates = all_candidates(consortium, pricers, constraints, settings)
    for block in blocks(list(candidates), constraints):
        built = build_model(pricers, {s: candidates[s] for s in block}, constraints, None)
        if built is None:
            return False
        outcome = solve(
            built.problem,
            settings.solver,
            highs_time_share=settings.highs_time_share,
            stop=stop,
        )
        if outcome.status == Status.INFEASIBLE:
            return False
    return True


EXPLAIN_SHARE = 20
"""A trial of the explanation may enumerate a twentieth of what a run may (100,000 groups
a service by default): dropping max_group_size = 3 on 20 members meant a million groups,
119 s and 3.5 GB."""


def clashing_constraints(
    consortium: Consortium,
    pricers: Mapping[str, ServicePricer],
    settings: Settings,
    stop: StopToken | None = None,
    deadline: float | None = None,
) -> list[str]:
    """A minimal set of constraints that clash, by deletion filtering, in the user's words.

    Drop each constraint in turn; if the rest is still infeasible it is not
    needed for the clash and stays dropped. What remains is irreducible: remove
    any one and a grouping exists. A constraint whose removal would make a service
    too large to enumerate quickly (dropping `max_group_size` on 25 members, say) is
    kept untested, as is every constraint still untested at `deadline`: the answer is then
    a set that clashes, perhaps not a minimal one.
    """
    active = list(consortium.constraints)
    for constraint in list(active):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        trial = [c for c in active if c is not constraint]
        limit = settings.max_groups_per_service // EXPLAIN_SHARE
        if any(too_large(consortium, s.id, trial, limit) for s in consortium.services):
            continue
        if not is_feasible(consortium, pricers, trial, settings, stop):
            active = trial
    return [c.label for c in active]
