"""Price candidate groups through a service's cost model, and share out their value.

This is the only place that calls cost-model code, so it is where a plugin that
raises, or returns NaN or negative costs, is caught and named.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from sharedsvc import appraisal
from sharedsvc.consortium import Consortium, Participation
from sharedsvc.costmodel import CostModel, FlatGroups, Participant
from sharedsvc.errors import PluginError, TooLargeError

MAX_SHAPLEY_SIZE = 16
"""Exact Shapley values price 2 ** k coalitions; beyond this a group is too big for them."""


@attrs.define(eq=False)
class Candidate:
    """A group that may be chosen for a service, with its figures."""

    service: str
    indices: tuple[int, ...]
    """Positions among the service's sharers, ascending."""
    members: tuple[str, ...]
    """Member ids, sorted."""
    annual_saving: float
    transition_cost: float
    npv: float
    pricer: ServicePricer = attrs.field(repr=False)

    @property
    def size(self) -> int:
        return len(self.indices)

    def value(self, objective: str) -> float:
        return self.npv if objective == "npv" else self.annual_saving

    def allocation(self) -> dict[str, float]:
        """Each member's share of the group's npv under the consortium's allocation rule."""
        return self.pricer.allocate(self)


class ServicePricer:
    """Prices groups of one service's sharers, and values coalitions for Shapley."""

    def __init__(self, consortium: Consortium, service_id: str, model: CostModel, plugin: str):
        self.consortium = consortium
        self.service = consortium.service(service_id)
        self.tag = str([s.id for s in consortium.services].index(service_id))
        """A short ASCII name for the service's model variables."""
        self.model = model
        self.plugin = plugin
        self.sharers: tuple[Participation, ...] = consortium.sharers(service_id)
        self.ids = tuple(p.member.id for p in self.sharers)
        self.participants = tuple(
            Participant(member=p.member, fields=p.fields) for p in self.sharers
        )
        self.annuity = appraisal.annuity(consortium.horizon_years, consortium.discount_rate)
        self.standalone = self._standalone_costs()
        self._npv_cache: dict[tuple[int, ...], float] = {}

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

    def price_arrays(
        self, groups: Sequence[tuple[int, ...]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Annual saving, transition cost and npv of each group, checked, as arrays."""
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
        return saving, transition, appraisal.npv(saving, transition, self.annuity)

    def _standalone_sums(self, groups: Sequence[tuple[int, ...]]) -> np.ndarray:
        return FlatGroups.of(groups).sum(self.standalone) if groups else np.zeros(0)

    def candidates(
        self,
        groups: Sequence[tuple[int, ...]],
        saving: np.ndarray,
        transition: np.ndarray,
        npv: np.ndarray,
    ) -> list[Candidate]:
        """Candidate objects for priced groups."""
        ids = self.ids
        return [
            Candidate(
                service=self.service.id,
                indices=group,
                members=tuple(sorted(ids[i] for i in group)),
                annual_saving=sav,
                transition_cost=trans,
                npv=value,
                pricer=self,
            )
            for group, sav, trans, value in zip(
                groups, saving.tolist(), transition.tolist(), npv.tolist(), strict=True
            )
        ]

    def price(self, groups: Sequence[tuple[int, ...]]) -> list[Candidate]:
        """Candidates for these groups (index tuples, ascending, two or more members)."""
        return self.candidates(groups, *self.price_arrays(groups))

    def singleton(self, index: int) -> Candidate:
        """A member alone: saving, transition and npv are zero by definition."""
        return Candidate(
            service=self.service.id,
            indices=(index,),
            members=(self.ids[index],),
            annual_saving=0.0,
            transition_cost=0.0,
            npv=0.0,
            pricer=self,
        )

    def npv_of(self, group: tuple[int, ...]) -> float:
        """The npv of any coalition (the Shapley game's value), cached."""
        if len(group) < 2:
            return 0.0
        if group not in self._npv_cache:
            self._npv_cache[group] = self.price([group])[0].npv
        return self._npv_cache[group]

    def allocate(self, candidate: Candidate) -> dict[str, float]:
        rule = self.consortium.allocation
        group = candidate.indices
        if rule == "equal":
            shares = appraisal.allocate_equal(candidate.npv, len(group))
        elif rule == "proportional":
            shares = appraisal.allocate_proportional(
                candidate.npv, [float(self.standalone[i]) for i in group]
            )
        else:
            if len(group) > MAX_SHAPLEY_SIZE:
                raise TooLargeError(
                    f"shapley allocation of a {len(group)}-member group of {self.service.id!r} "
                    f"would price 2 ** {len(group)} coalitions; set constraints.max_group_size "
                    f"to {MAX_SHAPLEY_SIZE} or less, or use another allocation"
                )
            self._prime_subsets(group)
            shares = appraisal.shapley(
                len(group),
                lambda mask: self.npv_of(tuple(i for b, i in enumerate(group) if mask >> b & 1)),
            )
        return {self.ids[i]: share for i, share in zip(group, shares, strict=True)}

    def _prime_subsets(self, group: tuple[int, ...]) -> None:
        """Price every missing coalition of `group` in one bulk call."""
        missing = []
        for mask in range(1, 1 << len(group)):
            if mask.bit_count() >= 2:
                sub = tuple(i for b, i in enumerate(group) if mask >> b & 1)
                if sub not in self._npv_cache:
                    missing.append(sub)
        for candidate in self.price(missing):
            self._npv_cache[candidate.indices] = candidate.npv
