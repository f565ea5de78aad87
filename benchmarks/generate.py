"""Generate consortium files from ONS facts about the local authorities of England and Wales.

The CSV (Census 2021 populations, centroids, boundary adjacency; Open Government
Licence v3.0) is read at run time and never copied into the project. Volumes come
from population with the ratios below; costs from volume with unit costs drawn
uniformly from the stated ranges, seeded so every run gives the same file.

    python benchmarks/generate.py london -o consortia/london.toml
    python benchmarks/generate.py scale --region "North West" --max-group-size 5
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path
from typing import Any

from sharedsvc.model.toml_writer import dumps

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "local-authorities-2021.csv"

# Issue #4's benchmark services, priced by `scale`:
# volume per resident, unit cost range (£), scale_exponent, coordination_cost, transition_cost
SCALE_SERVICES = {
    "payments": (0.35, (2, 9), 0.85, 60_000, 150_000),
    "hr": (0.02, (500, 1_100), 0.90, 80_000, 250_000),
    "payroll": (0.02, (40, 90), 0.85, 30_000, 100_000),
    "fraud": (0.0015, (900, 1_600), 0.80, 40_000, 80_000),
    "sen_transport": (0.004, (7_000, 10_000), 0.93, 90_000, 120_000),
    "ict": (0.05, (60, 140), 0.88, 120_000, 400_000),
    "legal": (0.004, (700, 1_400), 0.90, 50_000, 90_000),
    "procurement": (0.01, (150, 400), 0.87, 50_000, 120_000),
}


def read_areas(path: Path, region: str | None = None) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if region:
        rows = [r for r in rows if r["region"] == region]
        if not rows:
            raise SystemExit(f"no local authorities in region {region!r}")
    return rows


def member_id(name: str) -> str:
    cleaned = "".join(c.lower() if c.isalnum() else "-" for c in name)
    return "-".join(part for part in cleaned.split("-") if part)


def base_members(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = {r["code"]: member_id(r["name"]) for r in rows}
    members = {}
    for r in rows:
        adjacent = [ids[c] for c in r["adjacent"].split(";") if c in ids]
        members[ids[r["code"]]] = {
            "name": r["name"],
            "population": int(r["population_2021"]),
            "location": {"lat": float(r["lat"]), "lon": float(r["lon"])},
            "neighbours": sorted(n for n in adjacent if n > ids[r["code"]]),
            "services": {},
        }
    return members


def scale_consortium(rows, services, max_group_size, seed, name) -> dict[str, Any]:
    """Issue #4's instances: volume = population x ratio x U(0.7, 1.3), cost = volume x U(range)."""
    rng = random.Random(seed)
    members = base_members(rows)
    for body in members.values():
        for service in services:
            ratio, (low, high), *_ = SCALE_SERVICES[service]
            volume = body["population"] * ratio * rng.uniform(0.7, 1.3)
            body["services"][service] = {
                "volume": round(volume, 1),
                "annual_cost": round(volume * rng.uniform(low, high), 2),
            }
    return {
        "consortium": {"name": name},
        "services": {
            s: {
                "model": "scale",
                "scale_exponent": SCALE_SERVICES[s][2],
                "coordination_cost": SCALE_SERVICES[s][3],
                "transition_cost": SCALE_SERVICES[s][4],
            }
            for s in services
        },
        "members": members,
        "constraints": {"max_group_size": max_group_size, "contiguous": True},
    }


def service_volumes(population: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """The four service models' fields from population, with the ratios in the file header."""
    spread = lambda: rng.uniform(0.8, 1.2)  # noqa: E731
    invoices = population * 0.35 * spread()
    payments = population * 0.5 * spread()
    employees = population * 0.012 * spread()
    cases = population * 0.0015 * spread()
    pupils = population * 0.003 * spread()
    routes = pupils / 6
    return {
        "payments": {
            "invoices": round(invoices),
            "payments": round(payments),
            "electronic_share": round(rng.uniform(0.3, 0.8), 2),
            "annual_cost": round((invoices + payments) * rng.uniform(2.0, 5.0), -2),
        },
        "hr": {
            "employees": round(employees),
            "payslips": round(employees) * 12,
            "annual_cost": round(employees * rng.uniform(550, 1_050) + employees * 12 * 4.58, -2),
        },
        "fraud": {
            "cases": round(cases),
            "investigators": round(cases / 60, 1),
            "annual_cost": round(cases / 60 * 50_000 * spread(), -2),
            "detected_value": round(cases * 3_600 * rng.uniform(0.7, 1.3), -2),
        },
        "sen_transport": {
            "pupils": round(pupils),
            "routes": max(1, round(routes)),
            "vehicles": round(routes * rng.uniform(0, 0.3)),
            "annual_cost": round(pupils * rng.uniform(7_000, 9_500), -2),
        },
    }


SERVICE_MODELS = {
    "payments": "ip_processing",
    "hr": "hr",
    "fraud": "fraud",
    "sen_transport": "sen_transport",
}


def london_consortium(rows, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    members = base_members(rows)
    for body in members.values():
        body["services"] = service_volumes(body["population"], rng)
    return {
        "consortium": {"name": "London boroughs shared services", "horizon_years": 5},
        "services": {s: {"model": m} for s, m in SERVICE_MODELS.items()},
        "members": members,
        "constraints": {"max_group_size": 4, "contiguous": ["sen_transport", "fraud"]},
    }


HEADER = """\
# {title}
#
# Generated by `python benchmarks/generate.py {command}` from ONS facts about the local
# authorities of England and Wales (Census 2021 usual residents, area centroids and
# boundary adjacency; Office for National Statistics, Open Government Licence v3.0).
# Volumes are population x ratio x U(0.8, 1.2); seeded, so the file is reproducible:
# - payments (ip_processing): 0.35 supplier invoices and 0.5 income payments a year per
#   resident; electronic share U(0.3, 0.8); cost £2.00-£5.00 a transaction around the
#   £3.40 average of 285 councils (NelsonHall for ReadSoft, 2012);
# - hr: employees served 1.2% of residents, 12 payslips each; cost £550-£1,050 an employee
#   (XpertHR 2016: median £636, mean £1,058) plus £4.58 a payslip;
# - fraud: 1.5 investigations a year per 1,000 residents, one investigator per 60 cases at
#   about £50,000; detected value about £3,600 a case (CIPFA Fraud and Corruption Tracker 2018);
# - sen_transport: SEND pupils transported 0.3% of residents (NAO 2025: about 520,000 pupils
#   get home-to-school transport in England, a large and growing share of them with SEND), six
#   pupils a route, £7,000-£9,500 a pupil around the NAO's £8,116.
# Model parameters are the models' sourced defaults (`sharedsvc plugins`).
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["london", "scale"])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--region", help="one ONS region (default: all of England and Wales)")
    parser.add_argument("--services", default=",".join(SCALE_SERVICES))
    parser.add_argument("--max-group-size", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if args.kind == "london":
        data = london_consortium(read_areas(args.csv, "London"), args.seed)
        command = f"london --seed {args.seed}"
        text = HEADER.format(
            title="All 33 London boroughs (32 boroughs and the City).", command=command
        )
    else:
        rows = read_areas(args.csv, args.region)
        services = args.services.split(",")
        name = (
            f"{args.region or 'England and Wales'}: {len(rows)} districts, {len(services)} services"
        )
        data = scale_consortium(rows, services, args.max_group_size, args.seed, name)
        text = f"# {name} (generated; scale model; see benchmarks/generate.py)\n"
    text += "\n" + dumps(data)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
