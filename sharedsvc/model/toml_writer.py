"""Write consortium data (plain dicts) as TOML text: for generators, tests and tools.

The standard library reads TOML but cannot write it; consortium files need only
this small subset: top-level tables, `[members.<id>]` and `[services.<id>]` tables,
and inline values.
"""

from __future__ import annotations

import json
import math
from typing import Any


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def string(s: str) -> str:
    """A TOML basic string: characters as they are (astral ones too, which JSON would
    write as surrogate pairs, invalid in TOML), control characters escaped."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def key(k: str) -> str:
    bare = k and all(c.isalnum() or c in "-_" for c in k) and k.isascii()
    return k if bare else string(k)


def _tables(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())


def dumps(data: dict[str, Any]) -> str:
    """`[members.<id>]` and `[services.<id>]` become tables; other tables too; the rest inline."""
    lines: list[str] = []

    def table(path: list[str], body: dict[str, Any]) -> None:
        nested = []
        scalars = []
        for k, v in body.items():
            if isinstance(v, dict) and path[0] in ("members", "services") and len(path) == 1:
                nested.append(([k], v))
            elif path[0] == "members" and len(path) == 2 and k == "services" and _tables(v):
                nested += [(["services", s], fields) for s, fields in v.items()]
            else:
                scalars.append(f"{key(k)} = {value(v)}")
        if scalars or not nested:
            lines.extend(["[" + ".".join(key(p) for p in path) + "]", *scalars, ""])
        for keys, v in nested:
            table([*path, *keys], v)

    for k, v in data.items():
        if isinstance(v, dict):
            table([k], v)
        else:
            lines.insert(0, f"{key(k)} = {value(v)}")
    return "\n".join(lines) + "\n"
