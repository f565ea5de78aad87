"""The engine: one plugin registry and one `Settings`, and the stages that use them.

Each engine has its own plugin manager (as pytest makes one per run), so two
engines with different plugins or settings can live in one process, and tests
change a limit with `attrs.evolve(engine.settings, ...)` instead of patching globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from sharedsvc import pipeline
from sharedsvc.constants import Solver
from sharedsvc.model import load
from sharedsvc.model.consortium import Consortium
from sharedsvc.plugins import Registry, build_registry
from sharedsvc.results import Result
from sharedsvc.settings import Settings

_UNSET: Any = attrs.make_class("Unset", (), repr=False)()


class Engine:
    """Loads consortia and optimises them with the plugins and settings it was made with."""

    def __init__(self, registry: Registry, settings: Settings | None = None):
        self.registry = registry
        self.settings = Settings() if settings is None else settings

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
        registry = build_registry(autoload=autoload, blocked=blocked, extra=plugins)
        return cls(registry, Settings.from_environment() if settings is None else settings)

    def load(self, path: str | Path) -> Consortium:
        """Read and validate a consortium file; `ConsortiumError` with every problem."""
        return load.read_consortium(
            path, self.registry, max_shapley_size=self.settings.max_shapley_size
        )

    def parse(self, text: str, source: str = "<string>") -> Consortium:
        """Validate consortium TOML given as text."""
        return load.parse_consortium(
            text,
            source=source,
            registry=self.registry,
            max_shapley_size=self.settings.max_shapley_size,
        )

    def optimise(
        self,
        consortium: Consortium,
        *,
        time_limit: float | None = _UNSET,
        solver: Solver | str = _UNSET,
        progress: Callable[[str], None] | None = None,
        write_model: str | Path | None = None,
        prune: bool = _UNSET,
    ) -> Result:
        """The best plan for `consortium`; see `Result`.

        `time_limit` (seconds, None for none), `solver` ("auto", "cbc", "highs") and
        `prune` override the engine's settings for this run; `progress` receives
        one line at a time about the run; `write_model` also writes the whole model
        as MPS.
        """
        overrides = {
            key: value
            for key, value in (("time_limit", time_limit), ("solver", solver), ("prune", prune))
            if value is not _UNSET
        }
        settings = attrs.evolve(self.settings, **overrides) if overrides else self.settings
        return pipeline.optimise(
            consortium,
            self.registry,
            settings,
            progress=pipeline.quiet if progress is None else progress,
            write_model=write_model,
        )
