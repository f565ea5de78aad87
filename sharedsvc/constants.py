"""The named states and choices every stage shares, as string enums.

Each is a `StrEnum`, so it compares equal to (and serialises as) its value: the
JSON contract keeps its strings, and ``result.status == "optimal"`` still reads
naturally, while a misspelt name fails at once instead of silently meaning
something else (as linopy's `constants.py` does for solver states).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """How a run (or one block of it) ended."""

    OPTIMAL = "optimal"
    """Proven optimal: no allowed plan is worth more."""
    FEASIBLE = "feasible"
    """A plan, with a proven gap to the optimum (a time limit stopped the proof)."""
    INFEASIBLE = "infeasible"
    """No plan satisfies the constraints."""


class Objective(StrEnum):
    """What the optimiser maximises: `[consortium] objective`."""

    NPV = "npv"
    """Net present value of savings over the horizon, less one-off costs."""
    ANNUAL = "annual"
    """Annual saving, ignoring one-off costs."""


class AllocationRule(StrEnum):
    """How a group's npv is shared among its members: `[constraints] allocation`."""

    PROPORTIONAL = "proportional"
    """In proportion to each member's standalone cost."""
    EQUAL = "equal"
    """The same share for each member."""
    SHAPLEY = "shapley"
    """Each member's average marginal value over the orders of joining."""
    NUCLEOLUS = "nucleolus"
    """The split that makes the unhappiest coalition as happy as it can be, then the next."""
    CORE = "core"
    """A split no coalition would walk away from (the nucleolus); when none exists, the
    least-core split, with the subsidy that stability would cost."""

    @property
    def plan_wide(self) -> bool:
        """Whether a group's shares depend on the whole plan (every allowed coalition
        across the chosen groups), not on the group alone."""
        return self in (AllocationRule.NUCLEOLUS, AllocationRule.CORE)


class Solver(StrEnum):
    """Which MIP solver runs (`--solver`)."""

    AUTO = "auto"
    """Per block, the one measured faster (`docs/optimiser.md`)."""
    CBC = "cbc"
    HIGHS = "highs"


class SolvedBy(StrEnum):
    """What proved (or found) a block's plan: the `solver` of a result, joined by "+"."""

    CBC = "cbc"
    HIGHS = "highs"
    SEARCH = "search"
    """The partition search inside the LP gap (`solver/search.py`)."""
    TIME_LIMIT = "time-limit"
    """Nothing: the time limit came first, and every member was left alone."""


class SearchStop(StrEnum):
    """Why the partition search stopped before it had proved its answer."""

    TIME = "time"
    STATES = "states"
    """It would have outgrown its memory allowance (`Settings.search_max_states`)."""


MEMBER_KINDS = ("council", "nhs", "police", "fire", "other")
"""The kinds of member the consortium format knows."""
