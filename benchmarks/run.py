"""Benchmarks: sharedsvc against the raw solvers and an exact DP, measured in one run.

Prints a table: instance, members, services, groups before and after pruning,
seconds pricing and solving, total, peak memory, status, gap and objective, and
beside it CBC and HiGHS alone on the one-model formulation (read from the MPS
file that `sharedsvc optimise --write-model` writes) with the same time limit.
Each run is a separate process, so its peak memory is its own.

    python benchmarks/run.py                      # the standard set (about 25 minutes)
    python benchmarks/run.py --quick              # a smaller set (a few minutes)
    python benchmarks/run.py --only london-8 --time-limit 60
    python benchmarks/run.py --csv ../shared/data/local-authorities-2021.csv
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
from generate import DEFAULT_CSV, SCALE_SERVICES, read_areas, scale_consortium
from tabulate import tabulate

from sharedsvc.model.toml_writer import dumps

ROOT = Path(__file__).resolve().parents[1]


def measure(
    command: list[str], kill_after: float | None = None
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak memory (MB) of one child process, killed after `kill_after` s."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        timer = None
        if kill_after is not None:
            timer = threading.Timer(kill_after, process.kill)
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except KeyboardInterrupt:
            process.kill()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(
            command, process.returncode, out.read().decode(), err.read().decode()
        )
    return seconds, usage.ru_maxrss / 1024, done


def run_sharedsvc(path: Path, time_limit: float | None, mps: Path | None) -> dict:
    command = [sys.executable, "-m", "sharedsvc", "optimise", str(path), "--format", "json", "-q"]
    if time_limit:
        command += ["--time-limit", str(time_limit)]
    if mps:
        command += ["--write-model", str(mps)]
    seconds, memory, done = measure(command)
    if done.returncode not in (0, 1):
        return {
            "status": f"error {done.returncode}: {done.stderr.strip()[-200:]}",
            "seconds": seconds,
        }
    data = json.loads(done.stdout)
    stats = data.get("stats", {})
    key = "npv" if data["objective"] == "npv" else "annual_saving"
    return {
        "status": data["status"],
        "gap": data["gap"],
        "objective": data["totals"][key] if data["status"] != "infeasible" else None,
        "seconds": seconds,
        "in_process": data.get("seconds"),
        "memory": memory,
        "enumerated": stats.get("groups_enumerated"),
        "kept": stats.get("candidates"),
        "price": stats.get("price_seconds"),
        "build": stats.get("build_seconds"),
        "solve": stats.get("solve_seconds"),
    }


RAW_SOLVER = """
import json, sys, time
solver, path, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
started = time.perf_counter()
if solver == "highs":
    import highspy
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("time_limit", limit)
    h.readModel(path)
    h.run()
    info = h.getInfo()
    status = "optimal" if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else "stopped"
    found = info.primal_solution_status == 2
    objective = -info.objective_function_value if found else None
    bound = -info.mip_dual_bound
else:
    import re, subprocess, pulp
    cbc = pulp.PULP_CBC_CMD().path
    log = subprocess.run([cbc, path, "-sec", str(limit), "-ratio", "0", "-solve"],
                         capture_output=True, text=True).stdout
    status = "optimal" if "Optimal solution found" in log else "stopped"
    value = re.search(r"^Objective value:\\s+(\\S+)", log, re.M)
    lower = re.search(r"^Lower bound:\\s+(\\S+)", log, re.M)
    objective = -float(value.group(1)) if value else None
    bound = -float(lower.group(1)) if lower else objective
gap = None
if objective is not None and bound is not None:
    gap = max(0.0, (bound - objective) / max(abs(bound), abs(objective), 1e-9))
gap = 0.0 if status == "optimal" else gap
seconds = time.perf_counter() - started
print(json.dumps({"status": status, "objective": objective, "gap": gap, "seconds": seconds}))
"""


def run_raw(solver: str, mps: Path, time_limit: float) -> dict:
    """A solver alone on the MPS file; killed (no plan) if it overruns its limit twice over."""
    command = [sys.executable, "-c", RAW_SOLVER, solver, str(mps), str(time_limit)]
    seconds, memory, done = measure(command, kill_after=2 * time_limit + 60)
    if done.returncode != 0:
        status = "killed, no result" if done.returncode < 0 else "error"
        return {"status": status, "seconds": seconds, "memory": memory}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(seconds=seconds, memory=memory)
    return result


def third_of_transition(data: dict, work: Path) -> float:
    """A third of the transition cost of the plan without budget or partnership limit
    (issue #16's London 8-service instance), in whole pounds."""
    path = work / "unbudgeted.toml"
    path.write_text(dumps(data), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "sharedsvc", "optimise", str(path), "--format", "json", "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(int(json.loads(done.stdout)["totals"]["transition_cost"] / 3))


def random_consortium(members: int, services: int, max_size: int, budget: float, seed: int):
    """No geography: populations 80k-400k, the issue's service table, a transition budget."""
    rng = random.Random(seed)
    rows = [
        {
            "code": f"R{i:03d}",
            "name": f"Member {i}",
            "population_2021": rng.randint(80_000, 400_000),
            "lat": "0",
            "lon": "0",
            "adjacent": "",
        }
        for i in range(members)
    ]
    names = list(SCALE_SERVICES)[:services]
    data = scale_consortium(rows, names, max_size, seed, f"random {members} members")
    for body in data["members"].values():
        body.pop("location")
        body.pop("neighbours")
    data["constraints"] = {"max_group_size": max_size, "transition_budget": budget}
    return data


def unrestricted(members: int, seed: int):
    rng = random.Random(seed)
    ratio, (low, high), b, coordination, transition = SCALE_SERVICES["fraud"]
    data = {
        "consortium": {"name": f"one service, {members} members, no limit"},
        "services": {
            "fraud": {
                "model": "scale",
                "scale_exponent": b,
                "coordination_cost": coordination,
                "transition_cost": transition,
            }
        },
        "members": {},
    }
    for i in range(members):
        volume = rng.randint(80_000, 400_000) * ratio * rng.uniform(0.7, 1.3)
        data["members"][f"m{i:02d}"] = {
            "services": {
                "fraud": {
                    "volume": round(volume, 1),
                    "annual_cost": round(volume * rng.uniform(low, high), 2),
                }
            }
        }
    return data


def dp_optimum(data: dict) -> tuple[float, float]:
    """The textbook O(3^n) coalition-structure DP over all subsets; (objective, seconds)."""
    started = time.perf_counter()
    service = data["services"]["fraud"]
    rows = [m["services"]["fraud"] for m in data["members"].values()]
    n = len(rows)
    volume = np.array([r["volume"] for r in rows])
    cost = np.array([r["annual_cost"] for r in rows])
    annuity = sum(1.035**-t for t in range(1, 6))
    b = service["scale_exponent"]
    masks = np.arange(1 << n)
    bits = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
    size = bits.sum(axis=1)
    pooled = bits @ volume
    with np.errstate(divide="ignore", invalid="ignore"):
        running = (bits * cost * (pooled[:, None] / volume) ** (b - 1)).sum(axis=1)
    running += service["coordination_cost"] * size * (size - 1) / 2
    saving = bits @ cost - running
    value = saving * annuity - service["transition_cost"] * np.maximum(size - 1, 0)
    value[size <= 1] = 0.0
    value = value.tolist()
    best = [0.0] * (1 << n)
    for mask in range(1, 1 << n):
        low = mask & -mask
        rest = mask ^ low
        top = value[low] + best[rest]
        sub = rest
        while sub:
            candidate = value[sub | low] + best[rest ^ sub]
            if candidate > top:
                top = candidate
            sub = (sub - 1) & rest
        best[mask] = top
    return best[-1], time.perf_counter() - started


def row(name, members, services, ours, raws):
    def fmt(v, spec):
        return "" if v is None else format(v, spec)

    cells = [
        name,
        members,
        services,
        fmt(ours.get("enumerated"), ","),
        fmt(ours.get("kept"), ","),
        fmt(ours.get("price"), ".1f"),
        fmt(ours.get("build"), ".1f"),
        fmt(ours.get("solve"), ".1f"),
        fmt(ours.get("seconds"), ".1f"),
        fmt(ours.get("memory"), ",.0f"),
        ours.get("status"),
        fmt(ours.get("gap"), ".3%"),
        fmt(ours.get("objective"), ",.0f"),
    ]
    for raw in raws:
        cells.append(
            f"{raw.get('status')} {fmt(raw.get('gap'), '.2%')} {fmt(raw.get('objective'), ',.0f')}"
            f" in {fmt(raw.get('seconds'), '.0f')} s"
        )
    if raws:
        cells.append(versus(ours, raws))
    return cells


def versus(ours: dict, raws: list[dict]) -> str:
    """sharedsvc against the best raw solver of the same run: time to optimum, or gap."""
    proven = [r for r in raws if r.get("status") == "optimal"]
    if ours.get("status") == "optimal":
        if proven:
            fastest = min(r["seconds"] for r in proven)
            return f"{fastest / ours['seconds']:.1f}x faster"
        slowest = max(r["seconds"] for r in raws)  # neither proved it in this time
        return f"> {slowest / ours['seconds']:.0f}x faster"
    if proven:
        return "slower"
    gaps = [r["gap"] for r in raws if r.get("gap") is not None]
    if not gaps:
        return "raw solvers found no plan"
    return f"gap {ours['gap']:.2%} vs {min(gaps):.2%}"


HEADERS = [
    "instance",
    "members",
    "services",
    "groups",
    "after pruning",
    "price s",
    "build s",
    "solve s",
    "total s",
    "peak MB",
    "status",
    "gap",
    "objective",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="override every instance's time limit (seconds)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller instances, shorter limits")
    parser.add_argument("--only", help="run the instances whose name contains this")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw CBC and HiGHS runs")
    parser.add_argument(
        "--long", action="store_true", help="also random-40 with a 600 s limit (issue #16)"
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sharedsvc-bench-"))
    quick = args.quick

    instances = [("london.toml", ROOT / "consortia" / "london.toml", 33, 4, 60)]

    def generated(name, data, members, services, limit):
        path = work / f"{name}.toml"
        path.write_text(dumps(data), encoding="utf-8")
        instances.append((name, path, members, services, limit))

    # issue #16's coupled instances: rows that tie every service together
    with open(ROOT / "consortia" / "london.toml", "rb") as handle:
        coupled = tomllib.load(handle)
    coupled["constraints"].update(
        max_group_size=5, transition_budget=3_000_000, max_partnerships=20
    )
    for limit in (10, 60):
        generated(f"london.toml coupled (<=5, £3m, 20) {limit} s", coupled, 33, 4, limit)

    london = read_areas(args.csv, "London")
    generated(
        "london-8 (<=6, contiguous)",
        scale_consortium(london, list(SCALE_SERVICES), 6, 1, "London 8 services"),
        len(london),
        8,
        10 if quick else 60,
    )
    london8 = scale_consortium(london, list(SCALE_SERVICES), 6, 1, "London 8 services")
    budget = third_of_transition(london8, work)
    london8["constraints"].update(transition_budget=budget, max_partnerships=40)
    generated(
        f"london-8 coupled (£{budget:,.0f}, 40)", london8, len(london), 8, 30 if quick else 120
    )
    region = read_areas(args.csv, "North West")
    generated(
        "north-west-8 (<=5, contiguous)",
        scale_consortium(region, list(SCALE_SERVICES), 5, 1, "North West 8 services"),
        len(region),
        8,
        30 if quick else 120,
    )
    if not quick:
        everything = read_areas(args.csv)
        generated(
            "england-wales-8 (<=5, contiguous)",
            scale_consortium(everything, list(SCALE_SERVICES), 5, 1, "England and Wales"),
            len(everything),
            8,
            300,
        )
    members = 25 if quick else 40
    generated(
        f"random-{members} (<=5, budget)",
        random_consortium(members, 8, 5, 3_000_000, 7),
        members,
        8,
        30 if quick else 120,
    )
    if args.long:
        generated(
            f"random-{members} (<=5, budget) 600 s",
            random_consortium(members, 8, 5, 3_000_000, 7),
            members,
            8,
            600,
        )

    table = []
    for name, path, n, services, limit in instances:
        if args.only and args.only not in name:
            continue
        limit = args.time_limit or limit
        print(f"running {name} ...", file=sys.stderr, flush=True)
        ours = run_sharedsvc(path, limit, None)
        raws = []
        mps = work / (path.stem + ".mps")
        if not args.no_raw:  # a separate run writes the model, so writing is not timed
            run_sharedsvc(path, 1, mps)
        if mps.exists():
            raws = [run_raw("cbc", mps, limit), run_raw("highs", mps, limit)]
        table.append(row(name, n, services, ours, raws))
    headers = HEADERS + (
        []
        if args.no_raw
        else ["CBC alone (same limit)", "HiGHS alone (same limit)", "vs best alone"]
    )
    print(tabulate(table, headers, disable_numparse=True))

    if args.only and "dp" not in args.only:
        return
    dp_rows = []
    sizes = range(10, 15) if quick else range(10, 19, 2)
    for members in sizes:
        data = unrestricted(members, members)
        path = work / f"unrestricted-{members}.toml"
        path.write_text(dumps(data), encoding="utf-8")
        ours = run_sharedsvc(path, None, None)
        dp_value, dp_seconds = dp_optimum(data)
        same = abs(dp_value - ours["objective"]) <= 0.01
        dp_rows.append(
            [
                members,
                f"{ours['enumerated']:,}",
                f"{ours['kept']:,}",
                f"{ours['seconds']:.2f}",
                f"{ours['in_process']:.2f}",
                f"{dp_seconds:.2f}",
                f"{dp_seconds / ours['in_process']:.1f}x",
                f"{ours['objective']:,.2f}",
                f"{dp_value:,.2f}",
                "yes" if same else "NO",
            ]
        )
    print()
    print(
        tabulate(
            dp_rows,
            [
                "members",
                "groups",
                "after pruning",
                "sharedsvc process s",
                "sharedsvc optimise s",
                "DP s",
                "DP / optimise",
                "sharedsvc objective",
                "DP objective",
                "same",
            ],
            disable_numparse=True,
        )
    )


if __name__ == "__main__":
    main()
