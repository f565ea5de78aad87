"""How a run is carried out: the solver, the time limit, the workers and every tuning limit.

One frozen `Settings` is owned by an `Engine` and passed down to each stage, so a
test changes a limit with ``attrs.evolve(settings, fixing_min_columns=1)`` rather
than by patching a module global, and two engines with different settings can
run side by side. Each limit's docstring gives the measurement behind it. None of
them changes what is optimal, only how fast (or whether, under a memory or time
cap) it is proved.
"""

from __future__ import annotations

import math
import os

import attrs

from sharedsvc.constants import Solver
from sharedsvc.errors import UsageError

WORKERS_ENV = "SHAREDSVC_WORKERS"
"""How many blocks are solved at once (default: the CPUs, at most 4; 1 turns it off)."""


def _time_limit(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"time_limit: expected seconds (a number > 0), got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"time_limit: expected a finite number of seconds > 0, got {value!r}")
    return float(value)


def _solver(value: str | Solver) -> Solver:
    try:
        return Solver(value)
    except ValueError:
        raise UsageError(
            f"unknown solver {value!r}; expected one of {', '.join(s.value for s in Solver)}"
        ) from None


def _positive(instance, attribute, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{attribute.name}: expected a number > 0, got {value!r}")


def _share(instance, attribute, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise UsageError(f"{attribute.name}: expected a share above 0 and at most 1, got {value!r}")


def _non_negative(instance, attribute, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UsageError(f"{attribute.name}: expected a number >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Settings:
    """Everything about how to optimise that is not in the consortium file."""

    solver: Solver = attrs.field(default=Solver.AUTO, converter=_solver)
    time_limit: float | None = attrs.field(default=None, converter=_time_limit)
    """Seconds for the whole run, pricing included; None: until proven optimal."""
    workers: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    """Blocks solved at once in threads; 0 means the CPUs, at most 4; 1 (or less) turns
    threads off."""
    prune: bool = True
    """Drop groups that cannot be in an optimal plan (`docs/optimiser.md`); off only to test."""
    search: bool = True
    """Use the partition search inside the LP gap where it applies; off only to test."""
    sift_min_columns: int = attrs.field(default=20_000, validator=_positive)
    """LPs of this many columns or more are solved by sifting (`relaxation.solve_lp`): on
    London's boroughs with 490,459 groups, 0.3 s of LP solves against 8.4 s."""
    decompose: bool = True
    """Solve blocks with side rows service by service under prices on those rows first
    (`solver/lagrange.py`); off only to test."""
    lagrange_iterations: int = attrs.field(default=40, validator=_positive)
    """Rounds of prices at most: each solves every service of the block once."""
    lagrange_time_share: float = attrs.field(default=0.5, validator=_share)
    """With a time limit, the prices get at most this share of a block's time; the MIPs
    over the window of promising groups get the rest."""
    lagrange_restricted_seconds: float = attrs.field(default=1.0, validator=_non_negative)
    """The restricted MIP that gives a service its plan under prices gets this long."""
    wide_through_states: int = attrs.field(default=1_000_000, validator=_positive)
    wide_through_share: float = attrs.field(default=0.25, validator=_share)
    """The bounds through each group are tried on services whose frontier is too wide
    for the search to solve them, with at most this many states and this share of the
    time left: near the optimum it can stay small (a 40-member service: 206 states), but
    London's payments without contiguity outgrew 250 s."""
    level_max_units: int = attrs.field(default=100_000, validator=_positive)
    level_knapsack_work: int = attrs.field(default=20_000_000, validator=_positive)
    level_time_share: float = attrs.field(default=0.9, validator=_share)
    """The bound over a budget row's levels (`solver/levels.py`) counts the row in at
    most this many units, coarse enough for a knapsack of at most this many steps (about
    a millisecond per million, and it runs once per round; London's £3m budget over four
    services: units of £400 rather than its coefficients' divisor of £40, whose knapsack
    takes 121 million steps), and gets at most this share of the time left: where the
    levels prove the optimum nothing after them is needed, and on London's coupled file
    they need 31 to 37 s of the 48 s that a 60 s run has left when they start."""
    level_search_first_nodes: int = attrs.field(default=100_000, validator=_positive)
    level_search_nodes: int = attrs.field(default=2_000_000, validator=_positive)
    """The search for a service's best plan within a level (`solver/level_search.py`)
    first gets this many nodes; a level it leaves unproven keeps its LP bound, and is
    searched again with eight times as many, up to the second number, only while the
    knapsack keeps picking it. Nodes, not seconds, so that a run proves the same levels
    on a busy machine as on an idle one (a limit of 3 s proved SEN transport at 216
    units on random-40 in one run and not in the next). On London's boroughs with a £3m
    budget, 99 of 103 HR levels were proven in under 10,000 nodes; on random-40, SEN
    transport within ten steps took 349,000."""
    window_max_columns: int = attrs.field(default=200_000, validator=_positive)
    """The window of promising groups stops widening beyond this many: one MIP over them
    would outrun most limits."""
    assess_stability: bool = True
    """Check each plan's stability and cost of stability (`sharedsvc.fairness`); off for
    the re-optimised draws of `simulate`, which read only the plan and its npv."""

    # --- time
    minimum_block_seconds: float = attrs.field(default=1.0, validator=_positive)
    """A block reached after the time limit has passed still gets this long to find a plan."""
    highs_time_share: float = attrs.field(default=0.8, validator=_positive)
    """HiGHS is given this share of a block's time: it overshot its limit by up to 30%
    (`../shared/notes/solvers.md`)."""

    # --- sizes refused up front
    max_groups_per_service: int = attrs.field(default=2_000_000, validator=_positive)
    """Beyond this many candidate groups a service would take too long and too much memory:
    1.5 million groups took about 2.8 GB through fixing and the MIP."""
    max_candidates: int = attrs.field(default=5_000_000, validator=_positive)
    """Candidate groups kept over all services: each costs about half a kilobyte in memory."""
    large_model: int = attrs.field(default=1_000_000, validator=_positive)
    """Candidate groups above which a run without a time limit is warned it may be long:
    1.5 million groups tied by a budget were 1.9% from proven after two minutes."""
    max_shapley_size: int = attrs.field(default=16, validator=_positive)
    """Exact Shapley values price 2 ** k coalitions of a k-member group: 2 ** 16 = 65,536
    coalitions take about a second; each member more doubles it."""

    # --- reduced-cost fixing (`solver/fixing.py`)
    fixing_min_columns: int = attrs.field(default=3000, validator=_non_negative)
    """Blocks with at least this many columns are first shrunk by LP and reduced-cost
    fixing; below it CBC on the whole block was as fast (about 0.1 s)."""
    restricted_extra: float = attrs.field(default=0.05, validator=_non_negative)
    """Share of all columns (best reduced cost first) added to the restricted MIP..."""
    restricted_minimum: int = attrs.field(default=2000, validator=_non_negative)
    """...and at least this many..."""
    restricted_maximum: int = attrs.field(default=20_000, validator=_non_negative)
    """...and at most this many: over all columns its presolve alone took over 100 s for
    1.5 million groups."""
    restricted_seconds: float = attrs.field(default=10.0, validator=_non_negative)
    """At most this long for the restricted MIP: its plan is a means, not the end."""
    search_restricted_seconds: float = attrs.field(default=0.0, validator=_non_negative)
    """Before the partition search the restricted MIP gets this long (none): the search's
    own first pass finds as good a plan sooner."""
    explain_seconds: float = attrs.field(default=10.0, validator=_non_negative)
    """Seconds for each forced plan of `sharedsvc explain`. London's payments without one
    borough's group: its LP ends 1.2% above the best plan found, and proving it took over
    two minutes, where the plan itself took 0.4 s. Past the limit the value is given with
    its bound. 0: no limit."""
    timed_mip_max_columns: int = attrs.field(default=100_000, validator=_positive)
    """With a time limit, the MIP after fixing searches at most this many groups: beyond it
    a MIP's presolve alone can outrun the limit (928,000 groups: over 5 minutes)."""
    pulp_max_columns: int = attrs.field(default=200_000, validator=_positive)
    """Above this many groups left after fixing, "auto" solves the block with HiGHS in
    process: building the PuLP model for CBC would take longer than most users wait."""

    # --- the partition search (`solver/search.py`)
    search_max_frontier: int = attrs.field(default=12, validator=_non_negative)
    """Services whose search order has a wider frontier are left to the MIP: measured 5 to 7
    with geography, 31 without (where the search met 743,126 states in 0.04% of the gap)."""
    search_max_states: int = attrs.field(default=10_000_000, validator=_positive)
    """States one search may keep (about 30 bytes each) before it gives up."""
    beam_width: int = attrs.field(default=2000, validator=_non_negative)
    """States kept per step by the quick first pass that looks for a good plan (0: none)..."""
    beam_pairs: int = attrs.field(default=8_000_000, validator=_positive)
    """...or fewer, so that it tries at most this many (state, group) pairs a step: London's
    SEN transport service has up to 3,054 groups headed by one member (beam 2,000)."""
    pairs_per_chunk: int = attrs.field(default=2_000_000, validator=_positive)
    """(state, group) pairs tried at once: bounds the working memory of one step."""
    search_by_group_from: int = attrs.field(default=512, validator=_non_negative)
    """A step scans the states each group may join (one AND per state, in a vector per
    group) once the pairs it tries average more than this per group; below it, one
    vector of all its pairs is cheaper than a call per group (0: always by group)."""
    first_budget_share: float = attrs.field(default=1e-4, validator=_positive)
    """The first search allows this share of the LP bound (or the whole gap, if smaller):
    starting from the gap instead made one search of London's HR service meet 5.1 million
    states where 19,000 were enough."""

    @classmethod
    def from_environment(cls, **overrides) -> Settings:
        """Defaults, `SHAREDSVC_WORKERS` from the environment, then `overrides`."""
        raw = os.environ.get(WORKERS_ENV, "").strip()
        if raw and "workers" not in overrides:
            try:
                overrides["workers"] = int(raw)
            except ValueError:
                raise UsageError(
                    f"{WORKERS_ENV}={raw!r}: expected a whole number of threads"
                ) from None
        return cls(**overrides)

    def thread_count(self) -> int:
        """Threads to solve blocks in: `workers`, or the CPUs (at most 4) when it is 0."""
        if self.workers == 0:
            return min(4, os.cpu_count() or 1)
        return max(1, self.workers)
