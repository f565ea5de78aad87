"""Benchmark of the fair-shares step: the stability report and the `nucleolus` rule.

For each instance and rule, one `sharedsvc optimise` child process: its wall time,
the seconds it spent allocating and checking stability (`stats.assess_seconds`),
the same run's time without that step (the baseline, measured in the same run),
peak memory, and what the report found.

    python benchmarks/fairness.py
    python benchmarks/fairness.py --csv ../shared/data/local-authorities-2021.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from generate import DEFAULT_CSV, SCALE_SERVICES, read_areas, scale_consortium
from run import measure
from tabulate import tabulate

from sharedsvc.model.toml_writer import dumps

ROOT = Path(__file__).resolve().parents[1]
RULES = ("proportional", "nucleolus")


def with_rule(source: Path, rule: str, work: Path) -> Path:
    text = source.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("allocation =")]
    out, placed = [], False
    for line in lines:
        out.append(line)
        if line.strip() == "[constraints]":
            out.append(f'allocation = "{rule}"')
            placed = True
    if not placed:
        out += ["[constraints]", f'allocation = "{rule}"']
    path = work / f"{source.stem}-{rule}.toml"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="ONS local authorities CSV")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sharedsvc-fair-"))
    london8 = work / "london-8.toml"
    london8.write_text(
        dumps(
            scale_consortium(
                read_areas(args.csv, "London"), list(SCALE_SERVICES), 6, 1, "London 8 services"
            )
        ),
        encoding="utf-8",
    )
    instances = [
        ("london.toml", ROOT / "consortia" / "london.toml"),
        ("london-8 (<=6, contiguous)", london8),
    ]
    rows = []
    for name, source in instances:
        for rule in RULES:
            path = with_rule(source, rule, work)
            print(f"running {name} with {rule} ...", file=sys.stderr, flush=True)
            command = [
                sys.executable,
                "-m",
                "sharedsvc",
                "optimise",
                str(path),
                "--format",
                "json",
                "-q",
            ]
            seconds, peak, done = measure(command)
            if done.returncode not in (0, 1):
                rows.append([name, rule, "failed", done.stderr.decode()[-200:]])
                continue
            data = json.loads(done.stdout)
            assess = data["stats"]["assess_seconds"]
            services = data["services"].values()
            unstable = sum(not s["stability"]["stable"] for s in services)
            cost = sum(s["stability"]["cost_of_stability"] for s in services)
            rows.append(
                [
                    name,
                    rule,
                    f"{data['stats']['candidates']:,}",
                    f"{seconds:.1f}",
                    f"{assess:.1f}",
                    f"{seconds - assess:.1f}",
                    f"{seconds / max(seconds - assess, 1e-9):.2f}x",
                    f"{peak:,.0f}",
                    f"{unstable} of {len(data['services'])}",
                    f"£{cost:,.0f}",
                    data["status"],
                ]
            )
    print(
        tabulate(
            rows,
            [
                "instance",
                "rule",
                "candidates",
                "total s",
                "fair-shares s",
                "baseline s (without it)",
                "ratio",
                "peak MB",
                "unstable services",
                "cost of stability",
                "status",
            ],
            disable_numparse=True,
        )
    )


if __name__ == "__main__":
    main()
