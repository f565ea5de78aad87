"""sharedsvc: decide which services to share with whom, exactly.

The public API::

    from sharedsvc import load_consortium, optimise
    consortium = load_consortium("consortia/south-east-london.toml")
    result = optimise(consortium, time_limit=30)
    result.status, result.totals, result.to_dict()

Everything a plugin needs is exported here; the modules behind it are private
(`docs/architecture.md` describes them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sharedsvc.constants import AllocationRule, Objective, Solver, Status
from sharedsvc.engine import UNSET, Engine
from sharedsvc.errors import (
    ConsortiumError,
    OutputError,
    PluginError,
    Problem,
    SharedsvcError,
    SolverError,
    TooLargeError,
    UsageError,
)
from sharedsvc.hookspecs import hookimpl
from sharedsvc.model.consortium import (
    Consortium,
    Location,
    Member,
    Participant,
    Participation,
    Service,
)
from sharedsvc.model.fields import Field
from sharedsvc.pricing.candidates import Candidate
from sharedsvc.pricing.costmodel import CostModel, GroupPrices
from sharedsvc.pricing.groups import FlatGroups
from sharedsvc.pricing.indicators import Indicator, Measure, Peers
from sharedsvc.results import GroupResult, MemberResult, Result, RunStats, ServiceResult
from sharedsvc.rules import (
    Column,
    Constraint,
    FigureContext,
    LinearRow,
    ModelView,
    ParseContext,
    Rule,
)
from sharedsvc.settings import Settings
from sharedsvc.stopping import Interrupted, StopToken
from sharedsvc.version import VERSION
from sharedsvc.wording import unknown_name

__version__ = VERSION


def load_consortium(path: str | Path, *, engine: Engine | None = None) -> Consortium:
    """Read and validate a consortium file; raises `ConsortiumError` with every problem."""
    return (engine or Engine.create()).load(path)


def optimise(
    consortium: Consortium,
    *,
    time_limit: float | None = UNSET,
    solver: Solver | str = UNSET,
    progress: Callable[[str], None] | None = None,
    write_model: str | Path | None = None,
    prune: bool = UNSET,
    stop: StopToken | None = None,
    engine: Engine | None = None,
) -> Result:
    """The best plan for `consortium`, proven optimal or, under `time_limit` seconds, with
    its proven gap. `solver` is "auto", "cbc" or "highs"; `progress` receives one line
    at a time; `write_model` also writes the whole model as MPS; `stop` ends the run
    when requested. `engine` gives the plugins and settings (default: a new engine with
    the installed plugins); `time_limit`, `solver` and `prune` override its settings
    when given."""
    return (engine or Engine.create()).optimise(
        consortium,
        time_limit=time_limit,
        solver=solver,
        progress=progress,
        write_model=write_model,
        prune=prune,
        stop=stop,
    )


__all__ = [
    "AllocationRule",
    "Candidate",
    "Column",
    "Consortium",
    "ConsortiumError",
    "Constraint",
    "CostModel",
    "Engine",
    "Field",
    "FigureContext",
    "FlatGroups",
    "GroupPrices",
    "GroupResult",
    "Indicator",
    "Interrupted",
    "LinearRow",
    "Location",
    "Measure",
    "Member",
    "MemberResult",
    "ModelView",
    "Objective",
    "OutputError",
    "ParseContext",
    "Participant",
    "Participation",
    "Peers",
    "PluginError",
    "Problem",
    "Result",
    "Rule",
    "RunStats",
    "Service",
    "ServiceResult",
    "Settings",
    "SharedsvcError",
    "Solver",
    "SolverError",
    "Status",
    "StopToken",
    "TooLargeError",
    "UsageError",
    "__version__",
    "hookimpl",
    "load_consortium",
    "optimise",
    "unknown_name",
]
