"""A service's plan assessed: the allocation under the rule, its stability, each member's cash."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from sharedsvc.fairness.figures import split_cash
from sharedsvc.fairness.nucleolus import nucleolus
from sharedsvc.fairness.separation import most_blocking, worse_off_alone
from sharedsvc.fairness.subsidy import cheapest_unblocked
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.coalitions import GameGroups
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.results import Blocking, Cash, Stability


@attrs.frozen(kw_only=True)
class Assessment:
    shares: np.ndarray
    """Each sharer's allocated npv (zero when alone)."""
    allocations: dict[tuple[int, ...], dict[str, float]]
    """Each chosen group's shares, by member id."""
    stability: Stability | None
    cash: dict[str, Cash]
    blocking_positions: frozenset[int] = frozenset()


def allocate(
    pricer: ServicePricer, groups: Sequence[Candidate], game: GameGroups | None
) -> np.ndarray:
    """Each sharer's share of the plan's npv under the consortium's rule."""
    shares = np.zeros(len(pricer.ids))
    rule = pricer.allocator.rule
    if rule.plan_wide and groups:
        assert game is not None, "plan-wide rules need the service's game"
        return nucleolus(game, len(pricer.ids), [(c.indices, c.npv) for c in groups]).shares
    for c in groups:
        shares[list(c.indices)] = pricer.allocator.shares(c.indices, c.npv)
    return shares


def stability_of(
    pricer: ServicePricer, game: GameGroups, shares: np.ndarray, plan_npv: float
) -> tuple[Stability, frozenset[int]]:
    """The stability report of an allocation, and the positions of its blocking group."""
    ids = pricer.ids
    found = most_blocking(game, shares)
    floor = cheapest_unblocked(game, len(ids), [])
    blocking = None
    if found is not None:
        blocking = Blocking(
            members=tuple(sorted(ids[i] for i in found.members)),
            value=found.value,
            allocated=found.allocated,
        )
    stability = Stability(
        blocking=blocking,
        cost_of_stability=max(0.0, floor.bound - plan_npv),
        lp_bound=max(floor.bound, plan_npv),
        worse_off_alone=tuple(sorted(ids[i] for i in worse_off_alone(game, shares))),
    )
    return stability, frozenset(found.members) if found is not None else frozenset()


def assess(
    pricer: ServicePricer,
    chosen: Sequence[Candidate],
    game: GameGroups | None,
    *,
    assessed: bool = True,
) -> Assessment:
    """Allocate a service's chosen groups and, when `assessed`, check their stability."""
    groups = [c for c in chosen if c.size >= 2]
    shares = allocate(pricer, groups, game)
    ids = pricer.ids
    allocations = {c.indices: {ids[i]: float(shares[i]) for i in c.indices} for c in groups}
    profile = pricer.cash_flows
    nothing = profile.flows(0.0, 0.0, 0.0)
    cash = {
        member: Cash(undiscounted=tuple(nothing), discounted=tuple(nothing))
        for member in pricer.standalone_by_member
    }
    for c in groups:
        parts = split_cash(
            [shares[i] for i in c.indices],
            c.npv,
            c.annual_saving,
            c.transition_cost,
            [float(pricer.standalone[i]) for i in c.indices],
            pricer.weights,
        )
        for i, (saving, transition, standalone) in zip(c.indices, parts, strict=True):
            flows = profile.flows(saving, standalone, transition)
            cash[ids[i]] = Cash(
                npv=float(shares[i]),
                annual_saving=saving,
                transition_cost=transition,
                undiscounted=tuple(flows.tolist()),
                discounted=tuple(profile.discounted(flows).tolist()),
            )
    stability, blocking = None, frozenset()
    if assessed and game is not None:
        stability, blocking = stability_of(pricer, game, shares, sum(c.npv for c in groups))
    return Assessment(
        shares=shares,
        allocations=allocations,
        stability=stability,
        cash=cash,
        blocking_positions=blocking,
    )
