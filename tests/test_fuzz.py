"""Fuzzing consortium files: every run succeeds with valid JSON or fails cleanly, never a traceback.

Valid files (the bundled South East London one, and small random ones) are
mutated: keys deleted, types changed, NaN, infinities, huge, negative and zero
numbers injected, unicode in ids and names, tables duplicated, bytes corrupted.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib

from click.testing import CliRunner
from conftest import ROOT
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import consortia

from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

BASE = tomllib.loads((ROOT / "consortia" / "south-east-london.toml").read_text(encoding="utf-8"))
NASTY_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    1e300,
    -1e300,
    -5,
    0,
    0.0,
    -0.0,
    True,
    False,
    "",
    "lots",
    "Bromley",
    "brömley",
    "🏛",
    [],
    [1, 2],
    {},
    {"a": 1},
    10**30,
    2**63,
    -(2**63),
    1e-320,
    "line\nforged: line",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07",
    "right\u202eleft",
    "😀",
    "a|b",
]
DEEP = "[" * 500 + "]" * 500
"""Arrays nested 500 deep: more than Python's recursion allows the TOML reader."""
FILE_LEVEL = (
    "not valid TOML",
    "expected UTF-8",
    "no such file",
    "the file is",
    "cannot be read",
    "cannot be checked",
)


def paths(data, prefix=()):
    for key, value in data.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from paths(value, (*prefix, key))


def at(data, path):
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def mutated(draw):
    data = copy.deepcopy(draw(st.one_of(st.just(BASE), consortia())))
    kinds = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths(data))))
        parent = at(data, path)
        kind = draw(st.sampled_from(["delete", "value", "rename", "unicode-key"]))
        kinds.append(kind)
        if kind == "delete":
            del parent[path[-1]]
        elif kind == "value":
            parent[path[-1]] = draw(st.sampled_from(NASTY_VALUES))
        elif kind == "rename":
            parent[path[-1] + draw(st.sampled_from(["x", "_", "-2", "Z"]))] = parent.pop(path[-1])
        else:
            parent[draw(st.sampled_from(["Ünïcode", "a b", "ø", "x" * 300]))] = parent.pop(path[-1])
        if not any(True for _ in paths(data)):
            break
    text = dumps(data)
    if draw(st.booleans()):
        text += draw(
            st.sampled_from(
                [
                    "\n[consortium]\nname = 'again'\n",
                    "\n[members.bromley]\n",
                    "\n[[services]]\n",
                    "\n= 1\n",
                    "\n[constraints]\nmax_group_size = 2\n",
                    f"\n[constraints]\nnever_together = {DEEP}\n",
                ]
            )
        )
        kinds.append("text")
    raw = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        position = draw(st.integers(0, max(0, len(raw) - 1)))
        raw = raw[:position] + b"\xff\xfe" + raw[position:]
        kinds.append("bytes")
    return raw, kinds


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=mutated())
def test_mutated_files_succeed_or_fail_cleanly(tmp_path_factory, case):
    raw, kinds = case
    for kind in kinds:
        event(f"mutation {kind}")
    path = tmp_path_factory.mktemp("fuzz") / "c.toml"
    path.write_bytes(raw)
    result = CliRunner().invoke(
        main,
        ["optimise", str(path), "--format", "json", "-q"],
        env={"SHAREDSVC_DISABLE_PLUGINS": "1"},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output
    for stream in (result.stdout, result.stderr):  # no control character reaches a terminal
        assert not any(c in stream for c in "\x1b\x07\u202e"), stream
    event(f"exit {result.exit_code}")
    if result.exit_code in (0, 1):
        data = json.loads(result.stdout)
        assert data["status"] in ("optimal", "feasible", "infeasible")
        assert (data["status"] == "infeasible") == (result.exit_code == 1)
    else:
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ")
        assert str(path) in result.stderr
        problems = [line for line in result.stderr.splitlines() if line.startswith("  ")]
        assert problems, result.stderr
        for line in problems:  # each names the file, then a key path or a file-level reason
            detail = line.removeprefix(f"  {path}: ")
            assert detail != line, line
            assert detail.startswith(FILE_LEVEL) or ": " in detail, line
