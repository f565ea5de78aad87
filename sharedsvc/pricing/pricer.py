"""Price groups of one service's sharers through its cost model, and share out their value.

This is the only place that calls cost-model code, so it is where a plugin that
raises, or returns NaN or negative costs, is caught and named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from sharedsvc.appraisal import money
from sharedsvc.appraisal.allocation import Allocator, CoalitionGame
from sharedsvc.errors import PluginError
from sharedsvc.model.consortium import Consortium, Participation
from sharedsvc.pricing.costmodel import CostModel
from sharedsvc.pricing.groups import FlatGroups

Group = tuple[int, ...]


@attrs.frozen(kw_only=True)
class Figures:
    """Annual saving, transition cost and npv of many groups, one array entry per group."""

    saving: np.ndarray
    transition: np.ndarray
    npv: np.ndarray

    def __getitem__(self, keep: np.ndarray) -> Figures:
        """The figures of the groups selected by a boolean mask or an index array."""
        return Figures(
            saving=self.saving[keep], transition=self.transition[keep], npv=self.npv[keep]
        )


class ServicePricer:
    """Prices groups of one service's sharers, and shares out their npv."""

    def __init__(
        self,
        consortium: Consortium,
        service_id: str,
        model: CostModel,
        plugin: str,
        *,
        max_shapley_size: int,
    ):
        self.service = consortium.service(service_id)
        self.tag = str([s.id for s in consortium.services].index(service_id))
        """A short ASCII name for the service, unique in the consortium (for model columns)."""
        self.model = model
        self.plugin = plugin
        self.sharers: tuple[Participation, ...] = consortium.sharers(service_id)
        self.ids = tuple(p.member.id for p in self.sharers)
        self.participants = tuple(p.participant() for p in self.sharers)
        self.annuity = money.annuity(consortium.horizon_years, consortium.discount_rate)
        self.standalone = self._standalone_costs()
        self.game = CoalitionGame(lambda groups: self.figures(groups).npv)
        """v(S): the npv of S formed as one group (zero for one member)."""
        self.allocator = Allocator(
            consortium.allocation, self.standalone, self.game, max_shapley_size
        )

    def _fail(self, what: str) -> PluginError:
        return PluginError(
            f"cost model {self.model.name!r} (plugin {self.plugin!r}) {what} "
            f"for service {self.service.id!r}"
        )

    def _standalone_costs(self) -> np.ndarray:
        costs = []
        for p in self.participants:
            try:
                cost = float(self.model.standalone_cost(p, self.service.parameters))
            except Exception as exc:  # plugin code: name it
                raise self._fail(
                    f"raised {type(exc).__name__}: {exc} pricing {p.member.id!r} alone"
                ) from exc
            costs.append(cost)
        costs_array = np.array(costs, dtype=float)
        if not np.all(np.isfinite(costs_array)) or np.any(costs_array < 0):
            raise self._fail(f"returned a standalone cost that is negative or not finite: {costs}")
        return costs_array

    def figures(self, groups: Sequence[Group]) -> Figures:
        """Annual saving, transition cost and npv of each group (ascending index tuples,
        two or more members), checked."""
        try:
            prices = self.model.price_groups(self.participants, groups, self.service.parameters)
            running = np.asarray(prices.running, dtype=float)
            transition = np.asarray(prices.transition, dtype=float)
            income = (
                np.zeros(len(groups))
                if prices.income is None
                else np.asarray(prices.income, dtype=float)
            )
        except Exception as exc:  # plugin code: name it
            raise self._fail(f"raised {type(exc).__name__}: {exc}") from exc
        for name, array, floor in (
            ("running cost", running, 0.0),
            ("transition cost", transition, 0.0),
            ("added income", income, -np.inf),
        ):
            if array.shape != (len(groups),):
                raise self._fail(f"returned {array.shape} {name}s for {len(groups)} groups")
            bad = ~np.isfinite(array) | (array < floor)
            if bad.any():
                first = groups[int(np.argmax(bad))]
                raise self._fail(
                    f"returned a {name} that is {'negative or ' if floor == 0 else ''}not finite "
                    f"({array[bad][0]!r} for group {[self.ids[i] for i in first]})"
                )
        saving = self._standalone_sums(groups) - running + income
        return Figures(
            saving=saving,
            transition=transition,
            npv=money.npv(saving, transition, self.annuity),
        )

    def _standalone_sums(self, groups: Sequence[Group]) -> np.ndarray:
        return FlatGroups.of(groups).sum(self.standalone) if groups else np.zeros(0)

    def allocation(self, indices: Group, npv: float) -> Mapping[str, float]:
        """Each member's share of a group's npv, by member id, sorted."""
        shares = self.allocator.shares(indices, npv)
        return dict(sorted(zip((self.ids[i] for i in indices), shares, strict=True)))
