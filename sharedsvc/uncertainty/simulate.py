"""`simulate`: the optimised plan evaluated under many draws of its uncertain inputs.

The plan is optimised once at the inputs' central values, then priced under each
draw. Draws run in this process or in worker processes (`workers`); either way
each draw is seeded by its index (`sampling`), so the same seed gives the same
numbers whatever the number of workers. The tornado moves each input from its
10th to its 90th percentile with the others at their central values; the
switching value is the value of an input at which the plan's total npv would
fall to zero (HM Treasury's Green Book, on sensitivity analysis).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import attrs
import numpy as np

from sharedsvc import pipeline
from sharedsvc.constants import AllocationRule
from sharedsvc.errors import SolverError, UsageError
from sharedsvc.model.consortium import Consortium
from sharedsvc.model.load import reads_back
from sharedsvc.plugins import Registry
from sharedsvc.results import Result
from sharedsvc.settings import Settings
from sharedsvc.uncertainty.evaluate import Plan, evaluate, evaluate_many
from sharedsvc.uncertainty.sampling import seeds, uniforms, values_at, with_values

MAX_DRAWS = 1_000_000
SWITCHING_INPUTS = 5
"""Switching values are found for the inputs with the widest tornado swing."""
BISECTION_STEPS = 40


@attrs.frozen(kw_only=True)
class Swing:
    input: str
    low: float
    """Total npv with the input at its 10th percentile (the others central)."""
    high: float
    """... at its 90th percentile."""
    p10: float
    p90: float

    @property
    def swing(self) -> float:
        return abs(self.high - self.low)


@attrs.frozen(kw_only=True)
class Switching:
    input: str
    central: float
    value: float | None
    """The input's value at which total npv is zero; None if it stays on one side
    within the input's range (0.1st to 99.9th percentile)."""

    @property
    def change_percent(self) -> float | None:
        if self.value is None or self.central == 0:
            return None
        return 100.0 * (self.value - self.central) / self.central


@attrs.frozen(kw_only=True)
class Simulation:
    """What `simulate` found."""

    result: Result
    """The plan, optimised at the central values."""
    plan: Plan
    draws: int
    seed: int
    workers: int
    totals: np.ndarray
    """Total npv of each draw."""
    groups: np.ndarray
    """npv of each group (columns, `plan.groups` order) in each draw (rows)."""
    members: np.ndarray
    paybacks: tuple[int | None, ...]
    tornado: tuple[Swing, ...]
    switching: tuple[Switching, ...]
    inputs: tuple[str, ...]
    reoptimised: Reoptimised | None = None
    """With `reoptimise`: what the optimiser chose in each draw."""


PlanKey = tuple[tuple[str, tuple[str, ...]], ...]


@attrs.frozen(kw_only=True)
class Reoptimised:
    """The optimiser run for every draw: its optimum, and how often each plan won."""

    totals: np.ndarray
    """The optimum's total npv in each draw."""
    plans: tuple[PlanKey, ...]
    """The plan chosen in each draw: (service, members) of every group of two or more."""
    expected: dict[PlanKey, float]
    """Mean npv over all the draws of each of the most frequent plans."""

    @property
    def best_in_expectation(self) -> PlanKey:
        return max(self.expected, key=lambda plan: (self.expected[plan], plan))


def _chunks(count: int, parts: int) -> list[range]:
    size = max(1, math.ceil(count / parts))
    return [range(start, min(count, start + size)) for start in range(0, count, size)]


MOST_FREQUENT_PLANS = 20
"""Plans evaluated over every draw to find the best in expectation."""


def drawn_values(
    consortium: Consortium,
    registry: Registry,
    sequences: Sequence[np.random.SeedSequence],
    indices: Sequence[int],
) -> np.ndarray:
    """The uncertain inputs' values in the draws `indices` (one row each), each draw from
    its own seed sequence: the same values whichever process draws them."""
    u = np.array([uniforms(consortium.uncertain, sequences[i]) for i in indices])
    if not len(consortium.uncertain):
        return np.zeros((len(indices), 0))
    return values_at(registry, consortium, u)


def _run(consortium, registry, settings, plan, sequences, indices) -> list[tuple]:
    values = drawn_values(consortium, registry, sequences, indices)
    outcomes = evaluate_many(consortium, registry, settings, plan, values)
    return [(o.total, o.groups, o.members, o.payback_year) for o in outcomes]


def plan_key(result: Result) -> PlanKey:
    return tuple(
        (service.service, group.members) for service in result.services for group in service.groups
    )


class _Reoptimiser:
    """The optimiser for each draw (its figures only: no stability report is needed),
    keeping what the draws share (`pipeline.Warm`: groups, unchanged services, LP
    bases). Every process starts it from the central values, so each draw is solved
    from the same starting point whichever worker runs it and in whatever order."""

    def __init__(self, consortium: Consortium, registry: Registry, settings: Settings):
        # no stability report; under a time limit one solver thread, as in worker
        # processes (the blocks' shared deadline is then the same at any --workers;
        # without a limit every block is solved exactly whatever the threads); every
        # block by LP and fixing in process (small ones too: no CBC process per draw);
        # no pruning, so that each draw's LP has the central one's columns and starts
        # from its basis (pruning only saves time, never changes the optimum); and the
        # plan chosen as under proportional shares, the same plan as under nucleolus or
        # core (their only effect on the choice, through individual_gain, is the sign of
        # each group's npv)
        settings = attrs.evolve(settings, assess_stability=False, prune=False, fixing_min_columns=0)
        if settings.time_limit is not None:
            settings = attrs.evolve(settings, workers=1)
        if consortium.allocation.plan_wide:
            consortium = attrs.evolve(consortium, allocation=AllocationRule.PROPORTIONAL)
        self.consortium, self.registry, self.settings = consortium, registry, settings
        self.warm = pipeline.Warm()
        pipeline.optimise(consortium, registry, settings, warm=self.warm)

    def __call__(self, values: np.ndarray) -> list[tuple]:
        found = []
        for row in values:
            drawn = with_values(self.consortium, row)
            result = pipeline.optimise(drawn, self.registry, self.settings, warm=self.warm)
            if not result.solved:
                found.append((math.nan, None))  # no plan: never counted as one
            else:
                found.append((result.totals["npv"], plan_key(result)))
        return found


def _draws(task, consortium, registry, settings, plan, sequences, indices, reoptimiser=None):
    """The rows of draws `indices` for `task` ("evaluate" or "reoptimise"; the latter
    with the process's `_Reoptimiser`, made here if not given)."""
    if task == "evaluate":
        return _run(consortium, registry, settings, plan, sequences, indices)
    if reoptimiser is None:
        reoptimiser = _Reoptimiser(consortium, registry, settings)
    return reoptimiser(drawn_values(consortium, registry, sequences, indices))


_CONTEXTS: dict = {}
"""In a worker process or on a Dask worker: the plugins and consortium, built once."""


def _remote(document, source, recipe, settings, task, plan, sequences, indices) -> list[tuple]:
    """A chunk of draws away from this process: the consortium parsed once per worker
    (keyed by its text, plugins and settings), one solver thread, each draw seeded by
    its own index."""
    from sharedsvc.model.load import parse_consortium
    from sharedsvc.plugins import build_registry

    text, scenario = document
    key = (hash(text), scenario, source, recipe, repr(settings))
    if key not in _CONTEXTS:
        autoload, blocked = recipe
        registry = build_registry(autoload=autoload, blocked=blocked, extra=())
        consortium = parse_consortium(
            text, source=source, registry=registry, settings=settings, scenario=scenario
        )
        _CONTEXTS[key] = {
            "registry": registry,
            "consortium": consortium,
            "settings": attrs.evolve(settings, workers=1),
        }
    context = _CONTEXTS[key]
    registry, consortium, settings = context["registry"], context["consortium"], context["settings"]
    if task == "reoptimise" and "reoptimiser" not in context:
        context["reoptimiser"] = _Reoptimiser(consortium, registry, settings)
    local = dict(zip(indices, sequences, strict=True))
    return _draws(
        task, consortium, registry, settings, plan, local, indices, context.get("reoptimiser")
    )


def simulate(
    consortium: Consortium,
    registry: Registry,
    settings: Settings,
    *,
    draws: int,
    seed: int,
    workers: int = 1,
    recipe: tuple | None = None,
    progress: Callable[[str], None] = pipeline.quiet,
    advance: Callable[[int], None] = lambda n: None,
    reoptimise: bool = False,
    client=None,
) -> Simulation:
    """Optimise at the central values, then evaluate the plan under `draws` draws.

    `recipe` (`Engine.recipe`) lets worker processes rebuild the same plugins; without
    it, or for a consortium not read from a file, the draws run in this process.
    `client` (a `dask.distributed.Client`) runs them on its cluster instead.
    `advance(n)` is told as each n draws finish (a progress bar). With `reoptimise` the
    optimiser also runs for every draw."""
    if not 1 <= draws <= MAX_DRAWS:
        raise UsageError(f"--draws: expected 1 to {MAX_DRAWS:,}, got {draws}")
    if workers < 1:
        raise UsageError(f"--workers: expected 1 or more, got {workers}")
    result = pipeline.optimise(consortium, registry, settings, progress=progress)
    if not result.solved:
        raise SolverError(
            f"the consortium has no plan at its central values ({result.message}); "
            "nothing to simulate"
        )
    plan = Plan.of(result)
    if not consortium.uncertain:
        progress("no input is given as a distribution: every draw is the central plan")
    sequences = seeds(seed, draws)
    from_file = recipe is not None and reads_back(consortium, registry, settings)
    if client is not None and not from_file:
        raise UsageError(
            "a Dask cluster needs a consortium read from TOML (a file or text) and not changed in "
            "code since, with plugins from "
            "entry points (Engine.create), so that its workers can build the same"
        )
    parallel = client is None and workers > 1 and from_file
    if client is None and workers > 1 and not parallel:
        progress(
            "running the draws in this process (workers need a consortium read from TOML "
            "and not changed in code since)"
        )
    run = _Runner(consortium, registry, settings, plan, sequences, recipe, workers, client)
    outcomes = run("evaluate", draws, parallel, advance)
    reoptimised = None
    if reoptimise:
        progress(f"re-optimising each of the {draws:,} draws")
        chosen = run("reoptimise", draws, parallel, advance)
        reoptimised = _expected(consortium, registry, settings, sequences, chosen, plan)
    tornado = _tornado(consortium, registry, settings, plan)
    switching = _switching(consortium, registry, settings, plan, tornado)
    return Simulation(
        result=result,
        plan=plan,
        draws=draws,
        seed=seed,
        workers=workers if parallel else 1,
        totals=np.array([o[0] for o in outcomes]),
        groups=np.array([o[1] for o in outcomes]).reshape(draws, len(plan.groups)),
        members=np.array([o[2] for o in outcomes]).reshape(draws, len(plan.members)),
        paybacks=tuple(o[3] for o in outcomes),
        tornado=tornado,
        switching=switching,
        inputs=tuple(u.path for u in consortium.uncertain),
        reoptimised=reoptimised,
    )


class _Runner:
    """Runs draws, in this process, in worker processes or on a Dask cluster, and returns
    their rows in draw order."""

    def __init__(self, consortium, registry, settings, plan, sequences, recipe, workers, client):
        self.consortium, self.registry, self.settings = consortium, registry, settings
        self.plan, self.sequences, self.recipe = plan, sequences, recipe
        self.workers, self.client = workers, client
        self.reoptimiser: _Reoptimiser | None = None

    def __call__(self, task: str, draws: int, parallel: bool, advance) -> list[tuple]:
        rows: list[tuple] = [()] * draws
        if self.client is None and not parallel:
            if task == "reoptimise" and self.reoptimiser is None:
                self.reoptimiser = _Reoptimiser(self.consortium, self.registry, self.settings)
            for chunk in _chunks(draws, 8):
                rows[chunk.start : chunk.stop] = _draws(
                    task,
                    self.consortium,
                    self.registry,
                    self.settings,
                    self.plan,
                    self.sequences,
                    chunk,
                    self.reoptimiser,
                )
                advance(len(chunk))
            return rows
        c = self.consortium
        shared = ((c.text, c.scenario), c.source, self.recipe, self.settings, task, self.plan)
        with contextlib.ExitStack() as stack:
            if self.client is not None:
                parts = max(1, len(self.client.scheduler_info()["workers"]))

                def submit(*args):
                    return self.client.submit(_remote, *args, pure=False)

            else:
                parts = self.workers
                pool = stack.enter_context(ProcessPoolExecutor(max_workers=self.workers))

                def submit(*args):
                    return pool.submit(_remote, *args)

            chunks = _chunks(draws, parts * 8)
            futures = [
                submit(*shared, [self.sequences[i] for i in chunk], list(chunk)) for chunk in chunks
            ]
            for future, chunk in zip(futures, chunks, strict=True):
                rows[chunk.start : chunk.stop] = future.result()
                advance(len(chunk))
        return rows


def _expected(consortium, registry, settings, sequences, chosen, central: Plan) -> Reoptimised:
    """The most frequent plans, each evaluated over every draw: the best in expectation."""
    from collections import Counter

    plans = tuple(p for _, p in chosen if p is not None)
    frequent = [p for p, _ in Counter(plans).most_common(MOST_FREQUENT_PLANS)]
    values = drawn_values(consortium, registry, sequences, range(len(sequences)))
    expected = {}
    for key in frequent:
        plan = attrs.evolve(central, groups=key)
        outcomes = evaluate_many(consortium, registry, settings, plan, values)
        expected[key] = float(np.mean([o.total for o in outcomes]))
    return Reoptimised(
        totals=np.array([t for t, _ in chosen], dtype=float), plans=plans, expected=expected
    )


def _central(consortium: Consortium) -> list[float]:
    return [u.distribution.central for u in consortium.uncertain]


def _total_with(consortium, registry, settings, plan, index: int, value: float) -> float:
    values = _central(consortium)
    values[index] = value
    return evaluate(with_values(consortium, values), registry, settings, plan).total


def _quantiles(registry, consortium, probabilities) -> np.ndarray:
    """Every input's value at each probability (rows), within its field's bounds."""
    grid = np.tile(np.asarray(probabilities, dtype=float)[:, None], (1, len(consortium.uncertain)))
    return values_at(registry, consortium, grid)


def _tornado(consortium, registry, settings, plan) -> tuple[Swing, ...]:
    swings = []
    at = _quantiles(registry, consortium, (0.1, 0.9))
    for j, item in enumerate(consortium.uncertain):
        p10, p90 = float(at[0, j]), float(at[1, j])
        swings.append(
            Swing(
                input=item.path,
                low=_total_with(consortium, registry, settings, plan, j, p10),
                high=_total_with(consortium, registry, settings, plan, j, p90),
                p10=p10,
                p90=p90,
            )
        )
    return tuple(sorted(swings, key=lambda s: -s.swing))


def _switching(consortium, registry, settings, plan, tornado: Sequence[Swing]):
    paths = [u.path for u in consortium.uncertain]
    found = []
    ends = _quantiles(registry, consortium, (0.001, 0.999))
    for swing in tornado[:SWITCHING_INPUTS]:
        j = paths.index(swing.input)
        low, high = float(ends[0, j]), float(ends[1, j])
        f_low = _total_with(consortium, registry, settings, plan, j, low)
        f_high = _total_with(consortium, registry, settings, plan, j, high)
        value = None
        if f_low == 0:
            value = low
        elif f_high == 0:
            value = high
        elif (f_low < 0) != (f_high < 0):
            for _ in range(BISECTION_STEPS):
                middle = (low + high) / 2
                f_middle = _total_with(consortium, registry, settings, plan, j, middle)
                if (f_middle < 0) == (f_low < 0):
                    low, f_low = middle, f_middle
                else:
                    high = middle
            value = (low + high) / 2
        found.append(
            Switching(
                input=swing.input,
                central=consortium.uncertain[j].distribution.central,
                value=value,
            )
        )
    return tuple(found)
