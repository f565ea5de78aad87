"""Hypothesis strategies: small random consortia with every constraint kind."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ALLOCATIONS = ("proportional", "equal", "shapley")


@st.composite
def consortia(draw, max_members: int = 5, max_services: int = 3) -> dict[str, Any]:
    n_services = draw(st.integers(1, max_services))
    n_members = draw(st.integers(2, max_members if n_services < 3 else min(4, max_members)))
    members = [f"m{i}" for i in range(n_members)]
    services = [f"s{j}" for j in range(n_services)]
    money = st.floats(100_000, 5_000_000, allow_nan=False).map(lambda x: round(x, 2))
    data: dict[str, Any] = {
        "consortium": {
            "name": "random",
            "horizon_years": draw(st.integers(1, 10)),
            "discount_rate": draw(st.sampled_from([0.0, 0.035, 0.1])),
            "objective": draw(st.sampled_from(["npv", "annual"])),
        },
        "services": {
            s: {
                "model": "scale",
                "scale_exponent": draw(st.floats(0.6, 0.97).map(lambda x: round(x, 3))),
                "coordination_cost": draw(st.sampled_from([0.0, 2_000.0, 20_000.0])),
                "transition_cost": draw(st.sampled_from([0.0, 10_000.0, 80_000.0])),
            }
            for s in services
        },
        "members": {},
    }
    edges = {(a, b) for i, a in enumerate(members) for b in members[i + 1 :] if draw(st.booleans())}
    for m in members:
        body: dict[str, Any] = {"neighbours": sorted(b for a, b in edges if a == m)}
        body["services"] = {}
        for s in services:
            if draw(st.integers(0, 9)) < 8:
                row = {
                    "volume": draw(st.integers(100, 50_000)),
                    "annual_cost": draw(money),
                }
                if draw(st.integers(0, 9)) == 0:
                    row["share"] = False
                body["services"][s] = row
        data["members"][m] = body
    for s in services:  # every service needs someone taking part
        if not any(s in b["services"] for b in data["members"].values()):
            data["members"][members[0]]["services"][s] = {"volume": 1000, "annual_cost": 50_000.0}

    constraints: dict[str, Any] = {}
    sometimes = st.integers(0, 9).map(lambda x: x < 3)
    if draw(sometimes):
        constraints["max_group_size"] = draw(st.integers(1, n_members))
    if draw(sometimes):
        constraints["max_partnerships"] = draw(st.integers(0, 3))
    if draw(sometimes):
        constraints["transition_budget"] = draw(st.sampled_from([0.0, 50_000.0, 150_000.0]))
    if draw(sometimes):
        constraints["contiguous"] = draw(
            st.one_of(st.just(True), st.lists(st.sampled_from(services), unique=True))
        )
    if draw(sometimes):
        pairs = st.lists(st.sampled_from(members), min_size=2, max_size=3, unique=True)
        constraints["never_together"] = draw(st.lists(pairs, max_size=2))
    if draw(sometimes):
        entries = []
        for s in draw(st.lists(st.sampled_from(services), max_size=2, unique=True)):
            sharers = [
                m
                for m, b in data["members"].items()
                if s in b["services"] and b["services"][s].get("share", True)
            ]
            if len(sharers) >= 2:
                chosen = draw(
                    st.lists(st.sampled_from(sharers), min_size=2, max_size=3, unique=True)
                )
                entries.append({"service": s, "members": sorted(chosen)})
        if entries:
            constraints["must_share"] = entries
    if n_services >= 2 and draw(sometimes):
        constraints["bundles"] = [
            draw(st.lists(st.sampled_from(services), min_size=2, unique=True))
        ]
    if draw(sometimes):
        constraints["individual_gain"] = draw(st.booleans())
    constraints["allocation"] = draw(st.sampled_from(ALLOCATIONS))
    data["constraints"] = constraints
    return data
