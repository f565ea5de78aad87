"""Price groups of one service's sharers through its cost model, and share out their value.

This is the only place that calls cost-model code, so it is where a plugin that
raises, or returns NaN or negative costs, is caught and named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from sharedsvc.appraisal.allocation import Allocator, CoalitionGame
from sharedsvc.errors import PluginError
from sharedsvc.model.consortium import Consortium, Participant, Participation
from sharedsvc.model.fields import LARGEST_NUMBER
from sharedsvc.pricing.coalitions import GroupFilter
from sharedsvc.pricing.costmodel import CostModel
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.wording import shown

Group = tuple[int, ...]


@attrs.frozen(kw_only=True)
class Figures:
    """Annual saving, transition cost and npv of many groups, one array entry per group."""

    saving: np.ndarray
    """Counted annual saving: cash, plus the counted share of non-cash value."""
    transition: np.ndarray
    npv: np.ndarray
    non_cashable: np.ndarray | None = None
    """The whole non-cash value a year (fraud detected, say), counted or not."""

    def __getitem__(self, keep: np.ndarray) -> Figures:
        """The figures of the groups selected by a boolean mask or an index array."""
        return Figures(
            saving=self.saving[keep],
            transition=self.transition[keep],
            npv=self.npv[keep],
            non_cashable=None if self.non_cashable is None else self.non_cashable[keep],
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
        # each pricer hands its model copies: a plugin that changes a member (even with
        # object.__setattr__) changes only what it was given, never the consortium
        self.participants = tuple(
            Participant(member=attrs.evolve(p.member), fields=p.fields) for p in self.sharers
        )
        self.cash_flows = consortium.cash_flows
        """When savings arrive and one-off costs fall: npv = a * saving - b * standalone
        - c * transition (`appraisal/cashflows.py`)."""
        self.weights = self.cash_flows.weights()
        self.bias = consortium.optimism_bias
        self.count_non_cashable = consortium.count_non_cashable
        self.unadjusted_cash_flows = consortium.unadjusted_cash_flows
        self.standalone = self._standalone_costs(self.participants)
        standalone = [p for p in consortium.participants(service_id) if not p.share]
        others = tuple(
            Participant(member=attrs.evolve(p.member), fields=p.fields) for p in standalone
        )
        self.standalone_by_member: dict[str, float] = dict(
            zip(
                self.ids + tuple(p.member.id for p in standalone),
                np.r_[self.standalone, self._standalone_costs(others)].tolist(),
                strict=True,
            )
        )
        """Every taking-part member's annual cost alone, those with share = false included."""
        self.listed = self._listed_groups()
        """The only groups the cost model can price (`CostModel.allowed_groups`), or None."""
        self.filter = GroupFilter(
            consortium, service_id, self.ids, consortium.constraints, self.listed
        )
        self.game = CoalitionGame(
            lambda groups: self.figures(groups).npv, allowed=self.filter.allows_coalition
        )
        """v(S): the best partition of S into groups that could form (zero for one member)."""
        self.allocator = Allocator(
            consortium.allocation, self.standalone, self.game, max_shapley_size
        )

    def _fail(self, what: str) -> PluginError:
        return PluginError(
            f"cost model {self.model.name!r} (plugin {self.plugin!r}) {what} "
            f"for service {self.service.id!r}"
        )

    def _listed_groups(self) -> list[Group] | None:
        try:
            listed = self.model.allowed_groups(self.participants, self.service.parameters)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code, SystemExit included: name it
            raise self._fail(f"raised {type(exc).__name__}: {exc} in allowed_groups") from exc
        if listed is None:
            return None
        groups = []
        count = len(self.participants)
        for group in listed:
            try:
                indices = tuple(sorted(int(i) for i in group))
            except (TypeError, ValueError) as exc:
                raise self._fail(f"returned {group!r} from allowed_groups ({exc})") from exc
            if len(set(indices)) != len(indices) or any(not 0 <= i < count for i in indices):
                raise self._fail(
                    f"returned {group!r} from allowed_groups; expected distinct positions "
                    f"among its {count} participants"
                )
            groups.append(indices)
        return sorted(set(groups))

    def _standalone_costs(self, participants: Sequence[Participant]) -> np.ndarray:
        costs = []
        for p in participants:
            try:
                with np.errstate(all="ignore"):  # a model's overflow is caught below, named
                    cost = self.model.standalone_cost(p, self.service.parameters)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # plugin code, SystemExit included: name it
                raise self._fail(
                    f"raised {type(exc).__name__}: {exc} in standalone_cost of {p.member.id!r}"
                ) from exc
            problem = amount_problem(cost, minimum=0.0)
            if problem:
                raise self._fail(
                    f"returned a standalone cost of {problem} for {p.member.id!r} "
                    "(in standalone_cost)"
                )
            costs.append(float(cost))
        return _read_only(np.array(costs, dtype=float))

    def figures(self, groups: Sequence[Group], *, adjusted: bool = True) -> Figures:
        """Annual saving, transition cost and npv of each group (ascending index tuples,
        two or more members), checked; with `adjusted`, after optimism bias's uplifts
        on running and one-off costs and its delay (`appraisal/bias.py`).

        The model gets the groups as a tuple and its parameters read-only, and what it
        returns is copied and checked (numbers, finite, within `LARGEST_NUMBER`), so a
        plugin can neither change what the engine relies on nor slip it a string or a
        complex number.
        """
        groups = tuple(groups)
        if not groups:  # nothing to ask the model (and no time to spend asking)
            empty = _read_only(np.zeros(0))
            return Figures(saving=empty, transition=empty, npv=empty)
        try:
            with np.errstate(all="ignore"):  # overflow and NaN are caught below, named
                prices = self.model.price_groups(self.participants, groups, self.service.parameters)
            arrays = {
                "running cost": prices.running,
                "transition cost": prices.transition,
                "added income": np.zeros(len(groups)) if prices.income is None else prices.income,
                "non-cash value": (
                    np.zeros(len(groups)) if prices.non_cashable is None else prices.non_cashable
                ),
            }
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code, SystemExit included: name it
            raise self._fail(f"raised {type(exc).__name__}: {exc} in price_groups") from exc
        checked = {}
        for name, given in arrays.items():
            floor = -LARGEST_NUMBER if name in ("added income", "non-cash value") else 0.0
            array, problem = _amounts(given, len(groups), floor)
            if problem is not None:
                where, what = problem
                group = (
                    "" if where is None else f" for group {[self.ids[i] for i in groups[where]]}"
                )
                raise self._fail(f"returned a {name} {what}{group} (in price_groups)")
            checked[name] = array
        standalone = self._standalone_sums(groups)
        running, transition = checked["running cost"], checked["transition cost"]
        profile = self.cash_flows
        if adjusted and self.bias.any:
            running = running * (1.0 + self.bias.running)
            transition = transition * (1.0 + self.bias.one_off)
        elif self.bias.any:
            profile = self.unadjusted_cash_flows
        non_cash = checked["non-cash value"]
        saving = standalone - running + checked["added income"] + self.count_non_cashable * non_cash
        return Figures(
            saving=saving,
            transition=transition,
            npv=profile.npv(saving, standalone, transition),
            non_cashable=non_cash,
        )

    def _standalone_sums(self, groups: Sequence[Group]) -> np.ndarray:
        return FlatGroups.of(groups).sum(self.standalone) if groups else np.zeros(0)

    def allocation(self, indices: Group, npv: float) -> Mapping[str, float]:
        """Each member's share of a group's npv, by member id, sorted."""
        shares = self.allocator.shares(indices, npv)
        return dict(sorted(zip((self.ids[i] for i in indices), shares, strict=True)))


def amount_problem(value: object, minimum: float) -> str | None:
    """Why a plugin's amount in pounds is not one: a real number, finite, from `minimum`
    to `LARGEST_NUMBER`; None when it is."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return f"{shown(value)} ({type(value).__name__}; expected a number)"
    if not math.isfinite(value):
        return f"{shown(value)} (not finite)"
    if value < minimum:
        return f"{shown(value)} (negative)"
    if abs(value) > LARGEST_NUMBER:
        return f"{shown(value)} (more than {LARGEST_NUMBER:.0e}: implausible)"
    return None


def _amounts(
    given: object, count: int, minimum: float
) -> tuple[np.ndarray, tuple[int | None, str] | None]:
    """A plugin's per-group amounts as a fresh float array, or the first problem with them
    (the group's position, or None when the whole array is wrong, and what is wrong)."""
    raw = np.asarray(given)
    if raw.dtype == object:  # a list of Python values: check each one
        for g, value in enumerate(raw.reshape(-1).tolist()):
            problem = amount_problem(value, minimum)
            if problem:
                return raw, (g, f"of {problem}")
    elif raw.dtype.kind not in "iuf":
        return raw, (None, f"array of {raw.dtype} values (expected numbers)")
    if raw.shape != (count,):
        return raw, (None, f"array of shape {raw.shape} for {count} groups")
    array = np.array(raw, dtype=float)  # a copy: the plugin keeps its own
    bad = ~np.isfinite(array) | (array < minimum) | (np.abs(array) > LARGEST_NUMBER)
    if bad.any():
        g = int(np.argmax(bad))
        return array, (g, f"of {amount_problem(float(array[g]), minimum)}")
    return _read_only(array), None


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
