"""Candidate groups for each service: every group the constraints allow.

Groups are enumerated as index tuples over a service's sharers. When a
constraint requires connected groups only connected ones are generated (each
exactly once, by Wernicke's ESU extension scheme); a size limit stops growth.
The constraints' filters then run on the members (before pricing) and on the
figures (after), so the enumerator's shortcuts never decide on their own.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Callable, Iterator, Sequence

import attrs
import numpy as np

from sharedsvc.constants import Objective
from sharedsvc.errors import TooLargeError
from sharedsvc.model.consortium import Consortium
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.pricing.pricer import Figures, Group, ServicePricer
from sharedsvc.rules import Constraint, FigureContext


def all_groups(count: int, max_size: int) -> Iterator[tuple[int, ...]]:
    """Every group of 2..max_size of `count` items, as ascending index tuples."""
    for size in range(2, max_size + 1):
        yield from itertools.combinations(range(count), size)


def connected_groups(
    adjacency: Sequence[frozenset[int]], max_size: int
) -> Iterator[tuple[int, ...]]:
    """Every connected group of 2..max_size vertices, each once, as ascending tuples.

    ESU (Wernicke 2006): a group is grown from its smallest vertex `root`, only by
    vertices above the root that neighbour the newest vertex and no earlier one.
    """

    def extend(group: list[int], extension: list[int], closed: frozenset[int], root: int):
        if len(group) >= 2:
            yield tuple(sorted(group))
        if len(group) == max_size:
            return
        extension = list(extension)
        while extension:
            w = extension.pop()
            exclusive = [u for u in adjacency[w] if u > root and u not in closed]
            yield from extend([*group, w], extension + exclusive, closed | adjacency[w] | {w}, root)

    for root in range(len(adjacency)):
        above = [u for u in adjacency[root] if u > root]
        yield from extend([root], above, adjacency[root] | {root}, root)


def count_all_groups(count: int, max_size: int) -> int:
    return sum(math.comb(count, k) for k in range(2, max_size + 1))


@attrs.frozen(kw_only=True, slots=True)
class Candidate:
    """A group that may be chosen for a service, with its figures. A plain value: the
    stages after pricing refer to candidates by their position in a service's list."""

    service: str
    indices: tuple[int, ...]
    """Positions among the service's sharers, ascending."""
    members: tuple[str, ...]
    """Member ids, sorted."""
    annual_saving: float
    transition_cost: float
    npv: float

    @property
    def size(self) -> int:
        return len(self.indices)

    def value(self, objective: Objective) -> float:
        return self.npv if objective == Objective.NPV else self.annual_saving


def make_candidates(
    pricer: ServicePricer, groups: Sequence[Group], figures: Figures
) -> list[Candidate]:
    """Candidate values for priced groups."""
    ids = pricer.ids
    service = pricer.service.id
    return [
        Candidate(
            service=service,
            indices=group,
            members=tuple(sorted(ids[i] for i in group)),
            annual_saving=saving,
            transition_cost=transition,
            npv=npv,
        )
        for group, saving, transition, npv in zip(
            groups,
            figures.saving.tolist(),
            figures.transition.tolist(),
            figures.npv.tolist(),
            strict=True,
        )
    ]


def singleton(pricer: ServicePricer, index: int) -> Candidate:
    """A member alone: saving, transition and npv are zero by definition."""
    return Candidate(
        service=pricer.service.id,
        indices=(index,),
        members=(pricer.ids[index],),
        annual_saving=0.0,
        transition_cost=0.0,
        npv=0.0,
    )


def figure_check(constraint: Constraint, context: FigureContext) -> Callable[[Candidate], bool]:
    """`constraint.allows_figures` for one service; rules written before the `context`
    argument arrived (``allows_figures(self, candidate)``) are called as they expect."""
    method = constraint.allows_figures
    parameters = inspect.signature(method).parameters.values()
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return lambda candidate: method(candidate, context)
    return method


def figure_context(pricer: ServicePricer, objective: Objective) -> FigureContext:
    """What `Constraint.allows_figures` sees of the service's allocation."""
    return FigureContext(
        service=pricer.service.id,
        objective=objective,
        allocate=lambda candidate: pricer.allocation(candidate.indices, candidate.npv),
    )


@attrs.frozen(kw_only=True)
class ServiceCandidates:
    """A service's candidates, and how many groups were enumerated and pruned."""

    service: str
    candidates: list[Candidate]
    enumerated: int
    """Groups of two or more that the constraints allow, before pruning."""
    pruned_worthless: int = 0
    pruned_dominated: int = 0


def service_candidates(
    consortium: Consortium,
    pricer: ServicePricer,
    constraints: Sequence[Constraint],
    *,
    prune: bool = True,
    max_groups: int,
) -> ServiceCandidates:
    """Priced candidates of a service allowed by `constraints`, singletons included.

    With `prune`, groups that cannot be in some optimal plan are dropped, by the
    two rules in `docs/optimiser.md`; each is checked to be safe for the
    constraints in force, and a test compares pruned and unpruned optima.
    `max_groups` is the most groups the service may have (`Settings`).
    """
    service = pricer.service.id
    ids = pricer.ids
    count = len(ids)
    limits = [c.size_limit(service) for c in constraints]
    max_size = min([count] + [limit for limit in limits if limit is not None])
    if any(c.needs_connected(service) for c in constraints):
        position = {member_id: i for i, member_id in enumerate(ids)}
        adjacency = [
            frozenset(position[n] for n in consortium.member(m).neighbours if n in position)
            for m in ids
        ]
        groups_iter = connected_groups(adjacency, max_size)
    else:
        total = count_all_groups(count, max_size)
        if total > max_groups:
            raise _too_large(service, count, max_size, total, max_groups)
        groups_iter = all_groups(count, max_size)

    checks = [
        c
        for c in constraints
        if type(c).allows_members is not Constraint.allows_members
        and not c.implied_by_enumeration(service)
    ]

    def allowed(group: tuple[int, ...]) -> bool:
        if not checks:
            return True
        members = frozenset(ids[i] for i in group)
        return all(c.allows_members(service, members) for c in checks)

    groups = []
    for n, group in enumerate(groups_iter):
        if n >= max_groups:
            raise _too_large(service, count, max_size, None, max_groups)
        if allowed(group):
            groups.append(group)
    enumerated = len(groups)
    figures = pricer.figures(groups)
    prunable = prune and all(c.allows_pruning(service) for c in constraints)
    objective = consortium.objective
    worthless = 0
    if prunable:
        value = figures.npv if objective == Objective.NPV else figures.saving
        keep = value > 0
        worthless = int(len(groups) - keep.sum())
        groups = [g for g, k in zip(groups, keep.tolist(), strict=True) if k]
        figures = figures[keep]
    context = figure_context(pricer, objective)
    figure_checks = [
        figure_check(c, context)
        for c in constraints
        if type(c).allows_figures is not Constraint.allows_figures
    ]
    singles = [
        cand
        for cand in (singleton(pricer, i) for i in range(count) if allowed((i,)))
        if all(check(cand) for check in figure_checks)
    ]
    if figure_checks:  # the checks read candidates, so make them for every group first
        made = make_candidates(pricer, groups, figures)
        passing = [all(check(cand) for check in figure_checks) for cand in made]
        keep = np.array(passing, dtype=bool)
        groups = [g for g, k in zip(groups, passing, strict=True) if k]
        figures = figures[keep]
    dominated = 0
    if prunable and groups:
        value = figures.npv if objective == Objective.NPV else figures.saving
        keep = ~dominated_groups(groups, value, figures.transition)
        dominated = int(len(groups) - keep.sum())
        groups = [g for g, k in zip(groups, keep.tolist(), strict=True) if k]
        figures = figures[keep]
    return ServiceCandidates(
        service=service,
        candidates=singles + make_candidates(pricer, groups, figures),
        enumerated=enumerated,
        pruned_worthless=worthless,
        pruned_dominated=dominated,
    )


def dominated_groups(
    groups: Sequence[tuple[int, ...]], value: np.ndarray, transition: np.ndarray
) -> np.ndarray:
    """Which groups G some G minus one member (also a group here) is worth at least as
    much as and no dearer to form: that smaller group and the member alone replace G
    in any plan without loss or any constraint broken. Only groups of three or more
    are tested: the parts of a pair are members alone, which are not in `groups`.

    Vectorised: each group gets a random 64-bit key, the sum of its members' keys
    (Zobrist hashing), so "G minus member i" is found by its key in a sorted array;
    every match that would prune is then confirmed on the member tuples, so a hash
    collision can never drop a group wrongly.
    """
    flat = FlatGroups.of(groups)
    members = int(flat.members.max()) + 1
    weights = (
        np.random.default_rng(20261123)
        .integers(0, np.iinfo(np.int64).max, size=members, dtype=np.int64)
        .astype(np.uint64)
    )
    with np.errstate(over="ignore"):
        keys = np.add.reduceat(weights[flat.members], flat.starts)
        owner = np.repeat(np.arange(len(groups)), flat.sizes)
        big = flat.sizes[owner] >= 3
        sub_keys = keys[owner[big]] - weights[flat.members[big]]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    owners = owner[big]
    where = np.searchsorted(sorted_keys, sub_keys)
    found = where < len(sorted_keys)
    where[~found] = 0
    match = order[where]
    found &= sorted_keys[where] == sub_keys
    found &= (value[match] >= value[owners]) & (transition[match] <= transition[owners])
    dominated = np.zeros(len(groups), dtype=bool)
    dropped = flat.members[big]
    for g, sub, gone in zip(
        owners[found].tolist(), match[found].tolist(), dropped[found].tolist(), strict=True
    ):
        if not dominated[g] and groups[sub] == tuple(i for i in groups[g] if i != gone):
            dominated[g] = True
    return dominated


def _too_large(
    service: str, count: int, max_size: int, total: int | None, limit: int
) -> TooLargeError:
    amount = f"{total:,}" if total is not None else f"more than {limit:,}"
    return TooLargeError(
        f"service {service!r} has {count} sharing members and groups of up to {max_size}: "
        f"{amount} candidate groups, more than sharedsvc can price and solve "
        f"(the limit is {limit:,}); set constraints.max_group_size lower, "
        f"or list the service in constraints.contiguous so only neighbours group"
    )
