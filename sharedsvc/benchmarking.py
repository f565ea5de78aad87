"""Unit-cost benchmarking (`sharedsvc benchmark`): each member's indicators, ranked
against the other members and against the peer figures its cost model ships, with the
yearly saving if it moved to the median or the top quartile (MIETOOL's "savings
estimation").

Quartiles among the members are numpy's linear-interpolation percentiles (25th and 75th)
of the members' values; a member's quartile counts the members strictly better than it
(the best is in the first quartile, ties share a rank). A saving is the gap to the
target times the member's volume, never below zero; it is shown only for costs per unit
(`Indicator.per`), where value times volume is a yearly cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from sharedsvc.errors import PluginError
from sharedsvc.model.consortium import Consortium
from sharedsvc.plugins import Registry
from sharedsvc.pricing.indicators import Indicator, Measure, Peers


@attrs.frozen(kw_only=True)
class PeerPosition:
    """Where a member stands against one source's peer figures."""

    peers: Peers
    position: str
    """"top quartile" to "bottom quartile" when the source gives quartiles; otherwise
    better or worse than its median or mean."""
    target_name: str | None
    target: float | None
    saving: float | None
    """Pounds a year at the peer median (or mean), for a cost per unit; else None."""


@attrs.frozen(kw_only=True)
class MemberFigure:
    member: str
    value: float
    volume: float | None
    rank: int
    """1 is the best; members with the same value share a rank."""
    quartile: int
    """1 (best) to 4, among the members measured."""
    saving_to_median: float | None
    saving_to_top_quartile: float | None
    peers: tuple[PeerPosition, ...] = ()


@attrs.frozen(kw_only=True)
class IndicatorBenchmark:
    service: str
    model: str
    indicator: Indicator
    members: tuple[MemberFigure, ...]
    """Best first."""
    median: float
    top_quartile: float
    """The value that bounds the best quarter of the members."""

    @property
    def best(self) -> MemberFigure:
        return self.members[0]

    @property
    def saving_to_median(self) -> float | None:
        found = [m.saving_to_median for m in self.members if m.saving_to_median is not None]
        return sum(found) if found else None

    @property
    def saving_to_top_quartile(self) -> float | None:
        found = [m.saving_to_top_quartile for m in self.members]
        found = [s for s in found if s is not None]
        return sum(found) if found else None


def benchmark(consortium: Consortium, registry: Registry) -> list[IndicatorBenchmark]:
    """Every indicator of every service whose cost model declares some, in file order."""
    found = []
    for service in consortium.services:
        model = registry.cost_models.get(service.model)
        if model is None or not model.indicators:
            continue
        plugin = registry.owner_of_model(service.model)
        measured = {}
        for p in consortium.participants(service.id):
            measured[p.member.id] = _measure(model, plugin, service.id, p.participant(), service)
        for indicator in model.indicators:
            values = {
                m: figures[indicator.name]
                for m, figures in measured.items()
                if indicator.name in figures
            }
            if values:
                found.append(_rank(service.id, service.model, indicator, values))
    return found


def _measure(model, plugin: str, service: str, participant, spec) -> dict[str, Measure]:
    """The model's measures of one member, checked: every name declared, every value a
    finite number; a `PluginError` naming the plugin otherwise."""
    where = f"cost model {model.name!r} (plugin {plugin!r}) for service {service!r}"
    member = participant.member.id
    try:
        raw = dict(model.measure(participant, spec.parameters))
    except Exception as exc:
        raise PluginError(
            f"{where} raised {type(exc).__name__}: {exc} in measure of {member!r} "
            "(expected a mapping of indicator names to Measure)"
        ) from exc
    declared = {i.name for i in model.indicators}
    checked = {}
    for name, measure in raw.items():
        if name not in declared:
            raise PluginError(f"{where} measured {name!r}, which it does not declare")
        value = measure.value if isinstance(measure, Measure) else measure
        volume = measure.volume if isinstance(measure, Measure) else None
        for what, number in (("value", value), ("volume", volume)):
            if number is None and what == "volume":
                continue
            if isinstance(number, bool) or not isinstance(number, int | float | np.number):
                raise PluginError(f"{where} gave {name!r} a {what} that is not a number")
            if not math.isfinite(float(number)):
                raise PluginError(f"{where} gave {name!r} a {what} that is not finite")
            if what == "volume" and number <= 0:
                raise PluginError(f"{where} gave {name!r} a volume of {number}; expected > 0")
        checked[name] = Measure(float(value), None if volume is None else float(volume))
    return checked


def _rank(service: str, model: str, indicator: Indicator, values) -> IndicatorBenchmark:
    sign = -1.0 if indicator.higher_is_better else 1.0  # lower sorts first once signed
    numbers = np.array([m.value for m in values.values()])
    median = float(np.percentile(numbers, 50))
    top = float(np.percentile(numbers, 75 if indicator.higher_is_better else 25))
    costs = indicator.per is not None and not indicator.higher_is_better
    count = len(values)
    signed = np.sort(sign * numbers)  # members strictly better: those sorted before
    ahead = np.searchsorted(signed, sign * numbers, side="left").tolist()
    figures = []
    for (member, measure), better in zip(values.items(), ahead, strict=True):
        figures.append(
            MemberFigure(
                member=member,
                value=measure.value,
                volume=measure.volume,
                rank=1 + better,
                quartile=min(4, 1 + (4 * better) // count),
                saving_to_median=_saving(measure, median) if costs else None,
                saving_to_top_quartile=_saving(measure, top) if costs else None,
                peers=tuple(_position(indicator, measure, p, costs) for p in indicator.peers),
            )
        )
    figures.sort(key=lambda f: (f.rank, f.member))
    return IndicatorBenchmark(
        service=service,
        model=model,
        indicator=indicator,
        members=tuple(figures),
        median=median,
        top_quartile=top,
    )


def _saving(measure: Measure, target: float) -> float | None:
    if measure.volume is None:
        return None
    return max(0.0, measure.value - target) * measure.volume


QUARTILES = ("top quartile", "second quartile", "third quartile", "bottom quartile")


def _position(indicator: Indicator, measure: Measure, peers: Peers, costs: bool) -> PeerPosition:
    def better(a: float, b: float) -> bool:  # a at least as good as b
        return a >= b if indicator.higher_is_better else a <= b

    value = measure.value
    bounds: Sequence[float | None] = (peers.best_quartile, peers.median, peers.worst_quartile)
    if all(b is not None for b in bounds):
        index = next((i for i, b in enumerate(bounds) if better(value, b)), 3)
        position = QUARTILES[index]
    elif peers.target is not None:
        name, target = peers.target
        position = f"{'better' if better(value, target) else 'worse'} than the {name}"
    else:
        position = ""
    target = peers.target
    return PeerPosition(
        peers=peers,
        position=position,
        target_name=None if target is None else target[0],
        target=None if target is None else target[1],
        saving=_saving(measure, target[1])
        if costs and target is not None and peers.comparable
        else None,
    )
