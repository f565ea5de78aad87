"""Benchmark of `sharedsvc explain`: wall time and peak memory of one member's
explanation, service by service, beside one plain `optimise` of the same file (the
baseline, measured in the same run). Each run is a separate process (`measure` from
run.py). The ratio says how many plain runs an explanation costs.

    python benchmarks/explain.py [--member camden] [--file consortia/london.toml]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from run import measure
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ROOT / "consortia" / "london.toml"))
    parser.add_argument("--member", default="camden")
    parser.add_argument("--max-solves", type=int, default=40)
    args = parser.parse_args()
    base = [sys.executable, "-m", "sharedsvc"]
    seconds, peak, done = measure([*base, "optimise", args.file, "-q", "--format", "json"])
    assert done.returncode == 0, done.stderr[-500:]
    plan = json.loads(done.stdout)
    rows = [["optimise (baseline)", "", "", f"{seconds:.1f}", f"{peak:,.0f}", "1.0"]]
    baseline = seconds
    cases = [[s, "--no-relax"] for s in plan["services"]] + [[None, "--relax"]]
    for service, relax in cases:
        command = [*base, "explain", args.file, "--member", args.member, "--format", "json"]
        command += ["--max-solves", str(args.max_solves), "-q"]
        if service is not None:
            command += ["--service", service]
        if relax == "--no-relax":
            command.append("--no-relax")
        seconds, peak, done = measure(command)
        assert done.returncode == 0, done.stderr[-500:]
        found = json.loads(done.stdout)
        solves = sum(s["evaluated"] for s in found["services"].values())
        groups = sum(s["groups_with_member"] for s in found["services"].values())
        proven = all(s["proven_best"] for s in found["services"].values())
        label = f"explain {service}" if service else "explain, every service, relaxations"
        rows.append(
            [
                label + ("" if proven else " (solve limit)"),
                f"{groups:,}",
                f"{solves:,}",
                f"{seconds:.1f}",
                f"{peak:,.0f}",
                f"{seconds / baseline:.1f}",
            ]
        )
    headers = ["run", "groups with member", "forced plans", "seconds", "peak MB", "x optimise"]
    print(f"{Path(args.file).name}, member {args.member}")
    print(tabulate(rows, headers, tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
