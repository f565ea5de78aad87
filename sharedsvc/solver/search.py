"""Exact set partitioning of one service by a search confined to the LP gap.

Why: on a service where nearly every connected group is worth forming (SEN
transport across London), the LP bound sits 1.6% above the optimum and a MIP
solver spent half an hour proving a plan it had found in half a minute. The
geography gives the problem a narrow frontier, which a dynamic programme over
partial partitions can use and branch-and-bound cannot.

How. Take LP duals y, one per member, and each group's reduced cost
d_S = c_S - y(S), shifted by a constant per member so that every d_S <= 0.
For any partition P of the members,

    value(P) = Y + sum of d_S over the groups S of P,   Y = sum of y (plus the shift),

an identity, so a plan worth more than g loses less than B = Y - g in reduced
cost. The search builds partitions member by member in a fixed order: a state
is the set of members covered so far, its next member is the first uncovered
one, and that member is covered by a group it heads (no member before it in the
order) that avoids the covered set. Two ways to the same state keep the one that
lost less; a state that has lost more than B is dropped, as nothing it leads to
can lose less. When a search ends it has met every partition losing at most B:
the best of them is optimal, and if there was none, no plan is worth more than
Y - B, which is a proven bound.

The order keeps the frontier small (few uncovered members next to covered
ones), so that states differ only near it. On the London SEN transport service
(33 members, 11,811 groups) the search that proves the optimum (a budget of
£1.96 million) met 286,307 states in 0.3 s in this order, and 12,766,260 states in
51 s in a breadth-first order (from the full LP's duals, when first measured; from
fixing's duals it meets 1.44 million states at that budget, in about 1.4 s).

A quick pass first keeps only the best states of each step (a beam) and gives a
good plan; then the budget starts at a small share of the LP bound and doubles:
each search that finds nothing raises the proven bound, so a run stopped by its
time limit still has one, and a plan that loses little is found without
searching the whole gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import attrs
import numpy as np

from sharedsvc.constants import SearchStop
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.settings import Settings
from sharedsvc.stopping import StopToken

MAX_MEMBERS = 63
"""The covered set is a 64-bit mask with a bit to spare, so at most 63 members (a hard
limit of the method, not a tuning knob: the tuning limits are in `Settings`)."""


@attrs.frozen(kw_only=True)
class Search:
    """What a search found and proved."""

    columns: np.ndarray | None
    """Positions of the groups of the best plan it found; None if it found none better
    than the floor it was given."""
    bound: float
    """No plan is worth more than this."""
    states: int
    stopped: SearchStop | None = None
    """None when the search ran to its end, so that its plan (or, if it found none, the
    plan worth the floor) is optimal; else why it stopped."""


def pair_graph(members: int, groups: FlatGroups) -> np.ndarray:
    """Which members may form a group of two: the neighbours, where contiguity holds."""
    adjacent = np.zeros((members, members), dtype=bool)
    pairs = np.flatnonzero(groups.sizes == 2)
    a = groups.members[groups.starts[pairs]]
    b = groups.members[groups.starts[pairs] + 1]
    adjacent[a, b] = adjacent[b, a] = True
    return adjacent


def search_order(members: int, groups: FlatGroups) -> np.ndarray:
    """Members in an order with a small frontier, read from the groups of two.

    Greedy: the next member is the one that leaves the fewest uncovered members
    next to covered ones, started from both ends of the graph's Fiedler vector
    (the spectral order, which follows the graph's longest stretch); the order
    with the smaller total frontier wins.
    """
    if members < 3:
        return np.arange(members)
    adjacent = pair_graph(members, groups)
    laplacian = np.diag(adjacent.sum(axis=1)).astype(float) - adjacent
    fiedler = np.argsort(np.linalg.eigh(laplacian)[1][:, 1], kind="stable")
    orders = [_greedy_order(adjacent, int(start)) for start in (fiedler[0], fiedler[-1])]
    return min(orders, key=lambda order: int(frontiers(adjacent, order).sum()))


def frontier_width(members: int, groups: FlatGroups, order: np.ndarray | None = None) -> int:
    """The widest frontier of `order` (by default the search order): how hard the search
    will be.

    Measured: 5 to 7 on services grouped by geography (33 London boroughs, 39 North
    West districts), 31 on a London service without contiguity, where the search
    met 743,126 states within 0.04% of the LP bound.
    """
    if members < 3:
        return 0
    order = search_order(members, groups) if order is None else order
    return int(frontiers(pair_graph(members, groups), order).max())


def frontiers(adjacent: np.ndarray, order: np.ndarray) -> np.ndarray:
    """After each member of `order`, how many members not yet taken neighbour one taken."""
    taken = np.zeros(len(order), dtype=bool)
    reach = np.zeros(len(order), dtype=bool)
    sizes = []
    for u in order:
        taken[u] = True
        reach |= adjacent[u]
        sizes.append(int((reach & ~taken).sum()))
    return np.array(sizes)


def _greedy_order(adjacent: np.ndarray, start: int) -> np.ndarray:
    members = len(adjacent)
    taken = np.zeros(members, dtype=bool)
    taken[start] = True
    reach = adjacent[start].copy()
    order = [start]
    for _ in range(members - 1):
        # frontier if u is taken next: what the taken reach, or u reaches, less the taken and u
        after = ((reach | adjacent) & ~taken).sum(axis=1) - (reach & ~taken)
        links = adjacent[:, taken].sum(axis=1)
        key = np.where(taken, np.iinfo(np.int64).max, after * (members + 1) - links)
        best = int(np.argmin(key))
        taken[best] = True
        reach |= adjacent[best]
        order.append(best)
    return np.array(order)


@attrs.frozen
class _Columns:
    """The groups by the member that heads them, best reduced cost first."""

    masks: list[np.ndarray]
    losses: list[np.ndarray]
    """Reduced cost lost by each group (>= 0), ascending."""
    positions: list[np.ndarray]
    """Each group's position among the caller's groups."""


def _columns(members: int, groups: FlatGroups, losses: np.ndarray, order: np.ndarray) -> _Columns:
    rank = np.empty(members, dtype=np.int64)
    rank[order] = np.arange(members)
    ranked = rank[groups.members]
    masks = groups.masks(rank)
    heads = np.minimum.reduceat(ranked, groups.starts)
    by_head = np.lexsort((losses, heads))
    bounds = np.searchsorted(heads[by_head], np.arange(members + 1))
    cut = [by_head[bounds[i] : bounds[i + 1]] for i in range(members)]
    return _Columns(masks=[masks[c] for c in cut], losses=[losses[c] for c in cut], positions=cut)


def _first_uncovered(masks: np.ndarray) -> np.ndarray:
    """The lowest clear bit of each mask (masks below 2**63, so the bit exists): the
    number of ones below it, counted in one pass (a float log2 took seven times as long)."""
    return np.bitwise_count(masks ^ (masks + np.uint64(1))).astype(np.int64) - 1


def _least_per_mask(masks: np.ndarray, lost: np.ndarray, covered: int) -> np.ndarray:
    """Positions of the entry that lost least for each distinct mask, in mask order.

    All masks have their lowest `covered` bits set, so the bits above tell them apart;
    sorting those as 32-bit keys where they fit, and picking each run's least loss
    afterwards, took a quarter of the time of one sort by mask and loss (`np.lexsort`).
    """
    keys = masks >> np.uint64(covered)
    if int(keys.max(initial=0)) < 2**32:
        keys = keys.astype(np.uint32)
    order = np.argsort(keys, kind="stable")  # the same plan on every machine, among equals
    keys, spent = keys[order], lost[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    run = np.cumsum(starts) - 1
    least = np.minimum.reduceat(spent, np.flatnonzero(starts)) if len(order) else spent
    at = np.flatnonzero(spent == least[run])
    first = np.ones(len(at), dtype=bool)
    first[1:] = run[at[1:]] != run[at[:-1]]
    return order[at[first]]


def _fitting_pairs(
    masks: np.ndarray,
    lost: np.ndarray,
    tries: np.ndarray,
    group_masks: np.ndarray,
    covered: int,
    settings: Settings,
    check: Callable[[], None],
):
    """Each (state, group) pair with no member in common, where the group is among the
    state's first `tries` (those within the budget), in chunks of about
    `settings.pairs_per_chunk` pairs: (state positions, group positions). `check` runs
    before each chunk (it raises to stop).

    Two ways, one answer. By state: every state against each group it may afford, as
    one vector. By group, when the pairs tried average more than
    `settings.search_by_group_from` per group: the states that may afford a group are
    a prefix of the states by loss, and one AND over that prefix, on the bits above the
    `covered` ones (32 bits or fewer where they fit), tells which the group fits. On
    London's SEN transport service 97% of the pairs tried do not fit; scanning by group
    halved the search's time.
    """
    chunk = settings.pairs_per_chunk
    most = int(tries.max(initial=0))
    if most == 0:
        return
    if int(tries.sum()) <= settings.search_by_group_from * most:
        ends = np.cumsum(tries)
        start = 0
        while start < len(masks):
            check()
            base = ends[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, base + chunk, side="right")))
            count = tries[start:stop]
            state = np.repeat(np.arange(start, stop), count)
            group = np.arange(len(state)) - np.repeat(np.cumsum(count) - count, count)
            fits = (masks[state] & group_masks[group]) == 0
            yield state[fits], group[fits]
            start = stop
        return
    by_loss = np.argsort(-tries, kind="stable")
    # states that may afford group j: the first reach[j] by loss (tries fall along them)
    reach = np.searchsorted(-tries[by_loss], -np.arange(most), side="left")
    shift = np.uint64(covered)
    state_bits = masks[by_loss] >> shift
    group_bits = group_masks[:most] >> shift
    top = int(max(state_bits.max(), group_bits.max()))
    kind = np.uint16 if top < 2**16 else np.uint32 if top < 2**32 else np.uint64
    state_bits, group_bits = state_bits.astype(kind), group_bits.astype(kind)
    scratch = np.empty(len(masks), dtype=kind)
    free = np.empty(len(masks), dtype=bool)
    states: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    held = 0
    tried = chunk  # check first, then as often as the scan by state (few pairs may fit)
    for group in range(most):
        n = int(reach[group])
        if tried >= chunk:
            check()
            tried = 0
        tried += n
        np.bitwise_and(state_bits[:n], group_bits[group], out=scratch[:n])
        np.equal(scratch[:n], 0, out=free[:n])
        fit = by_loss[np.flatnonzero(free[:n])]
        if len(fit):
            states.append(fit)
            groups.append(np.full(len(fit), group, dtype=np.int64))
            held += len(fit)
        if held >= chunk or (held and group == most - 1):
            check()
            yield np.concatenate(states), np.concatenate(groups)
            states, groups, held = [], [], 0


def _checker(deadline: float | None, stop: StopToken | None) -> Callable[[], None]:
    """What a search calls between chunks: raises `_Abandon` once the deadline has
    passed, and whatever `stop` raises once a stop is asked for."""

    def check() -> None:
        if deadline is not None and time.perf_counter() > deadline:
            raise _Abandon
        if stop is not None:
            stop.check()

    return check


def _by_next(nexts: np.ndarray, members: int) -> list[tuple[int, np.ndarray]]:
    """For each next member met, the positions of the entries headed there (one counting
    sort, not a pass over the entries per member)."""
    order = np.argsort(nexts.astype(np.uint8), kind="stable")
    counts = np.bincount(nexts, minlength=members + 1)
    ends = np.cumsum(counts)
    return [
        (int(target), order[ends[target] - counts[target] : ends[target]])
        for target in np.flatnonzero(counts)
    ]


def _search(
    members: int,
    columns: _Columns,
    budget: float,
    deadline: float | None,
    max_states: int,
    settings: Settings,
    beam: int | None = None,
    halt: StopToken | None = None,
) -> tuple[np.ndarray | None, int, SearchStop | None, bool]:
    """Every partition losing at most `budget`: the positions of the best one, or None.

    Also: states met, why it stopped early (or None), and whether the budget cut
    anything (if not, and nothing was found, no partition exists at all). With a
    `beam`, each step keeps only that many states, the ones that lost least: a
    quick heuristic, no longer exact.
    """
    pending: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(members + 1)]
    pending[0].append(
        (np.zeros(1, np.uint64), np.zeros(1), np.full(1, -1, np.int64), np.full(1, -1, np.int64))
    )
    kept_parents: list[np.ndarray] = []
    kept_columns: list[np.ndarray] = []
    offset = 0
    cut = False
    check = _checker(deadline, halt)
    for head in range(members + 1):
        if not pending[head]:
            continue
        masks, lost, parents, picks = (
            np.concatenate(part) for part in zip(*pending[head], strict=True)
        )
        pending[head] = []
        order = _least_per_mask(masks, lost, head)
        if beam is not None and len(order) > beam:
            order = order[np.argpartition(lost[order], beam)[:beam]]
            cut = True
        masks, lost = masks[order], lost[order]
        kept_parents.append(parents[order])
        kept_columns.append(picks[order])
        ids = offset + np.arange(len(masks))
        offset += len(masks)
        if offset > max_states:
            return None, offset, SearchStop.STATES, cut
        if head == members:  # the one complete state
            return _walk_back(kept_parents, kept_columns, offset - 1), offset, None, cut
        group_masks, group_losses = columns.masks[head], columns.losses[head]
        tries = np.searchsorted(group_losses, budget - lost, side="right")
        cut = cut or bool((tries < len(group_losses)).any())
        pairs = _fitting_pairs(masks, lost, tries, group_masks, head + 1, settings, check)
        try:
            for state, group in pairs:
                reached = masks[state] | group_masks[group]
                spent = lost[state] + group_losses[group]
                parent, picked = ids[state], columns.positions[head][group]
                for target, here in _by_next(_first_uncovered(reached), members):
                    pending[target].append((reached[here], spent[here], parent[here], picked[here]))
        except _Abandon:
            return None, offset, SearchStop.TIME, cut
    return None, offset, None, cut


def _walk_back(parents: list[np.ndarray], picks: list[np.ndarray], state: int) -> np.ndarray:
    parent = np.concatenate(parents)
    pick = np.concatenate(picks)
    chosen = []
    while state > 0:
        chosen.append(int(pick[state]))
        state = int(parent[state])
    return np.array(sorted(chosen), dtype=np.int64)


def partition_search(
    members: int,
    groups: FlatGroups,
    values: np.ndarray,
    duals: np.ndarray,
    floor: float | None,
    *,
    settings: Settings,
    deadline: float | None = None,
    max_states: int | None = None,
    progress: Callable[[str], None] | None = None,
    order: np.ndarray | None = None,
    stop: StopToken | None = None,
) -> Search:
    """The best partition of `members` into `groups`, or a proven bound on it.

    `duals` are LP row duals (any values give a correct answer; good ones a fast
    one). `floor` is the value of a known plan, or None: no search then goes below
    it, and if none finds a better plan, the bound returned is `floor` (that plan
    is optimal). A bound of minus infinity means no partition exists. `order` is the
    members' order (default `search_order`; any order gives the same answer).
    `settings` gives the beam and memory limits (`max_states` overrides its
    `search_max_states`).
    """
    max_states = settings.search_max_states if max_states is None else max_states
    if members > MAX_MEMBERS:
        raise ValueError(f"{members} members: the search handles at most {MAX_MEMBERS}")
    if len(values) == 0:  # nothing to cover anyone with
        return Search(columns=None, bound=-math.inf, states=0)
    reduced = values - groups.sum(np.asarray(duals, dtype=float))
    shift = max(0.0, float(reduced.max()))
    losses = shift * groups.sizes - reduced  # >= 0
    ceiling = float(np.sum(duals)) + shift * members
    tolerance = 1e-9 * max(1.0, abs(ceiling)) + 1e-6
    order = search_order(members, groups) if order is None else order
    columns = _columns(members, groups, losses, order)
    plan, states = None, 0
    if settings.beam_width:  # a quick plan first: it narrows the gap the exact searches cover
        most = max(len(masks) for masks in columns.masks)
        beam = max(1, min(settings.beam_width, settings.beam_pairs // max(1, most)))
        plan, states, _, _ = _search(
            members, columns, math.inf, deadline, max_states, settings, beam, halt=stop
        )
        if plan is not None:
            value = float(values[plan].sum())
            if floor is not None and value <= floor:
                plan = None
            else:
                floor = value
    widest = math.inf if floor is None else max(0.0, ceiling - floor) + tolerance
    budget = min(widest, max(abs(ceiling) * settings.first_budget_share, tolerance))
    bound, previous = ceiling, 0
    while True:
        started = time.perf_counter()
        found, met, stopped, cut = _search(
            members, columns, budget, deadline, max_states, settings, halt=stop
        )
        states += met
        if stopped is not None:
            return Search(columns=plan, bound=bound, states=states, stopped=stopped)
        if found is not None:
            value = float(values[found].sum())
            return Search(columns=found, bound=value, states=states)
        if not cut:  # every partition was met, and there is none
            return Search(columns=None, bound=-math.inf, states=states)
        bound = ceiling - budget
        if progress is not None:
            progress(
                f"no plan within {budget:,.0f} of the LP bound: none is worth more than "
                f"{bound:,.0f} ({met:,} states, {time.perf_counter() - started:.1f} s)"
            )
        if budget >= widest:
            return Search(columns=plan, bound=max(bound, floor), states=states)
        if met * max(2.0, met / max(previous, 1)) > max_states:  # the next would outgrow it
            return Search(columns=plan, bound=bound, states=states, stopped=SearchStop.STATES)
        previous = met
        budget = min(widest, 2 * budget)


@attrs.frozen(kw_only=True)
class BestWith:
    """What the best plans through each group are worth (`best_with_each`)."""

    optimum: float
    """The best plan's worth (minus infinity: no plan within the budget)."""
    with_group: np.ndarray
    """Per group: the worth of the best plan that uses it, or `beyond` when every plan
    using it is worth less than the floor."""
    beyond: float
    """The floor: a plan not met by the search is worth less."""
    states: int


def best_with_each(
    members: int,
    groups: FlatGroups,
    values: np.ndarray,
    duals: np.ndarray,
    floor: float,
    *,
    settings: Settings,
    deadline: float | None = None,
    order: np.ndarray | None = None,
    stop: StopToken | None = None,
    max_states: int | None = None,
) -> BestWith | None:
    """For every group, the worth of the best partition that uses it, exactly, among the
    partitions worth at least `floor` (minus infinity: all); None when the search would
    outgrow `max_states` (default `settings.search_max_states`) or the deadline passes.

    Why: a bound per group far tighter than an LP reduced cost, which the window of
    promising groups needs where a service's LP has a gap (`solver/window.py`).

    How: the search's forward pass, keeping every state within the budget with the
    least loss g(S) that reaches it; then a backward pass over the same states, last
    member first, giving h(S), the least loss from S to a whole partition. A group j
    placed at state S lies on a partition losing g(S) + loss_j + h(S + j), and the least
    of these over S is the best partition through j. Every partition within the budget
    passes only through states the forward pass kept, so nothing is missed.
    """
    if members > MAX_MEMBERS:
        raise ValueError(f"{members} members: the search handles at most {MAX_MEMBERS}")
    reduced = values - groups.sum(np.asarray(duals, dtype=float))
    shift = max(0.0, float(reduced.max(initial=0.0)))
    losses = shift * groups.sizes - reduced
    ceiling = float(np.sum(duals)) + shift * members
    budget = ceiling - floor  # a partition worth at least the floor loses at most this
    order = search_order(members, groups) if order is None else order
    columns = _columns(members, groups, losses, order)
    layers: list[tuple[np.ndarray, np.ndarray] | None] = [None] * (members + 1)
    pending: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(members + 1)]
    pending[0].append((np.zeros(1, np.uint64), np.zeros(1)))
    states = 0
    waiting = 1  # states reached but not yet merged into their layer
    cap = settings.search_max_states if max_states is None else max_states
    check = _checker(deadline, stop)

    def pairs(head, masks, lost):
        """Each (state, group) pair within the budget, in chunks: state index, group
        index, the state reached and the loss so far."""
        group_masks, group_losses = columns.masks[head], columns.losses[head]
        tries = np.searchsorted(group_losses, budget - lost, side="right")
        for state, group in _fitting_pairs(
            masks, lost, tries, group_masks, head + 1, settings, check
        ):
            yield state, group, masks[state] | group_masks[group], lost[state] + group_losses[group]

    try:
        for head in range(members + 1):
            if not pending[head]:
                continue
            masks, lost = (np.concatenate(part) for part in zip(*pending[head], strict=True))
            pending[head] = []
            waiting -= len(masks)
            keep = _least_per_mask(masks, lost, head)
            masks, lost = masks[keep], lost[keep]  # sorted by mask, least loss each
            layers[head] = (masks, lost)
            states += len(masks)
            if states > cap:
                return None
            if head == members:
                break
            for _, _, reached, spent in pairs(head, masks, lost):
                waiting += len(reached)
                if states + waiting > cap:  # before the states pile up in memory
                    return None
                for target, here in _by_next(_first_uncovered(reached), members):
                    pending[target].append((reached[here], spent[here]))
        if layers[members] is None:  # no partition within the budget
            empty = np.full(len(values), ceiling - budget)
            return BestWith(
                optimum=-math.inf, with_group=empty, beyond=ceiling - budget, states=states
            )
        best = np.full(len(values), math.inf)
        to_go: list[np.ndarray | None] = [None] * (members + 1)
        to_go[members] = np.zeros(1)
        for head in range(members - 1, -1, -1):
            if layers[head] is None:
                continue
            masks, lost = layers[head]
            h = np.full(len(masks), math.inf)
            for state, group, reached, spent in pairs(head, masks, lost):
                rest = np.full(len(state), math.inf)
                for target, here in _by_next(_first_uncovered(reached), members):
                    layer = layers[target]
                    if layer is None:
                        continue
                    at = np.searchsorted(layer[0], reached[here])
                    at = np.minimum(at, len(layer[0]) - 1)
                    found = layer[0][at] == reached[here]
                    rest[here[found]] = to_go[target][at[found]]
                through = columns.losses[head][group] + rest
                np.minimum.at(h, state, through)
                np.minimum.at(best, columns.positions[head][group], spent + rest)
            to_go[head] = h
    except _Abandon:
        return None
    least = float(to_go[0][0])
    beyond = ceiling - budget
    with_group = np.where(best <= budget, ceiling - best, beyond)
    return BestWith(optimum=ceiling - least, with_group=with_group, beyond=beyond, states=states)


class _Abandon(Exception):
    """The deadline passed inside a search."""
