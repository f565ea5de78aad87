"""The forecast's spread: the plan's figures for the years still to come drawn from its
uncertain inputs, as `sharedsvc simulate` draws them, with the years known fixed at
what was realised.

The consortium is read again from the plan's record (`record.consortium_text`), its
distributions drawn with the same seeds as `simulate --seed` (draw i from
`SeedSequence(seed).spawn(draws)[i]`), and the plan's partnerships priced in each
draw (`uncertainty.evaluate`). A draw's cash flows replace the plan's wherever the
forecast would use the plan's (years that have not ended, and missing years); years
known keep their realised figures. The draws are not conditioned on the actuals: a
partnership that has delivered half its plan is still drawn from the plan's own
distributions for its future years, so the spread is the plan's uncertainty, not a
prediction from the outturn.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import numpy as np

from sharedsvc.errors import UsageError
from sharedsvc.plugins import Registry
from sharedsvc.results import pennies
from sharedsvc.settings import Settings
from sharedsvc.tracking.compare import Tracking, used_values
from sharedsvc.tracking.plan import rebuild
from sharedsvc.uncertainty.evaluate import Plan, evaluate, evaluate_many
from sharedsvc.uncertainty.sampling import seeds
from sharedsvc.uncertainty.simulate import drawn_values
from sharedsvc.uncertainty.summary import positive, spread

AGREES = 1.0
"""Pounds a year within which today's cost models must price the plan's partnerships as
the plan did (its flows are rounded to the penny) for the draws to be about that plan."""


def _spread(values: np.ndarray) -> dict[str, float]:
    return {**spread(values), "p_positive": positive(values)}


def forecast_spread(
    found: Tracking,
    registry: Registry,
    settings: Settings,
    *,
    draws: int,
    seed: int = 0,
    progress: Callable[[str], None] = lambda message: None,
) -> Tracking:
    """`found` with the spread of each partnership's and the total forecast npv over
    `draws` draws of the plan's uncertain inputs."""
    plan = found.plan
    consortium = rebuild(plan, registry, settings, why="--draws")
    if not consortium.uncertain:
        raise UsageError(
            "--draws: the plan's consortium gives no input as a distribution "
            "(docs/uncertainty.md), so every draw would be the plan itself"
        )
    groups = tuple((p.plan.service, p.plan.members) for p in found.partnerships)
    evaluated = Plan(
        groups=groups, shares={}, npv={}, members=tuple(sorted(m.id for m in consortium.members))
    )
    profile = consortium.cash_flows
    central = evaluate(consortium, registry, settings, evaluated)
    for p, figures in zip(found.partnerships, central.figures, strict=True):
        flows = profile.flows(*figures)
        worst = float(np.max(np.abs(flows - np.asarray(p.plan.flows))))
        if worst > AGREES:
            progress(
                f"warning: {p.label}: the cost models installed now price it up to "
                f"£{worst:,.0f} a year away from the plan (made by sharedsvc {plan.version}); "
                "the draws use today's models"
            )
    progress(f"drawing {draws:,} sets of the plan's {len(consortium.uncertain)} uncertain inputs")
    values = drawn_values(consortium, registry, seeds(seed, draws), range(draws))
    outcomes = evaluate_many(consortium, registry, settings, evaluated, values)
    factors = np.asarray(plan.discount_factors)
    forecasts = np.zeros((draws, len(groups)))
    for k, outcome in enumerate(outcomes):
        for j, (p, (saving, standalone, transition)) in enumerate(
            zip(found.partnerships, outcome.figures, strict=True)
        ):
            # in pennies, as the plan file's flows: a partnership no input moves then has
            # its forecast in every draw, not a penny off it where that is half a penny
            flows = [pennies(v) for v in profile.flows(saving, standalone, transition)]
            end_exit = plan.exit_cost * pennies(transition)
            used = used_values(p.years, flows, end_exit, p.dissolved)
            forecasts[k, j] = math.fsum(np.asarray(used) * factors)
    partnerships = tuple(
        attrs.evolve(p, spread=_spread(forecasts[:, j])) for j, p in enumerate(found.partnerships)
    )
    return attrs.evolve(
        found,
        partnerships=partnerships,
        draws=draws,
        seed=seed,
        spread=_spread(forecasts.sum(axis=1)),
    )
