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

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import attrs
import numpy as np

from sharedsvc import pipeline
from sharedsvc.errors import SolverError, UsageError
from sharedsvc.model.consortium import Consortium
from sharedsvc.plugins import Registry
from sharedsvc.results import Result
from sharedsvc.settings import Settings
from sharedsvc.uncertainty.evaluate import Outcome, Plan, evaluate, evaluate_many
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


def _chunks(count: int, parts: int) -> list[range]:
    size = max(1, math.ceil(count / parts))
    return [range(start, min(count, start + size)) for start in range(0, count, size)]


def _run(consortium, registry, settings, plan, sequences, indices) -> list[Outcome]:
    u = np.array([uniforms(consortium.uncertain, sequences[i]) for i in indices])
    values = values_at(registry, consortium, u) if len(consortium.uncertain) else u
    return evaluate_many(consortium, registry, settings, plan, values)


_WORKER: dict = {}


def _start_worker(source: str, autoload, blocked, settings: Settings) -> None:
    """Each worker process: the same plugins and the same consortium, built once."""
    from sharedsvc.model.load import read_consortium
    from sharedsvc.plugins import build_registry

    registry = build_registry(autoload=autoload, blocked=blocked, extra=())
    consortium = read_consortium(source, registry, settings=settings)
    _WORKER.update(registry=registry, settings=settings, consortium=consortium)


def _worker_task(plan: Plan, sequences, indices) -> list[tuple]:
    registry, settings = _WORKER["registry"], _WORKER["settings"]
    local = dict(zip(indices, sequences, strict=True))
    outcomes = _run(_WORKER["consortium"], registry, settings, plan, local, indices)
    return [(o.total, o.groups, o.members, o.payback_year) for o in outcomes]


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
) -> Simulation:
    """Optimise at the central values, then evaluate the plan under `draws` draws.

    `recipe` (`Engine.recipe`) lets worker processes rebuild the same plugins; without
    it, or for a consortium not read from a file, the draws run in this process.
    `advance(n)` is told as each n draws finish (a progress bar)."""
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
    parallel = workers > 1 and recipe is not None and os.path.isfile(consortium.source)
    if workers > 1 and not parallel:
        progress("running the draws in this process (workers need a consortium file)")
    outcomes: list[tuple] = [None] * draws  # type: ignore[list-item]
    chunks = _chunks(draws, (workers if parallel else 1) * 8)
    if parallel:
        autoload, blocked = recipe
        with ProcessPoolExecutor(
            max_workers=workers,
            initializer=_start_worker,
            initargs=(consortium.source, autoload, blocked, settings),
        ) as pool:
            futures = {
                pool.submit(_worker_task, plan, [sequences[i] for i in chunk], list(chunk)): chunk
                for chunk in chunks
            }
            for future, chunk in futures.items():
                for i, row in zip(chunk, future.result(), strict=True):
                    outcomes[i] = row
                advance(len(chunk))
    else:
        for chunk in chunks:
            found = _run(consortium, registry, settings, plan, sequences, list(chunk))
            for i, o in zip(chunk, found, strict=True):
                outcomes[i] = (o.total, o.groups, o.members, o.payback_year)
            advance(len(chunk))
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
