"""sharedsvc: decide which services to share with whom, exactly.

The public API::

    from sharedsvc import load_consortium, optimise
    consortium = load_consortium("consortia/south-east-london.toml")
    result = optimise(consortium)
    result.status, result.totals, result.to_dict()
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sharedsvc.consortium import Consortium, Location, Member, Participation, Service
from sharedsvc.costmodel import CostModel, Field, GroupPrices, Participant
from sharedsvc.errors import (
    ConsortiumError,
    PluginError,
    Problem,
    SharedsvcError,
    SolverError,
    TooLargeError,
    UsageError,
)
from sharedsvc.hookspecs import hookimpl
from sharedsvc.results import GroupResult, Result, ServiceResult
from sharedsvc.rules import Constraint, LinearRow, ModelView, ParseContext, Rule

try:
    __version__ = version("sharedsvc")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"


def load_consortium(path: str | Path, *, engine: Engine | None = None) -> Consortium:
    """Read and validate a consortium file; raises `ConsortiumError` with every problem."""
    return (engine or Engine.create()).load(path)


def optimise(consortium: Consortium, *, engine: Engine | None = None, **options: Any) -> Result:
    """Optimise a consortium. Options: solver, time_limit, write_model, progress."""
    return (engine or Engine.create()).optimise(consortium, **options)


from sharedsvc.engine import Engine  # noqa: E402  (engine imports the modules above)

__all__ = [
    "Consortium",
    "ConsortiumError",
    "Constraint",
    "CostModel",
    "Engine",
    "Field",
    "GroupPrices",
    "GroupResult",
    "LinearRow",
    "Location",
    "Member",
    "ModelView",
    "ParseContext",
    "Participant",
    "Participation",
    "PluginError",
    "Problem",
    "Result",
    "Rule",
    "Service",
    "ServiceResult",
    "SharedsvcError",
    "SolverError",
    "TooLargeError",
    "UsageError",
    "__version__",
    "hookimpl",
    "load_consortium",
    "optimise",
]
