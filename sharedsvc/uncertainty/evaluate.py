"""One plan priced under one set of inputs: each group's and member's npv, the payback.

The plan is fixed (the optimised one); only prices move. Shares follow the
consortium's rule where a group's shares depend on the group alone
(`proportional`, `equal`, `shapley`); under `nucleolus` and `core` each member keeps
its fraction of its group's npv from the optimised plan, since re-solving the
nucleolus for every draw would measure the rule, not the plan. Under those rules a
member keeps its optimised share and the group's change in npv is spread equally
(shares, not fractions of npv: a share may be large beside a small npv).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from sharedsvc.appraisal.cashflows import payback_year
from sharedsvc.model.consortium import Consortium
from sharedsvc.pipeline import make_pricers
from sharedsvc.plugins import Registry
from sharedsvc.results import Result
from sharedsvc.settings import Settings


@attrs.frozen(kw_only=True)
class Plan:
    """What is evaluated: each service's groups, and the shares fixed by plan-wide rules."""

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    """(service, member ids) for every group of two or more, in the result's order."""
    shares: Mapping[tuple[str, tuple[str, ...]], Mapping[str, float]]
    """Each group's members' shares in the optimised plan (used by plan-wide rules)."""
    npv: Mapping[tuple[str, tuple[str, ...]], float]
    """Each group's npv in the optimised plan."""
    members: tuple[str, ...]

    @classmethod
    def of(cls, result: Result) -> Plan:
        groups, shares, npv = [], {}, {}
        for service in result.services:
            for group in service.groups:
                key = (service.service, group.members)
                groups.append(key)
                shares[key] = dict(group.allocation)
                npv[key] = group.npv
        return cls(
            groups=tuple(groups), shares=shares, npv=npv, members=tuple(sorted(result.kinds))
        )


@attrs.frozen(kw_only=True)
class Outcome:
    total: float
    groups: np.ndarray
    """npv of each of the plan's groups."""
    members: np.ndarray
    """npv of each member, in `Plan.members` order."""
    payback_year: int | None
    figures: np.ndarray = attrs.field(factory=lambda: np.zeros((0, 3)))
    """Each group's annual saving, standalone cost and one-off cost (one row per group,
    in `Plan.groups` order): its cash flows year by year, for `sharedsvc track`."""


def evaluate(consortium: Consortium, registry: Registry, settings: Settings, plan: Plan) -> Outcome:
    pricers = make_pricers(consortium, registry, settings)
    position = {m: i for i, m in enumerate(plan.members)}
    members = np.zeros(len(plan.members))
    npvs = np.zeros(len(plan.groups))
    figures_by_group = np.zeros((len(plan.groups), 3))
    horizon = consortium.horizon_years
    discounted = np.zeros(horizon + 1)
    by_service: dict[str, list[int]] = {}
    for k, (service, _) in enumerate(plan.groups):
        by_service.setdefault(service, []).append(k)
    for service, ks in by_service.items():
        pricer = pricers[service]
        index = {m: i for i, m in enumerate(pricer.ids)}
        groups = [tuple(sorted(index[m] for m in plan.groups[k][1])) for k in ks]
        figures = pricer.figures(groups)
        profile = pricer.cash_flows
        plan_wide = pricer.allocator.rule.plan_wide
        for k, group, npv, saving, transition in zip(
            ks,
            groups,
            figures.npv.tolist(),
            figures.saving.tolist(),
            figures.transition.tolist(),
            strict=True,
        ):
            npvs[k] = npv
            standalone = float(sum(pricer.standalone[i] for i in group))
            figures_by_group[k] = (saving, standalone, transition)
            discounted += profile.discounted(profile.flows(saving, standalone, transition))
            key = plan.groups[k]
            if plan_wide and key in plan.shares:
                change = (npv - plan.npv[key]) / len(key[1])
                shares = {m: v + change for m, v in plan.shares[key].items()}
            elif plan_wide:  # a group the optimised plan did not have: equal shares
                shares = {m: npv / len(key[1]) for m in key[1]}
            else:
                shares = pricer.allocation(group, npv)
            for member, share in shares.items():
                members[position[member]] += share
    return Outcome(
        total=float(npvs.sum()),
        groups=npvs,
        members=members,
        payback_year=payback_year(discounted) if plan.groups else None,
        figures=figures_by_group,
    )


def evaluate_many(
    consortium: Consortium,
    registry: Registry,
    settings: Settings,
    plan: Plan,
    values: Sequence[Sequence[float]],
) -> list[Outcome]:
    """The plan under each row of input values."""
    from sharedsvc.uncertainty.sampling import with_values

    return [evaluate(with_values(consortium, row), registry, settings, plan) for row in values]
