"""The installed sharedsvc's version, in one place: the CLI's `--version`, the public
`__version__` and every plan file's record (`results.PlanRecord`) read it here."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("sharedsvc")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0+unknown"
