"""Stability as a constraint: the best plan whose split no allowed group would block.

Under a rule that shares out each group on its own (`proportional`, `equal`,
`shapley`), member i's share in candidate group G is a constant a_iG, so "T
does not block" is the linear row sum over i in T of sum over G containing i of
a_iG z_G >= npv(T). There is a row for every group that could form, far too
many to write out, so they are generated: solve, find the most-blocking group of
each service (`separation`), add its row, solve again, until none blocks. Each
round cuts off the plan just found, so the loop ends; the last plan is optimal
among stable plans because every row added is one that every stable plan meets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np
import pulp

from sharedsvc.constants import Status
from sharedsvc.errors import SolverError
from sharedsvc.fairness.assess import allocate
from sharedsvc.fairness.separation import Blocking, most_blocking
from sharedsvc.model.consortium import Consortium
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.coalitions import GameGroups
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.pricing.pricer import ServicePricer
from sharedsvc.rules import Constraint, LinearRow, ModelView
from sharedsvc.solver.backends import Outcome

MAX_ROUNDS = 500
"""Rounds of row generation before giving up (each adds a row per unstable service)."""

Plan = tuple[dict[str, list[Candidate]], list[Outcome], set[str]]


class StabilityRows(Constraint):
    """The rows found so far that keep one service's groups from being blocked.

    One object per service for the whole loop, so that each candidate's shares are
    computed once; each row's coefficients are one array pass over the candidates."""

    def __init__(self, pricer: ServicePricer):
        self.pricer = pricer
        self.service = pricer.service.id
        self.rows: list[tuple[tuple[int, ...], float]] = []
        self.label = f'stability = "core" for {self.service}'
        self._shares: dict[tuple[int, ...], list[float]] = {}

    def add(self, members: tuple[int, ...], value: float) -> None:
        self.rows.append((members, value))

    def allows_pruning(self, service: str) -> bool:
        return service != self.service

    def linked_services(self, services):
        return [self.service] if self.service in services else []

    def _share(self, candidate: Candidate) -> list[float]:
        if candidate.indices not in self._shares:
            self._shares[candidate.indices] = list(
                self.pricer.allocator.shares(candidate.indices, candidate.npv)
            )
        return self._shares[candidate.indices]

    def coefficients(self, candidates: Sequence[Candidate]) -> list[np.ndarray]:
        """For each row T: each candidate's contribution to what T's members are allocated."""
        if not candidates:
            return [np.zeros(0) for _ in self.rows]
        flat = FlatGroups.of([c.indices for c in candidates])
        shares = np.array(
            [s for c in candidates for s in (self._share(c) if c.size >= 2 else (0.0,))]
        )
        out = []
        for members, _ in self.rows:
            inside = np.zeros(len(self.pricer.ids))
            inside[list(members)] = 1.0
            out.append(np.add.reduceat(shares * inside[flat.members], flat.starts))
        return out

    def add_rows(self, model: ModelView) -> None:
        columns = model.columns.get(self.service, ())
        rows = self.coefficients([c.candidate for c in columns])
        for k, ((_, value), a) in enumerate(zip(self.rows, rows, strict=True)):
            expression = pulp.LpAffineExpression(
                [(col.var, float(x)) for col, x in zip(columns, a, strict=True) if x != 0.0]
            )
            model.add(expression >= value, f"stability_{self.pricer.tag}_{k}")

    def linear_rows(self, columns: Mapping[str, Sequence[Candidate]]) -> list[LinearRow]:
        candidates = columns.get(self.service)
        if candidates is None:
            return []
        rows = self.coefficients(candidates)
        return [
            LinearRow(
                name=f"stability_{self.pricer.tag}_{k}",
                coefficients={self.service: a},
                lower=value,
            )
            for k, ((_, value), a) in enumerate(zip(self.rows, rows, strict=True))
        ]


@attrs.frozen
class StablePlan:
    exists: bool
    """Whether any plan is stable."""
    plan: Plan | None = None
    """The best stable plan, when it differs from the plan given."""
    given_up: float = 0.0
    """The npv of the best plan less that of the best stable plan."""
    why: str = ""


def _npv(chosen: Mapping[str, Sequence[Candidate]]) -> float:
    return sum(c.npv for picked in chosen.values() for c in picked)


def _blocking(
    pricers: Mapping[str, ServicePricer],
    games: Mapping[str, GameGroups | None],
    chosen: Mapping[str, Sequence[Candidate]],
) -> dict[str, Blocking]:
    found = {}
    for service, picked in chosen.items():
        game = games.get(service)
        if game is None:
            continue
        groups = [c for c in picked if c.size >= 2]
        blocking = most_blocking(game, allocate(pricers[service], groups, game))
        if blocking is not None:
            found[service] = blocking
    return found


def _words(pricer: ServicePricer, blocking: Blocking) -> str:
    names = [pricer.ids[i] for i in blocking.members]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{who} would gain £{blocking.excess:,.0f} more on their own"


def _no_stable_plan(consortium, pricers, rows, last, solve_with) -> str:
    """Why no plan is stable: the services that cannot be made stable on their own (each
    solved with only its own rows), with the last group found blocking each."""
    impossible = []
    for service, alone in rows.items():
        _, outcomes, _ = solve_with((*consortium.constraints, alone))
        if any(o.status == Status.INFEASIBLE for o in outcomes):
            impossible.append(service)
    impossible = impossible or list(rows)  # only together (a row that ties services)
    said = "; ".join(f"in {s}, {_words(pricers[s], last[s])}" for s in impossible)
    return (
        f'stability = "core": no plan of {", ".join(impossible)} is stable under '
        f"{consortium.allocation} allocation: every plan has a group that would walk away "
        f"(last found: {said}); see each service's cost_of_stability without the constraint"
    )


def stable_plan(
    consortium: Consortium,
    pricers: Mapping[str, ServicePricer],
    games: Mapping[str, GameGroups | None],
    chosen: dict[str, list[Candidate]],
    solve_with: Callable[[tuple[Constraint, ...]], Plan],
    progress: Callable[[str], None],
) -> StablePlan:
    """The best plan that no allowed group blocks, by row generation from `chosen`."""
    best = _npv(chosen)
    rows: dict[str, StabilityRows] = {}
    plan: Plan | None = None
    last: dict[str, Blocking] = {}  # each service's latest blocking group
    for round_ in range(MAX_ROUNDS):
        blocking = _blocking(pricers, games, chosen)
        if not blocking:
            if plan is None:
                progress("stability: the best plan is already stable")
            return StablePlan(exists=True, plan=plan, given_up=max(0.0, best - _npv(chosen)))
        last.update(blocking)
        for service, found in blocking.items():
            if service not in rows:
                rows[service] = StabilityRows(pricers[service])
            rows[service].add(found.members, found.value)
            progress(
                f"stability round {round_ + 1}: {service}: {_words(pricers[service], found)}; "
                "added a row"
            )
        extra = tuple(rows.values())
        plan = solve_with(consortium.constraints + extra)
        chosen, outcomes, _ = plan
        if any(o.status == Status.INFEASIBLE for o in outcomes):
            return StablePlan(
                exists=False, why=_no_stable_plan(consortium, pricers, rows, last, solve_with)
            )
    raise SolverError(
        f'stability = "core" found a blocking group in each of {MAX_ROUNDS} rounds; '
        "set constraints.max_group_size lower or choose another allocation"
    )
