"""Which groups of a service's sharers may form: in the plan, and as coalitions of the game.

Two questions with slightly different answers. A group may be *chosen* when every
constraint's `allows_members` says so. A coalition *could form on its own* when
the constraints that bound what can exist at all say so (size, contiguity,
`never_together`, `share = false`, a cost model's list of known groups), but not
the plan's own requirements (`must_share`, see `Constraint.limits_coalitions`).
The fair-shares checks value coalitions by the second; the optimiser chooses by
the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import attrs
import numpy as np

from sharedsvc.model.consortium import Consortium
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.rules import Constraint, rule_failed

Group = tuple[int, ...]


def largest_size(service: str, sharers: int, constraints: Sequence[Constraint]) -> int:
    """The largest group the constraints' size limits allow (at most every sharer)."""
    limits = [c.size_limit(service) for c in constraints]
    return min([sharers] + [limit for limit in limits if limit is not None])


def adjacency(consortium: Consortium, ids: Sequence[str]) -> list[frozenset[int]]:
    """Each sharer's neighbours among the sharers, as positions."""
    position = {member_id: i for i, member_id in enumerate(ids)}
    return [
        frozenset(position[n] for n in consortium.member(m).neighbours if n in position)
        for m in ids
    ]


def connected(group: Sequence[int], neighbours: Sequence[frozenset[int]]) -> bool:
    """Whether `group` is connected in the neighbour graph."""
    inside = set(group)
    seen = {group[0]}
    stack = [group[0]]
    while stack:
        for other in neighbours[stack.pop()] & inside:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return len(seen) == len(inside)


class GroupFilter:
    """Says, for groups of one service's sharers, whether each may be chosen and whether
    it could form as a coalition; built once per service from the constraints in force."""

    def __init__(
        self,
        consortium: Consortium,
        service: str,
        ids: Sequence[str],
        constraints: Sequence[Constraint],
        listed: Iterable[Group] | None,
    ):
        self.service = service
        self.ids = tuple(ids)
        self.max_size = largest_size(service, len(ids), constraints)
        self.contiguous = any(c.needs_connected(service) for c in constraints)
        self.adjacency = adjacency(consortium, ids) if self.contiguous else []
        self.listed = None if listed is None else frozenset(listed)
        """The only groups the cost model can price, or None for any."""
        members_checks = [
            c for c in constraints if type(c).allows_members is not Constraint.allows_members
        ]
        self._coalition_checks = [c for c in members_checks if c.limits_coalitions(service)]
        self._plan_only_checks = [c for c in members_checks if not c.limits_coalitions(service)]
        # enumerated groups already meet size limits and contiguity: skip those checks
        self._enumerated_coalition_checks = [
            c for c in self._coalition_checks if not c.implied_by_enumeration(service)
        ]

    def _passes(self, group: Group, checks: Sequence[Constraint]) -> bool:
        if not checks:
            return True
        members = frozenset(self.ids[i] for i in group)
        for constraint in checks:
            try:
                if not constraint.allows_members(self.service, members):
                    return False
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # plugin code, SystemExit included: name it
                raise rule_failed(constraint, "allows_members", exc) from exc
        return True

    def listed_in_reach(self) -> list[Group]:
        """The cost model's listed groups that size limits and contiguity allow, sorted."""
        assert self.listed is not None
        return sorted(
            g
            for g in self.listed
            if 2 <= len(g) <= self.max_size
            and (not self.contiguous or connected(g, self.adjacency))
        )

    def judge_enumerated(self, group: Group) -> tuple[bool, bool]:
        """(could form as a coalition, may be chosen) for a group from the enumeration."""
        coalition = self._passes(group, self._enumerated_coalition_checks)
        return coalition, coalition and self._passes(group, self._plan_only_checks)

    def allows_coalition(self, group: Group) -> bool:
        """Whether any group (not only an enumerated one) could form on its own."""
        if len(group) < 2:
            return True
        if self.listed is not None and tuple(group) not in self.listed:
            return False
        return self._passes(tuple(group), self._coalition_checks)


@attrs.frozen(kw_only=True)
class GameGroups:
    """Every group of two or more that could form as a coalition, with its npv: the
    allowed groups over which the fair-shares checks separate (`sharedsvc.fairness`)."""

    groups: FlatGroups
    npv: np.ndarray

    @classmethod
    def of(cls, groups: Sequence[Group], npv: np.ndarray) -> GameGroups:
        if not groups:
            empty = np.zeros(0, dtype=np.int64)
            return cls(groups=FlatGroups(members=empty, starts=empty, sizes=empty), npv=npv)
        flat = FlatGroups.of(groups)
        # kept for the whole run: the smallest integer types that hold the positions
        # (a member index below 32,768), about a quarter of int64's memory
        members = flat.members.astype(np.int16 if flat.members.max() < 2**15 else np.int32)
        starts = flat.starts.astype(np.int32 if flat.starts.max() < 2**31 else np.int64)
        compact = FlatGroups(members=members, starts=starts, sizes=flat.sizes.astype(np.int16))
        return cls(groups=compact, npv=np.asarray(npv, dtype=float))

    def __len__(self) -> int:
        return len(self.npv)

    def members(self, index: int) -> Group:
        start = int(self.groups.starts[index])
        return tuple(self.groups.members[start : start + int(self.groups.sizes[index])].tolist())

    def totals(self, per_member: np.ndarray) -> np.ndarray:
        """Sum of a per-member array over each group."""
        if not len(self):
            return np.zeros(0)
        return self.groups.sum(per_member)

    def __iter__(self) -> Iterator[Group]:
        return (self.members(i) for i in range(len(self)))
