from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import attrs

from sharedsvc import Engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def engine() -> Engine:
    """Built-in plugins only, so installed third-party plugins cannot change results."""
    return Engine.create(autoload=False)


def tuned(engine: Engine, **changes) -> Engine:
    """The same plugins with some settings changed: how tests move a tuning limit."""
    return Engine(engine.registry, attrs.evolve(engine.settings, **changes))
