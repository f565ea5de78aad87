"""The engine: one plugin registry, and the stages that use it.

Each engine has its own plugin manager (as pytest makes one per run), so two
engines with different plugins can live in one process and tests need no
monkeypatching of globals.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sharedsvc import load
from sharedsvc.consortium import Consortium
from sharedsvc.optimiser import optimise as run_optimisation
from sharedsvc.plugins import Registry, build_registry
from sharedsvc.results import Result


class Engine:
    """Loads consortia and optimises them with the plugins it was made with."""

    def __init__(self, registry: Registry):
        self.registry = registry

    @classmethod
    def create(
        cls,
        *,
        autoload: bool | None = None,
        blocked: Iterable[str] = (),
        plugins: Iterable[Any] = (),
    ) -> Engine:
        """Built-in plugins, then installed ones (unless `autoload` is False), then `plugins`."""
        return cls(build_registry(autoload=autoload, blocked=blocked, extra=plugins))

    def load(self, path: str | Path) -> Consortium:
        return load.read_consortium(path, self.registry)

    def parse(self, text: str, source: str = "<string>") -> Consortium:
        return load.parse_consortium(text, source=source, registry=self.registry)

    def optimise(self, consortium: Consortium, **options: Any) -> Result:
        """Options: solver ("auto", "cbc", "highs"), time_limit (seconds), write_model (path)."""
        return run_optimisation(consortium, self.registry, **options)
