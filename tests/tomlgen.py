"""Write consortium dictionaries as TOML text, for tests that build consortia."""

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
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def key(k: str) -> str:
    bare = k and all(c.isalnum() or c in "-_" for c in k) and k.isascii()
    return k if bare else json.dumps(k)


def dumps(data: dict[str, Any]) -> str:
    """Top-level tables of tables become [a.b] headers; everything else is inline."""
    lines: list[str] = []

    def table(path: list[str], body: dict[str, Any]) -> None:
        lines.append("[" + ".".join(key(p) for p in path) + "]")
        nested = []
        for k, v in body.items():
            if isinstance(v, dict) and path[0] in ("members", "services") and len(path) == 1:
                nested.append((k, v))
            else:
                lines.append(f"{key(k)} = {value(v)}")
        lines.append("")
        for k, v in nested:
            table([*path, k], v)

    for k, v in data.items():
        if isinstance(v, dict):
            table([k], v)
        else:
            lines.insert(0, f"{key(k)} = {value(v)}")
    return "\n".join(lines) + "\n"
