"""`sharedsvc track --replan`: the years that remain re-optimised from the last year
ended, with what was realised in place of the plan's forecasts and the partnerships
already formed as the starting point.

What it does, exactly (`docs/tracking.md`):

- the consortium is read again from the plan's record, with its horizon cut to the R
  years that remain after the last year ended (L): the re-plan's year 0 is the end of
  year L, its year r the plan's year L + r; its ramp-up, double running and one-off
  profile are the plan's first R years (one-off shares past year R fall in year R),
  because they describe how a *new* partnership starts; it maximises npv;
- a partnership still formed (not dissolved) is worth, if kept, its run-rate saving
  in each remaining year, S - r + c x n (its members' standalone cost S from the
  plan, the running cost r and non-cash value n of its latest year with an outturn,
  counted at the plan's share c; the plan's full saving when no year has one),
  discounted at the re-plan's factors, less the plan's exit cost at the end of the
  horizon: nothing to form, no ramp-up, no double running;
- leaving it costs its exit cost now: `exit_share` (the plan's `exit_cost` unless
  `--exit-cost` says) times its one-off cost;
- any other group is priced by its cost model as the plan priced it, as a new
  partnership (its one-off cost, ramp-up and double running from the re-plan's start);
- a partnership dissolved at the end of a year that has not ended is refused: the
  engine cannot hold it for some remaining years and free its members for the rest.

The engine chooses among them exactly: a kept partnership's column is priced so that
its npv is its value if kept *plus* the exit cost it avoids, and the sum of every
formed partnership's exit cost, a constant, is taken off afterwards; then the
re-plan's npv is the sum over kept partnerships of their value, over new ones of
their npv, less the exit cost of each one left. Keeping every formed partnership is
one of the plans it considers, so the difference is never negative (when the
consortium's constraints allow today's partnerships). A kept partnership's column
carries its whole value as added income (running and one-off cost zero), so the
engine's own figures for it are not shown; the ones shown are the above.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from sharedsvc import pipeline
from sharedsvc.errors import UsageError
from sharedsvc.plugins import Registry
from sharedsvc.pricing.costmodel import CostModel, GroupPrices
from sharedsvc.report.text import money
from sharedsvc.settings import Settings
from sharedsvc.stopping import StopToken
from sharedsvc.tracking.compare import ACTUAL, PartnershipTracking, Tracking, plan_exit
from sharedsvc.tracking.plan import rebuild

KEEP = "keep"
DISSOLVE = "dissolve"
FORM = "form"


@attrs.frozen(kw_only=True)
class Change:
    """What the re-plan does with one partnership."""

    service: str
    members: tuple[str, ...]
    action: str
    """`KEEP`, `DISSOLVE` (a formed partnership left, paying its exit cost) or `FORM`."""
    annual_saving: float | None
    """Kept: the run-rate saving; formed: the cost model's saving; left: None."""
    one_off: float | None
    """Formed: its one-off cost; left: its exit cost; kept: nothing (0)."""
    npv: float
    """Its npv over the remaining years at the re-plan's start (left: minus its exit cost)."""
    note: str = ""


@attrs.frozen(kw_only=True)
class Replan:
    """What re-optimising the remaining years found: the npv of keeping today's
    partnerships and of the re-plan on the same basis (the remaining years, from the end
    of `from_year`), and each partnership kept, dissolved or formed."""

    from_year: int
    """The last plan year ended: the re-plan starts at its end."""
    from_date: str
    remaining_years: int
    exit_share: float
    status: str
    gap: float | None
    message: str
    continue_npv: float
    """The npv over the remaining years of keeping every partnership still formed."""
    replan_npv: float | None
    """The re-plan's npv on the same basis (None when there is no re-plan)."""
    changes: tuple[Change, ...] = ()

    @property
    def difference(self) -> float | None:
        return None if self.replan_npv is None else self.replan_npv - self.continue_npv


@attrs.frozen(kw_only=True)
class _Formed:
    """A partnership still formed, with its run-rate figures."""

    tracked: PartnershipTracking
    running: float
    saving: float
    value: float
    """Its npv over the remaining years if kept."""
    exit: float
    """What leaving it now costs."""
    note: str


def _run_rate(found: Tracking, p: PartnershipTracking) -> tuple[float, float, str]:
    """(running cost, non-cash value, where they come from) of a formed partnership."""
    own = found.actuals.of(p.plan)
    latest = [y.year for y in p.years if y.kind == ACTUAL and y.year >= 1]
    if own is None or not latest:
        running = p.plan.standalone_cost - p.plan.annual_saving
        return running, 0.0, "no outturn yet: the plan's full saving"
    entry = own.years[latest[-1]]
    return entry.running_cost, entry.non_cashable_value, f"run rate of year {latest[-1]}"


class _Kept(CostModel):
    """A service's cost model, except that each partnership kept is priced at the npv
    it is given (running and one-off cost zero, the whole value as added income)."""

    def __init__(
        self,
        inner: CostModel,
        name: str,
        kept: Mapping[frozenset, float],
        weights: tuple[float, float, float],
    ) -> None:
        self.inner = inner
        self.name = name
        self.member_fields = inner.member_fields
        self.parameters = inner.parameters
        self.kept = dict(kept)
        self.weights = weights

    def standalone_cost(self, participant, params):
        return self.inner.standalone_cost(participant, params)

    def allowed_groups(self, participants, params):
        return self.inner.allowed_groups(participants, params)

    def price_groups(self, participants, groups: Sequence[Sequence[int]], params) -> GroupPrices:
        prices = self.inner.price_groups(participants, groups, params)
        count = len(groups)
        running = np.array(prices.running, dtype=float)
        transition = np.array(prices.transition, dtype=float)
        income = np.zeros(count) if prices.income is None else np.array(prices.income, float)
        non_cash = (
            np.zeros(count) if prices.non_cashable is None else np.array(prices.non_cashable, float)
        )
        a, b, _ = self.weights
        for g, group in enumerate(groups):
            target = self.kept.get(frozenset(participants[i].member.id for i in group))
            if target is None:
                continue
            standalone = math.fsum(self.standalone_cost(participants[i], params) for i in group)
            running[g] = transition[g] = non_cash[g] = 0.0
            # npv = a * (standalone + income) - b * standalone = target
            income[g] = (target + b * standalone) / a - standalone
        return GroupPrices(
            running=running, transition=transition, income=income, non_cashable=non_cash
        )


def _profile_change(consortium, remaining: int) -> dict[str, Any]:
    """The re-plan's `[consortium]`: the remaining years, npv, and the plan's shapes cut
    to them (a one-off share past the last year falls in it)."""
    one_off = list(consortium.one_off_profile[:remaining])
    one_off.append(math.fsum(consortium.one_off_profile[remaining:]))
    return {
        "consortium": {
            "horizon_years": remaining,
            "objective": "npv",
            "ramp_up": list(consortium.ramp_up[:remaining]),
            "double_running": list(consortium.double_running[:remaining]),
            "one_off_profile": one_off,
        }
    }


def replan(
    found: Tracking,
    registry: Registry,
    settings: Settings,
    *,
    exit_share: float | None = None,
    progress: Callable[[str], None] = pipeline.quiet,
    stop: StopToken | None = None,
) -> Replan:
    """Re-optimise the years that remain after the last year ended (see the module)."""
    plan, calendar = found.plan, found.calendar
    last = calendar.last_ended
    remaining = plan.horizon_years - last
    if remaining < 1:
        raise UsageError(
            f"--replan: the plan's horizon ended with year {plan.horizon_years} "
            f"({calendar.period(plan.horizon_years)}): no years remain to re-optimise"
        )
    for p in found.partnerships:
        if p.dissolved is not None and p.dissolved.year > last:
            year = p.dissolved.year
            raise UsageError(
                f"--replan: {p.label} is dissolved at the end of year {year} "
                f"({calendar.period(year)}), which has not ended on {calendar.as_of}: the "
                f"re-plan starts at the end of year {last} and cannot hold a partnership for "
                "some of the years that remain and free its members for the rest; re-plan "
                f"once year {year} has ended, or without its `dissolved` to weigh keeping it"
            )
    exit_share = plan.exit_cost if exit_share is None else exit_share
    original = rebuild(plan, registry, settings, why="--replan")
    consortium = rebuild(
        plan, registry, settings, why="--replan", change=_profile_change(original, remaining)
    )
    profile = consortium.cash_flows
    weights = profile.weights()
    if weights[0] <= 0:
        raise UsageError(
            f"--replan: with savings delayed {consortium.optimism_bias.delay_years} years "
            f"(optimism bias) none arrives in the {remaining} years that remain"
        )
    factors = profile.discount_factors()
    annuity = math.fsum(factors[1:])
    formed = []
    for p in found.partnerships:
        if p.dissolved is not None:
            continue
        running, non_cash, note = _run_rate(found, p)
        saving = p.plan.standalone_cost - running + plan.count_non_cashable * non_cash
        end_exit = plan_exit(plan, p.plan) * float(factors[-1])
        formed.append(
            _Formed(
                tracked=p,
                running=running,
                saving=saving,
                value=saving * annuity - end_exit,
                exit=exit_share * p.plan.transition_cost,
                note=note,
            )
        )
    kept_by_service: dict[str, dict[frozenset, float]] = {}
    for f in formed:
        kept_by_service.setdefault(f.tracked.plan.service, {})[
            frozenset(f.tracked.plan.members)
        ] = f.value + f.exit
    models = dict(registry.cost_models)
    owners = dict(registry.owners)
    services = []
    for service in consortium.services:
        kept = kept_by_service.get(service.id)
        if not kept:
            services.append(service)
            continue
        name = f"{service.model}+kept:{service.id}"
        models[name] = _Kept(registry.cost_models[service.model], name, kept, weights)
        owners[("cost model", name)] = registry.owner_of_model(service.model)
        services.append(attrs.evolve(service, model=name))
    consortium = attrs.evolve(consortium, services=tuple(services))
    engine_registry = attrs.evolve(registry, cost_models=models, owners=owners)
    progress(f"re-optimising the {remaining} remaining years from the end of year {last}")
    result = pipeline.optimise(
        consortium,
        engine_registry,
        attrs.evolve(settings, assess_stability=False),
        progress=progress,
        stop=stop,
    )
    continue_npv = math.fsum(f.value for f in formed)
    common = {
        "from_year": last,
        "from_date": calendar.last_day(last).isoformat() if last else calendar.start.isoformat(),
        "remaining_years": remaining,
        "exit_share": exit_share,
        "status": result.status.value,
        "gap": result.gap,
        "message": result.message,
        "continue_npv": continue_npv,
    }
    if not result.solved:
        return Replan(replan_npv=None, **common)
    return attrs.evolve(
        Replan(replan_npv=None, **common), **_changes(found, formed, result, consortium)
    )


def _changes(found: Tracking, formed: Sequence[_Formed], result, consortium) -> dict[str, Any]:
    """Each partnership formed today kept or left, each new one formed, and the re-plan's
    npv: kept ones' values, new ones' npv, less the exit cost of those left."""
    chosen = {(s.service, g.members): g for s in result.services for g in s.groups}
    dissolved = {
        (p.plan.service, p.plan.members): p.dissolved.year
        for p in found.partnerships
        if p.dissolved is not None
    }
    changes = []
    for f in formed:
        key = (f.tracked.plan.service, f.tracked.plan.members)
        kept = key in chosen
        changes.append(
            Change(
                service=key[0],
                members=key[1],
                action=KEEP if kept else DISSOLVE,
                annual_saving=f.saving if kept else None,
                one_off=0.0 if kept else f.exit,
                npv=f.value if kept else -f.exit,
                note=f.note if kept else f"exit cost; kept, it would be worth {money(f.value)}",
            )
        )
        chosen.pop(key, None)
    for key, group in chosen.items():
        note = "a new partnership"
        if key in dissolved:
            note = f"forms again the partnership dissolved at the end of year {dissolved[key]}"
        changes.append(
            Change(
                service=key[0],
                members=key[1],
                action=FORM,
                annual_saving=group.annual_saving,
                one_off=group.transition_cost,
                npv=group.npv,
                note=note,
            )
        )
    order = {s.id: i for i, s in enumerate(consortium.services)}
    changes.sort(key=lambda c: (order[c.service], c.members))
    return {"changes": tuple(changes), "replan_npv": math.fsum(c.npv for c in changes)}
