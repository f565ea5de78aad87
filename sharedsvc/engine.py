"""The engine: one plugin registry and one `Settings`, and the stages that use them.

Each engine has its own plugin manager (as pytest makes one per run), so two
engines with different plugins or settings can live in one process, and tests
change a limit with `attrs.evolve(engine.settings, ...)` instead of patching globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from sharedsvc import pipeline
from sharedsvc.constants import Solver
from sharedsvc.model import load
from sharedsvc.model.consortium import Consortium
from sharedsvc.plugins import Registry, build_registry
from sharedsvc.pricing import candidates
from sharedsvc.results import PlanRecord, Result
from sharedsvc.settings import Settings
from sharedsvc.stopping import StopToken
from sharedsvc.version import VERSION

UNSET: Any = attrs.make_class("Unset", (), repr=False)()
"""An argument not given: the engine's setting applies."""


class Engine:
    """Loads consortia and optimises them with the plugins and settings it was made with."""

    def __init__(self, registry: Registry, settings: Settings | None = None):
        self.registry = registry
        self.settings = Settings.from_environment() if settings is None else settings
        """How this engine runs; by default `Settings.from_environment()`."""
        self.recipe: tuple[bool | None, tuple[str, ...]] | None = None
        """How to build the same plugins again in a worker process (`create`'s autoload
        and blocked), or None when they cannot be (plugin objects given directly)."""

    @classmethod
    def create(
        cls,
        *,
        autoload: bool | None = None,
        blocked: Iterable[str] = (),
        plugins: Iterable[Any] = (),
        settings: Settings | None = None,
    ) -> Engine:
        """Built-in plugins, then installed ones (unless `autoload` is False), then `plugins`.

        `settings` defaults to `Settings.from_environment()` (`SHAREDSVC_WORKERS`).
        """
        plugins = tuple(plugins)
        blocked = tuple(blocked)
        engine = cls(build_registry(autoload=autoload, blocked=blocked, extra=plugins), settings)
        if not plugins:
            engine.recipe = (autoload, blocked)
        return engine

    def load(self, path: str | Path, *, scenario: Sequence[str] = ()) -> Consortium:
        """Read and validate a consortium file, with its named `scenario`s applied left to
        right (`docs/scenarios.md`); `ConsortiumError` with every problem."""
        return load.read_consortium(
            path, self.registry, settings=self.settings, scenario=tuple(scenario)
        )

    def parse(
        self, text: str, source: str = "<string>", *, scenario: Sequence[str] = ()
    ) -> Consortium:
        """Validate consortium TOML given as text (with its named `scenario`s applied)."""
        return load.parse_consortium(
            text,
            source=source,
            registry=self.registry,
            settings=self.settings,
            scenario=tuple(scenario),
        )

    def size_warnings(self, consortium: Consortium) -> list[str]:
        """Why `optimise` would refuse this consortium as too large, service by service,
        found without enumerating its groups (for `sharedsvc validate`)."""
        limit = self.settings.max_groups_per_service
        refusals = (
            candidates.too_large(consortium, s.id, consortium.constraints, limit)
            for s in consortium.services
        )
        return [str(refusal) for refusal in refusals if refusal is not None]

    def simulate(
        self,
        consortium: Consortium,
        *,
        draws: int = 1000,
        seed: int = 0,
        workers: int = 1,
        progress: Callable[[str], None] | None = None,
        advance: Callable[[int], None] | None = None,
        reoptimise: bool = False,
        client=None,
    ):
        """The optimised plan under `draws` draws of the uncertain inputs; see
        `sharedsvc.uncertainty.simulate.Simulation`. The same `seed` gives the same
        numbers at any number of `workers` (processes) or on a Dask `client`'s cluster;
        `reoptimise` also runs the optimiser for every draw."""
        from sharedsvc.uncertainty.simulate import simulate

        return simulate(
            consortium,
            self.registry,
            self.settings,
            draws=draws,
            seed=seed,
            workers=workers,
            recipe=self.recipe,
            progress=pipeline.quiet if progress is None else progress,
            advance=(lambda n: None) if advance is None else advance,
            reoptimise=reoptimise,
            client=client,
        )

    def optimise(
        self,
        consortium: Consortium,
        *,
        time_limit: float | None = UNSET,
        solver: Solver | str = UNSET,
        progress: Callable[[str], None] | None = None,
        write_model: str | Path | None = None,
        prune: bool = UNSET,
        stop: StopToken | None = None,
    ) -> Result:
        """The best plan for `consortium`; see `Result`.

        `time_limit` (seconds, None for none), `solver` ("auto", "cbc", "highs") and
        `prune` override the engine's settings for this run; `progress` receives
        one line at a time about the run; `write_model` also writes the whole model
        as MPS; `stop`, once requested (from a signal handler or another thread), ends
        the run with `Interrupted`.

        The result carries its `record` (`PlanRecord`): the consortium's text and hash,
        this version and every parameter, so that its JSON can be tracked later.
        """
        overrides = {
            key: value
            for key, value in (("time_limit", time_limit), ("solver", solver), ("prune", prune))
            if value is not UNSET
        }
        settings = attrs.evolve(self.settings, **overrides) if overrides else self.settings
        result = pipeline.optimise(
            consortium,
            self.registry,
            settings,
            progress=pipeline.quiet if progress is None else progress,
            write_model=write_model,
            stop=stop,
        )
        exact = load.reads_back(consortium, self.registry, self.settings)
        record = PlanRecord.of(consortium, settings, version=VERSION, exact=exact)
        return attrs.evolve(result, record=record)
