"""Why a plan is what it is: today, which constraints clash when no plan exists.

Analyses that re-solve live here, apart from the run loop (as PyPSA keeps `mga.py`
apart from its optimisation); the coming why-not explanations join them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sharedsvc.constants import Status
from sharedsvc.model.consortium import Consortium
from sharedsvc.pricing.candidates import Candidate, service_candidates
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


def clashing_constraints(
    consortium: Consortium,
    pricers: Mapping[str, ServicePricer],
    settings: Settings,
    stop: StopToken | None = None,
) -> list[str]:
    """A minimal set of constraints that clash, by deletion filtering, in the user's words.

    Drop each constraint in turn; if the rest is still infeasible it is not
    needed for the clash and stays dropped. What remains is irreducible: remove
    any one and a grouping exists.
    """
    active = list(consortium.constraints)
    for constraint in list(active):
        trial = [c for c in active if c is not constraint]
        if not is_feasible(consortium, pricers, trial, settings, stop):
            active = trial
    return [c.label for c in active]
