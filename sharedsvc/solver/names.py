"""How model columns are named: the one place that writes the scheme.

Names are short, deterministic ASCII: `x<service tag>_<position>` for the group at
that position of the service's candidates, `cover<service tag>_<sharer>` for the
row that covers a sharer once. The PuLP model, the array relaxation and the
checks for rule authors all read these names.
"""

from __future__ import annotations


def column_name(tag: str, position: int) -> str:
    """The 0/1 column of a service's candidate at `position`."""
    return f"x{tag}_{position}"


def cover_row_name(tag: str, sharer: int) -> str:
    """The row saying that a service's sharer is in exactly one chosen group."""
    return f"cover{tag}_{sharer}"
