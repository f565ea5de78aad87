"""The errors sharedsvc raises, so callers can tell bad input from bad luck.

The CLI maps them to exit statuses: `ConsortiumError`, `TrackingError`, `PluginError`,
`UsageError` and `TooLargeError` exit 2, `SolverError` exits 3. An infeasible
model is not an error: `optimise` returns a `Result` with status "infeasible"
and the clashing constraints, and the CLI exits 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from sharedsvc.wording import counted


@attrs.frozen
class Problem:
    """One thing wrong with an input: where (a dotted key path) and what was expected."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SharedsvcError(Exception):
    """Base class of every error sharedsvc raises on purpose."""

    exit_code = 2


class UsageError(SharedsvcError):
    """A caller asked for something that cannot be done (an unknown solver, say)."""


class InputError(SharedsvcError):
    """An input file is unreadable or invalid; carries every problem found at once, each
    with its key path, and says them all with the file's name."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = tuple(problems)
        lines = [f"{source}: {counted(len(self.problems), 'problem')} found:"]
        lines += [f"  {source}: {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ConsortiumError(InputError):
    """A consortium file is unreadable or invalid; carries every problem found at once."""


class TrackingError(InputError):
    """A plan file or an actuals file (`sharedsvc track`) is unreadable or invalid."""


class PluginError(SharedsvcError):
    """A plugin failed to load, broke the contract or raised; names the plugin."""


class OutputError(SharedsvcError):
    """An output path cannot be written (a missing folder, no permission, a full disk)."""


class TooLargeError(SharedsvcError):
    """The model would be too large to build; says what to change."""


class SolverError(SharedsvcError):
    """The solver is missing, crashed, or stopped without any plan."""

    exit_code = 3
