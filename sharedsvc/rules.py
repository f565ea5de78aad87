"""What a rule plugin is: it reads one `[constraints]` key and constrains the plan.

A `Rule` parses its value into `Constraint` objects. A constraint can forbid
candidate groups (`allows_members` before pricing, `allows_figures` after) and
add rows to the PuLP model (`add_rows`). Each constraint has a label in the
user's words, which is what an infeasibility report quotes.

This module is the contract only: it imports nothing of the stages that call it
(the candidates, the model build), so every stage and every plugin can depend on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from sharedsvc.errors import PluginError, Problem

if TYPE_CHECKING:
    import pulp

    from sharedsvc.constants import Objective
    from sharedsvc.model.consortium import Consortium
    from sharedsvc.pricing.candidates import Candidate


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_]")


@attrs.frozen(kw_only=True)
class ParseContext:
    """What a rule may look at while parsing its value."""

    consortium: Consortium
    """Members, services and participations (its `constraints` are still empty)."""
    path: str
    """The key path of the value, for problems: `constraints.<key>`."""
    table: Mapping[str, Any]
    """The whole `[constraints]` table, for rules that read a sibling setting."""


class Constraint:
    """One concrete constraint, such as "bromley and lewisham never together"."""

    label: str = ""
    """In the user's words; quoted when constraints clash."""

    def size_limit(self, service: str) -> int | None:
        """Largest group this constraint allows for a service, if it limits size."""
        return None

    def needs_connected(self, service: str) -> bool:
        """True if groups of this service must be connected neighbours."""
        return False

    def allows_members(self, service: str, members: frozenset[str]) -> bool:
        """Whether a group may be formed at all (called before pricing)."""
        return True

    def limits_coalitions(self, service: str) -> bool:
        """Whether `allows_members` also bounds which coalitions could form on their own.

        The fair-shares checks value a coalition by the best partition of it into
        groups that could form (`docs/fair-shares.md`). Filters such as
        `never_together` or contiguity say what can form at all, so they bound
        coalitions too (the default); a requirement of the plan such as `must_share`
        does not: two members it keeps apart from a third could still walk away together.
        """
        return True

    def judges_names_only(self, service: str) -> bool:
        """True when `allows_members` reads only who the members are (their ids,
        neighbours and share flags), never a figure that a draw could change.

        `sharedsvc simulate --reoptimise` then enumerates a service's groups once for
        all its draws. The default is safe: true only when `allows_members` is not
        overridden.
        """
        return type(self).allows_members is Constraint.allows_members

    def implied_by_enumeration(self, service: str) -> bool:
        """True when `size_limit` and `needs_connected` already say all `allows_members` says.

        The enumerator then skips this constraint's check (a speed-up, never a change).
        """
        return False

    def allows_pruning(self, service: str) -> bool:
        """Whether dropping groups that cannot help is safe with this constraint in force.

        sharedsvc drops groups worth nothing (a member alone does as well) and groups
        that a smaller group does as well as, at no higher transition cost. That is
        safe for filters, budgets and partnership counts; not for constraints that
        force groups (must_share) or tie services (bundles). The default is safe:
        yes for pure filters, no for any constraint that adds rows.
        """
        return type(self).add_rows is Constraint.add_rows

    def allows_figures(self, candidate: Candidate, context: FigureContext) -> bool:
        """Whether a priced group may be chosen (called after pricing).

        `context.allocation(candidate)` gives each member's share of its npv.
        """
        return True

    def add_rows(self, model: ModelView) -> None:
        """Add linear rows that join groups or services (budgets, counts, links)."""

    def linear_rows(self, columns: Mapping[str, Sequence[Candidate]]) -> list[LinearRow] | None:
        """The rows `add_rows` adds, as arrays over these columns; None (the default) if
        this constraint has no array form.

        Large blocks are relaxed straight from arrays when every constraint with rows
        gives them, which saves a PuLP variable per group. The rows must be exactly
        the ones `add_rows` adds; `sharedsvc.testing.check_linear_rows` checks that.
        """
        if type(self).add_rows is Constraint.add_rows:
            return []
        return None

    def bundled(self) -> Sequence[str]:
        """Services this constraint gives identical groupings (a bundle), if any.

        Groups of two or more must then be allowed in every one of them, and chosen in
        all or none; the solver treats them as one service over their common groups
        (`solver/bundles.py`). The default is none.
        """
        return ()

    def linked_services(self, services: Sequence[str]) -> Collection[str]:
        """The services whose groupings this constraint's rows tie together.

        Services that no constraint ties are solved as separate, smaller models.
        The default is safe: none when `add_rows` is not overridden, else all.
        """
        if type(self).add_rows is Constraint.add_rows:
            return ()
        return services


@attrs.frozen(kw_only=True)
class FigureContext:
    """What `Constraint.allows_figures` may ask about a priced group beyond its figures."""

    service: str
    objective: Objective
    allocate: Callable[[Candidate], Mapping[str, float]] = attrs.field(repr=False)

    def allocation(self, candidate: Candidate) -> dict[str, float]:
        """Each member's share of the group's npv under the consortium's allocation rule."""
        return dict(self.allocate(candidate))


class Rule:
    """Base class of rule plugins: owns the `[constraints]` key `key`."""

    key: ClassVar[str]
    summary: ClassVar[str] = ""
    expects: ClassVar[str] = ""
    """What a valid value looks like, in words (shown by `sharedsvc plugins`)."""

    def parse(self, value: Any, context: ParseContext) -> tuple[list[Constraint], list[Problem]]:
        raise NotImplementedError


@attrs.frozen
class LinearRow:
    """One row over a block's columns: lower <= sum of coefficient x column <= upper."""

    name: str
    coefficients: Mapping[str, np.ndarray]
    """Service id -> one coefficient per column of that service, in the block's order;
    services left out have zero coefficients."""
    lower: float = -math.inf
    upper: float = math.inf


@attrs.define
class Column:
    """A candidate group in the model, with its 0/1 variable."""

    candidate: Candidate
    var: pulp.LpVariable


@attrs.define
class ModelView:
    """What `Constraint.add_rows` may touch: the problem and its columns by service."""

    problem: pulp.LpProblem
    columns: Mapping[str, Sequence[Column]]
    _names: set[str] | None = attrs.field(default=None, init=False, repr=False)

    def all_columns(self) -> list[Column]:
        return [c for columns in self.columns.values() for c in columns]

    def add(self, row: pulp.LpConstraint, name: str) -> None:
        """Add `row`. Its name is made safe and unique here: MPS files and solvers read
        row names, so "a-b" and "a_b" (which PuLP would both write as "a_b") must never
        meet, and nothing but ASCII letters, digits and "_" may reach a file."""
        if self._names is None:
            self._names = {c.name for c in self.problem.constraints()}
        safe = _UNSAFE_NAME.sub("_", name) or "row"
        unique, n = safe, 1
        while unique in self._names:
            n += 1
            unique = f"{safe}_{n}"
        self._names.add(unique)
        self.problem.addConstraint(row, name=unique)


def rule_failed(constraint: Constraint, method: str, what: BaseException | str) -> PluginError:
    """The error for a rule plugin's code that raised or broke its contract, naming it."""
    if isinstance(what, BaseException):
        what = f"raised {type(what).__name__}: {what}"
    kind = type(constraint)
    return PluginError(
        f"rule constraint {kind.__name__} from {kind.__module__!r} "
        f"({constraint.label or 'no label'}) {what} in {method}"
    )
