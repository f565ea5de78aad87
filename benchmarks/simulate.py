"""Benchmark of `sharedsvc simulate`: draws per second on london.toml with uncertain costs.

Every borough's payments `annual_cost` becomes a triangular distribution (-10% / +15%
around the file's figure, correlation 0.5), so a draw reprices 33 inputs. Each run is
a separate process (`measure` from run.py): total wall time, peak memory, and draws
per second after subtracting the run's fixed part (one optimise, the tornado and the
switching values, measured in the same run as the 1-draw case). Beside it, one plain
`optimise` of the same file: N draws cost what N such calls would not.

    python benchmarks/simulate.py [--draws 1000]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from run import measure
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]


def uncertain_london(work: Path, services: tuple[str, ...] = ("payments",)) -> Path:
    """london.toml with the boroughs' annual costs of `services` uncertain."""
    text = (ROOT / "consortia" / "london.toml").read_text(encoding="utf-8")
    out, uncertain = [], False
    for line in text.splitlines():
        if line.startswith("["):
            uncertain = any(line.endswith(f".services.{s}]") for s in services)
        match = re.fullmatch(r"annual_cost = ([0-9.]+)", line)
        if uncertain and match:
            cost = float(match.group(1))
            line = (
                f"annual_cost = {{ low = {cost * 0.9:.0f}, mode = {cost:.0f}, "
                f"high = {cost * 1.15:.0f}, correlation = 0.5 }}"
            )
        out.append(line)
    path = work / f"london-uncertain-{len(services)}.toml"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def reoptimised(args, base, label, path, workers, rows, optimise_s, scheduler=None) -> list:
    """One row: `--reoptimise` draws, per second after the run's fixed part."""
    count = args.reoptimised_draws
    command = [*base, "simulate", str(path), "--draws", str(count), "--reoptimise"]
    if scheduler is None:
        command += ["--workers", str(workers)]
    else:
        command += ["--scheduler", scheduler]
    seconds, peak, done = measure([*command, "-q", "--format", "json"])
    assert done.returncode == 0, done.stderr.decode()[-500:]
    fixed_s = next(r for r in rows if r[2] == workers)[4]
    rate = count / max(seconds - float(fixed_s), 1e-9)
    return [
        label,
        count,
        workers,
        f"{seconds:.1f}",
        "",
        f"{rate:,.1f}",
        f"{peak:,.0f}" + ("" if scheduler is None else " (client)"),
        f"{optimise_s:.1f}",
        f"{count * optimise_s:,.0f}",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--reoptimised-draws", type=int, default=100)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sharedsvc-sim-"))
    path = uncertain_london(work)
    base = [sys.executable, "-m", "sharedsvc"]
    optimise_s, _, _ = measure([*base, "optimise", str(path), "-q", "--format", "json"])
    rows = []
    for workers in (1, 2):
        fixed_s, _, _ = measure(
            [*base, "simulate", str(path), "--draws", "1", "--workers", str(workers), "-q"]
        )
        seconds, peak, done = measure(
            [
                *base,
                "simulate",
                str(path),
                "--draws",
                str(args.draws),
                "--workers",
                str(workers),
                "-q",
                "--format",
                "json",
            ]
        )
        assert done.returncode == 0, done.stderr.decode()[-500:]
        rate = (args.draws - 1) / max(seconds - fixed_s, 1e-9)
        rows.append(
            [
                "london.toml, 33 uncertain costs",
                args.draws,
                workers,
                f"{seconds:.1f}",
                f"{fixed_s:.1f}",
                f"{rate:,.0f}",
                f"{peak:,.0f}",
                f"{optimise_s:.1f}",
                f"{args.draws * optimise_s:,.0f}",
            ]
        )
    every = uncertain_london(work, ("payments", "hr", "fraud", "sen_transport"))
    for label, source in (
        ("london.toml, re-optimised (payments uncertain)", path),
        ("london.toml, re-optimised (every service uncertain)", every),
    ):
        for workers in (1, 2):
            rows.append(reoptimised(args, base, label, source, workers, rows, optimise_s))
    try:
        from dask.distributed import LocalCluster
    except ImportError:
        LocalCluster = None  # the Dask row needs `pip install 'sharedsvc[dask]'`
    if LocalCluster is not None:
        with LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            command = [*base, "simulate", str(path), "--draws", str(args.draws)]
            command += ["--scheduler", cluster.scheduler_address, "-q", "--format", "json"]
            seconds, peak, done = measure(command)
            assert done.returncode == 0, done.stderr.decode()[-500:]
            fixed_s = float(rows[0][4])
            rows.append(
                [
                    "london.toml, 33 uncertain costs (LocalCluster, 2 workers)",
                    args.draws,
                    2,
                    f"{seconds:.1f}",
                    "",
                    f"{(args.draws - 1) / max(seconds - fixed_s, 1e-9):,.0f}",
                    f"{peak:,.0f} (client)",
                    f"{optimise_s:.1f}",
                    f"{args.draws * optimise_s:,.0f}",
                ]
            )
            rows.append(
                reoptimised(
                    args,
                    base,
                    "london.toml, re-optimised (payments uncertain; LocalCluster, 2 workers)",
                    path,
                    2,
                    rows,
                    optimise_s,
                    scheduler=cluster.scheduler_address,
                )
            )
    print(
        tabulate(
            rows,
            [
                "instance",
                "draws",
                "workers",
                "total s",
                "fixed s (1 draw)",
                "draws / s",
                "peak MB",
                "one optimise s",
                "as many optimise calls s",
            ],
            disable_numparse=True,
        )
    )


if __name__ == "__main__":
    main()
