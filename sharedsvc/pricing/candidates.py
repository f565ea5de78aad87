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
from sharedsvc.pricing.coalitions import GameGroups, GroupFilter, adjacency, largest_size
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.pricing.pricer import Figures, Group, ServicePricer
from sharedsvc.rules import Constraint, FigureContext, rule_failed

MAX_MEMBERSHIPS = 30_000_000
"""Members summed over one service's candidate groups: about a gigabyte held as tuples and
arrays. A chain of 1,000 neighbours without a size limit holds 166 million."""


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
    Iterative (an explicit stack, depth-first in the recursive order), so a chain of
    a thousand members cannot exhaust Python's recursion limit.
    """
    for root in range(len(adjacency)):
        above = [u for u in adjacency[root] if u > root]
        stack = [([root], above, adjacency[root] | {root})]
        while stack:
            group, extension, closed = stack.pop()
            if len(group) >= 2:
                yield tuple(sorted(group))
            if len(group) == max_size:
                continue
            extension = list(extension)
            children = []
            while extension:
                w = extension.pop()
                exclusive = [u for u in adjacency[w] if u > root and u not in closed]
                children.append(([*group, w], extension + exclusive, closed | adjacency[w] | {w}))
            stack.extend(reversed(children))


def connected_lower_bound(adjacency: Sequence[frozenset[int]], max_size: int) -> tuple[int, int]:
    """A quick lower bound on the connected groups of 2..max_size, and the vertex behind it.

    A vertex with d neighbours is in at least sum of C(d, j), j = 1..max_size - 1,
    connected groups (itself and any j of its neighbours): a member bordering 300
    others gives more groups than any machine holds, found before enumerating one.
    """
    best, where = 0, -1
    for v, neighbours in enumerate(adjacency):
        d = len(neighbours)
        count = sum(math.comb(d, j) for j in range(1, min(max_size - 1, d) + 1))
        if count > best:
            best, where = count, v
    return best, where


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
    if list(ids) == sorted(ids):  # ascending indices give sorted ids: no sort per group
        names = [tuple(map(ids.__getitem__, group)) for group in groups]
    else:
        names = [tuple(sorted(map(ids.__getitem__, group))) for group in groups]
    return [
        Candidate(
            service=service,
            indices=group,
            members=members,
            annual_saving=saving,
            transition_cost=transition,
            npv=npv,
        )
        for group, members, saving, transition, npv in zip(
            groups,
            names,
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
    takes_context = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)

    def check(candidate: Candidate) -> bool:
        try:
            return bool(method(candidate, context) if takes_context else method(candidate))
        except KeyboardInterrupt:
            raise
        except AttributeError as exc:
            hint = ""
            if "allocation" in str(exc):
                hint = (
                    " (a candidate has no .allocation() now: take allows_figures(candidate, "
                    "context) and call context.allocation(candidate))"
                )
            raise rule_failed(constraint, "allows_figures", f"raised {exc!r}{hint}") from exc
        except BaseException as exc:  # plugin code, SystemExit included: name it
            raise rule_failed(constraint, "allows_figures", exc) from exc

    return check


def figure_context(pricer: ServicePricer, objective: Objective) -> FigureContext:
    """What `Constraint.allows_figures` sees of the service's allocation."""
    return FigureContext(
        service=pricer.service.id,
        objective=objective,
        allocate=lambda candidate: pricer.allocation(candidate.indices, candidate.npv),
    )


def too_large(
    consortium: Consortium,
    service: str,
    constraints: Sequence[Constraint],
    max_groups: int,
    *,
    sharers: Sequence[str] | None = None,
) -> TooLargeError | None:
    """The refusal a service's groups would earn, found without enumerating one (an exact
    count without contiguity, a lower bound with it), or None when they may fit."""
    ids = [p.member.id for p in consortium.sharers(service)] if sharers is None else sharers
    count = len(ids)
    max_size = largest_size(service, count, constraints)
    if any(c.needs_connected(service) for c in constraints):
        graph = adjacency(consortium, ids)
        bound, hub = connected_lower_bound(graph, max_size)
        if bound > max_groups:
            return _too_large(
                service,
                count,
                max_size,
                bound,
                max_groups,
                contiguous=True,
                hub=(ids[hub], len(graph[hub])),
            )
        return None
    total = count_all_groups(count, max_size)
    if total > max_groups:
        return _too_large(service, count, max_size, total, max_groups, contiguous=False)
    return None


@attrs.frozen(kw_only=True)
class ServiceCandidates:
    """A service's candidates, and how many groups were enumerated and pruned."""

    service: str
    candidates: list[Candidate]
    enumerated: int
    """Groups of two or more that the constraints allow, before pruning."""
    pruned_worthless: int = 0
    pruned_dominated: int = 0
    game: GameGroups | None = None
    """Every group that could form as a coalition, priced (`pricing/coalitions.py`)."""
    enumeration: Enumerated | None = None
    """The groups as enumerated, for a later run of the same consortium."""


@attrs.frozen(kw_only=True)
class Enumerated:
    """A service's groups that could form on their own (the game's groups), and which
    of them the plan may choose. Found from who the members are, never from their
    figures when every constraint judges by names (`Constraint.judges_names_only`):
    then re-optimising under drawn figures enumerates once (`reusable`)."""

    coalitions: list[Group]
    choosable: list[bool]
    listed: frozenset[Group] | None
    """The cost model's own list of groups when it gave one: a draw that changes it
    enumerates afresh."""
    reusable: bool


def enumerate_groups(
    consortium: Consortium,
    pricer: ServicePricer,
    constraints: Sequence[Constraint],
    *,
    max_groups: int,
    with_groups: bool = True,
    judge: GroupFilter | None = None,
) -> Enumerated:
    """Every group of two or more that the constraints let form, judged once each
    (by `judge`, when the caller has already made this service's filter)."""
    service = pricer.service.id
    ids = pricer.ids
    count = len(ids)
    if judge is None:
        judge = GroupFilter(consortium, service, ids, constraints, pricer.listed)
    max_size = judge.max_size
    contiguous = judge.contiguous
    if not with_groups:
        groups_iter: Iterator[tuple[int, ...]] = iter(())
    elif judge.listed is not None:  # the model prices only the groups it lists
        groups_iter = iter(judge.listed_in_reach())
    else:
        refusal = too_large(consortium, service, constraints, max_groups, sharers=ids)
        if refusal is not None:
            raise refusal
        if contiguous:
            groups_iter = connected_groups(adjacency(consortium, ids), max_size)
        else:
            groups_iter = all_groups(count, max_size)

    coalitions: list[tuple[int, ...]] = []  # could form on their own: the game's groups
    choosable: list[bool] = []  # and of those, may be chosen in the plan
    memberships = 0
    for n, group in enumerate(groups_iter):
        if n >= max_groups:
            raise _too_large(service, count, max_size, None, max_groups, contiguous=contiguous)
        memberships += len(group)
        if memberships > MAX_MEMBERSHIPS:
            raise TooLargeError(
                f"service {service!r}: its groups of up to {max_size} members would hold more "
                f"than {MAX_MEMBERSHIPS:,} memberships in all (about a gigabyte) before "
                f"{n + 1:,} of them were listed; set constraints.max_group_size"
            )
        coalition, plan = judge.judge_enumerated(group)
        if coalition:
            coalitions.append(group)
            choosable.append(plan)
    return Enumerated(
        coalitions=coalitions,
        choosable=choosable,
        listed=judge.listed,
        reusable=with_groups and all(c.judges_names_only(service) for c in constraints),
    )


def service_candidates(
    consortium: Consortium,
    pricer: ServicePricer,
    constraints: Sequence[Constraint],
    *,
    prune: bool = True,
    max_groups: int,
    with_groups: bool = True,
    enumerated: Enumerated | None = None,
) -> ServiceCandidates:
    """Priced candidates of a service allowed by `constraints`, singletons included.

    With `prune`, groups that cannot be in some optimal plan are dropped, by the
    two rules in `docs/optimiser.md`; each is checked to be safe for the
    constraints in force, and a test compares pruned and unpruned optima.
    `max_groups` is the most groups the service may have (`Settings`); without
    `with_groups` only the members alone are made (a service the time limit left unpriced).
    `enumerated` is this service's groups from an earlier run (`enumerate_groups`), used
    when the cost model lists the same groups.
    """
    service = pricer.service.id
    count = len(pricer.ids)
    judge = GroupFilter(consortium, service, pricer.ids, constraints, pricer.listed)
    enumeration = enumerated
    if enumeration is None or not with_groups or enumeration.listed != judge.listed:
        enumeration = enumerate_groups(
            consortium,
            pricer,
            constraints,
            max_groups=max_groups,
            with_groups=with_groups,
            judge=judge,
        )
    coalitions, choosable = enumeration.coalitions, enumeration.choosable
    all_figures = pricer.figures(coalitions)
    game = GameGroups.of(coalitions, all_figures.npv)
    plan_mask = np.array(choosable, dtype=bool)
    if plan_mask.all():
        groups, figures = coalitions, all_figures
    else:
        groups = [g for g, k in zip(coalitions, choosable, strict=True) if k]
        figures = all_figures[plan_mask]
    enumerated = len(groups)

    def allowed(group: tuple[int, ...]) -> bool:
        return judge.judge_enumerated(group)[1]

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
        game=game,
        enumeration=enumeration,
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


def _count(n: int) -> str:
    """A count for people: in full up to a trillion, beyond as a power of ten."""
    if n < 10**12:
        return f"{n:,}"
    digits = len(str(n)) - 1
    return f"about {int(str(n)[:2]) / 10:.1f}e{digits}"


def _too_large(
    service: str,
    count: int,
    max_size: int,
    total: int | None,
    limit: int,
    *,
    contiguous: bool,
    hub: tuple[str, int] | None = None,
) -> TooLargeError:
    """The refusal, with advice that fits: what to change given what the file has.

    `hub` is the member (and its neighbour count) behind a contiguous service's bound.
    """
    amount = _count(total) if total is not None else f"more than {limit:,}"
    if hub is not None:
        amount = f"at least {amount} (around {hub[0]!r} and its {hub[1]} neighbours alone)"
    advice = []
    smaller, total_k = None, 0
    for k in range(2, max_size):  # the count grows with k: stop at the first too many
        if hub is None:
            total_k += math.comb(count, k)
        else:  # the hub and any k - 1 of its neighbours
            total_k += math.comb(hub[1], k - 1)
        if total_k > limit:
            break
        smaller = k
    if smaller is not None and smaller >= 2:
        advice.append(f"set constraints.max_group_size to {smaller} or less")
    if not contiguous:
        advice.append("list the service in constraints.contiguous so only neighbours group")
    if smaller is None or smaller < 2 or max_size <= 2:
        advice.append(
            "share this service among fewer members (split the consortium, or set "
            f"share = false for members who will not share {service})"
        )
    return TooLargeError(
        f"service {service!r} has {count} sharing members and groups of up to {max_size}: "
        f"{amount} candidate groups, more than sharedsvc can price and solve "
        f"(the limit is {limit:,}); " + "; or ".join(advice)
    )
