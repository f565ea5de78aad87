"""Words for people: counts with the right plural, lists joined with "and", values shown
as a person wrote them, and "did you mean" for a misspelt name.

Every message that counts or names things goes through here, so that no message says
"1 members", "1 problem(s)" or ``np.float64(-1.0)``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

PLURALS = {"analysis": "analyses", "company": "companies", "authority": "authorities"}
"""Plurals that adding an s gets wrong, among the words messages use."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 member"``, ``"2 members"``, ``"1,234 groups"``."""
    word = noun if n == 1 else (plural or PLURALS.get(noun) or noun + "s")
    return f"{n:,} {word}"


def joined(names: Iterable[str], conjunction: str = "and") -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def shown(value: Any) -> str:
    """A value as it would be written in TOML or Python: numpy scalars as plain numbers
    (``-1.0``, not ``np.float64(-1.0)``), strings quoted."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            value = item()
        except (TypeError, ValueError):  # an array of several values: numpy's own text
            return str(value)
    return repr(value)


def suggestion(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'bromley'?"`` when a known name is close to `name`, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


LISTED_AT_MOST = 12
"""An unknown name's message lists the known ones when there are at most this many."""


def unknown_name(what: str, name: str, known: Iterable[str]) -> str:
    """``"unknown member 'bromly'; did you mean 'bromley'?"``; without a close match, the
    known names (when few enough to read)."""
    known = sorted(set(known))
    hint = suggestion(name, known)
    if hint:
        return f"unknown {what} {name!r}{hint}"
    if not known:
        return f"unknown {what} {name!r}; there are none"
    if len(known) <= LISTED_AT_MOST:
        return f"unknown {what} {name!r}; expected one of {', '.join(known)}"
    return f"unknown {what} {name!r} (none of the {counted(len(known), what)} is close)"
