"""Draws of the uncertain inputs: one seeded generator per draw, by draw index.

Each draw's generator comes from `numpy.random.SeedSequence(seed).spawn(draws)`
at that draw's index, so a draw's values depend only on the seed and its index,
never on which worker ran it or in what order. Inputs that share a field (the
same field of one service, across members; or one model parameter) are drawn
through a Gaussian copula with the field's `correlation`: z = sqrt(rho) g +
sqrt(1 - rho) e, u = Phi(z), value = the distribution's quantile at u.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from sharedsvc.model.consortium import Consortium, UncertainInput
from sharedsvc.plugins import Registry


def seeds(seed: int, draws: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(draws)


def _groups(inputs: Sequence[UncertainInput]) -> list[list[int]]:
    """Positions of inputs that share a field, in the order they first appear."""
    by_field: dict[tuple, list[int]] = {}
    for i, item in enumerate(inputs):
        by_field.setdefault((item.service, item.name, item.member is None), []).append(i)
    return list(by_field.values())


def uniforms(inputs: Sequence[UncertainInput], sequence: np.random.SeedSequence) -> np.ndarray:
    """One probability per input for one draw, correlated within each field."""
    from scipy import stats

    rng = np.random.default_rng(sequence)
    u = np.empty(len(inputs))
    for group in _groups(inputs):
        rho = max(inputs[i].distribution.correlation for i in group)
        common = rng.standard_normal()
        own = rng.standard_normal(len(group))
        u[group] = stats.norm.cdf(np.sqrt(rho) * common + np.sqrt(1 - rho) * own)
    return u


def _bounds(registry: Registry, consortium: Consortium, item: UncertainInput):
    model = registry.cost_models[consortium.service(item.service).model]
    fields = model.parameters if item.member is None else model.member_fields
    return next(f for f in fields if f.name == item.name)


def values_at(registry: Registry, consortium: Consortium, probabilities: np.ndarray) -> np.ndarray:
    """Each uncertain input's value at its probability (one row per draw, one column per
    input), kept within its field's bounds; whole numbers for integer fields."""
    probabilities = np.atleast_2d(np.asarray(probabilities, dtype=float))
    out = np.empty_like(probabilities)
    for j, item in enumerate(consortium.uncertain):
        column = item.distribution.ppf(probabilities[:, j])
        field = _bounds(registry, consortium, item)
        if field.type == "integer":  # rounded first, so that the bounds still hold after
            column = np.round(column)
            if field.minimum is not None and field.exclusive_minimum:
                column = np.maximum(column, np.floor(field.minimum) + 1)
        if field.minimum is not None:
            floor = field.minimum
            if field.exclusive_minimum:
                floor += 1e-9 * max(1.0, abs(field.minimum))
            column = np.maximum(column, floor)
        if field.maximum is not None:
            column = np.minimum(column, field.maximum)
        out[:, j] = column
    return out


def with_values(consortium: Consortium, values: Sequence[float]) -> Consortium:
    """The consortium with each uncertain input set to its value."""
    members: dict[tuple[str, str], dict[str, float]] = {}
    parameters: dict[str, dict[str, float]] = {}
    for item, value in zip(consortium.uncertain, values, strict=True):
        if item.member is None:
            parameters.setdefault(item.service, {})[item.name] = value
        else:
            members.setdefault((item.member, item.service), {})[item.name] = value
    participations = tuple(
        attrs.evolve(p, fields={**p.fields, **members[(p.member.id, p.service)]})
        if (p.member.id, p.service) in members
        else p
        for p in consortium.participations
    )
    services = tuple(
        attrs.evolve(s, parameters={**s.parameters, **parameters[s.id]})
        if s.id in parameters
        else s
        for s in consortium.services
    )
    return attrs.evolve(consortium, participations=participations, services=services)
