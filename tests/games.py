"""Cooperative games written as `table` consortia, and their published solutions.

Each game is zero-normalised (every player alone is worth 0), as a consortium's
members are; the nucleolus is covariant with that shift, so the published answer
minus each player's value alone is the answer here. A one-year horizon at a 0%
discount rate makes each group's npv its listed annual saving, so the game's
numbers appear unchanged in the result.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence

import attrs

Coalition = tuple[str, ...]


def toml_value(value) -> str:
    return json.dumps(value)  # TOML's strings, numbers and arrays read as JSON's


def table_consortium(
    players: Sequence[str],
    values: Mapping[Coalition, float],
    *,
    grand: bool = True,
    allocation: str = "nucleolus",
    weights: Mapping[str, float] | None = None,
    extra: str = "",
    transition: Mapping[Coalition, float] | None = None,
) -> str:
    """A consortium of one `table` service "game" whose groups are `values`' coalitions;
    with `grand`, must_share forces the grand coalition into the plan."""
    lines = [
        "[consortium]",
        'name = "game"',
        "horizon_years = 1",
        "discount_rate = 0.0",
        "[services.game]",
        'model = "table"',
        "groups = [",
    ]
    for coalition, value in values.items():
        if len(coalition) < 2:
            continue
        cost = (transition or {}).get(coalition, 0.0)
        lines.append(
            f"  {{ members = {toml_value(list(coalition))}, annual_saving = {float(value)!r}, "
            f"transition_cost = {float(cost)!r} }},"
        )
    lines.append("]")
    for p in players:
        lines.append(f"[members.{p}.services.game]")
        if weights is not None:
            lines.append(f"annual_cost = {float(weights[p])!r}")
    lines.append("[constraints]")
    lines.append(f'allocation = "{allocation}"')
    if grand:
        lines.append(
            f'must_share = [{{ service = "game", members = {toml_value(list(players))} }}]'
        )
    return "\n".join(lines) + "\n" + extra


def every_coalition(players: Sequence[str], value) -> dict[Coalition, float]:
    """value(coalition) for every coalition of two or more."""
    return {
        c: float(value(c))
        for k in range(2, len(players) + 1)
        for c in itertools.combinations(players, k)
    }


@attrs.frozen
class Game:
    name: str
    source: str
    players: tuple[str, ...]
    values: dict[Coalition, float]
    nucleolus: dict[str, float]
    core_empty: bool = False


def _glove(left: Sequence[str], right: Sequence[str]):
    def value(c):
        return min(sum(p in left for p in c), sum(p in right for p in c))

    return value


def _bankruptcy(estate: float, claims: Mapping[str, float]):
    def value(c):
        outside = sum(d for p, d in claims.items() if p not in c)
        return max(0.0, estate - outside)

    return value


def _bankruptcy_game(estate: float, talmud: Sequence[float]) -> Game:
    claims = {"a": 100.0, "b": 200.0, "c": 300.0}
    value = _bankruptcy(estate, claims)
    alone = {p: value((p,)) for p in claims}  # zero-normalise
    values = {c: v - sum(alone[p] for p in c) for c, v in every_coalition("abc", value).items()}
    return Game(
        name=f"Talmud estate {estate:g}",
        source="Aumann & Maschler, 'Game theoretic analysis of a bankruptcy problem from the "
        "Talmud', J. Economic Theory 36 (1985): the nucleolus is the Talmud's division",
        players=("a", "b", "c"),
        values=values,
        nucleolus={p: t - alone[p] for p, t in zip("abc", talmud, strict=True)},
    )


def _airport_value(costs: Mapping[str, float]):
    def value(c):
        return sum(costs[p] for p in c) - max(costs[p] for p in c)

    return value


GAMES = (
    Game(
        name="glove, one left two right",
        source="the glove market (Shapley & Shubik 1969; Maschler, Solan & Zamir, Game "
        "Theory, 2013, ch. 17): the core and the nucleolus give the scarce left glove all",
        players=("l", "r1", "r2"),
        values=every_coalition(("l", "r1", "r2"), _glove(["l"], ["r1", "r2"])),
        nucleolus={"l": 1.0, "r1": 0.0, "r2": 0.0},
    ),
    Game(
        name="glove, two left two right",
        source="the glove market: the core is {(t, t, 1 - t, 1 - t)}; the nucleolus its "
        "centre, one half each",
        players=("l1", "l2", "r1", "r2"),
        values=every_coalition(("l1", "l2", "r1", "r2"), _glove(["l1", "l2"], ["r1", "r2"])),
        nucleolus={"l1": 0.5, "l2": 0.5, "r1": 0.5, "r2": 0.5},
    ),
    _bankruptcy_game(100.0, (100 / 3, 100 / 3, 100 / 3)),
    _bankruptcy_game(200.0, (50.0, 75.0, 75.0)),
    _bankruptcy_game(300.0, (50.0, 100.0, 150.0)),
    Game(
        name="airport, runway costs 1, 2, 3",
        source="the airport game (Littlechild & Owen, Management Science 20, 1973); its "
        "nucleolus by Littlechild's sequential formula (IJGT 3, 1974), checked by hand: "
        "cost shares (1/2, 3/4, 7/4), so savings c - y = (1/2, 5/4, 5/4)",
        players=("p1", "p2", "p3"),
        values=every_coalition(("p1", "p2", "p3"), _airport_value({"p1": 1, "p2": 2, "p3": 3})),
        nucleolus={"p1": 0.5, "p2": 1.25, "p3": 1.25},
    ),
    Game(
        name="three-player majority",
        source="the symmetric majority game (von Neumann & Morgenstern 1944): the core is "
        "empty; the nucleolus, in the least core, is one third each",
        players=("a", "b", "c"),
        values=every_coalition("abc", lambda c: 1.0),
        nucleolus={"a": 1 / 3, "b": 1 / 3, "c": 1 / 3},
        core_empty=True,
    ),
    Game(
        name="a strong player with two weak partners",
        source="computed by hand here (not from a paper): v(ab) = v(ac) = 0.6, v(bc) = 0, "
        "v(abc) = 1; by symmetry x_b = x_c = t, and the largest excess max(-t, t - 0.4) is "
        "least at t = 0.2, so the nucleolus is (0.6, 0.2, 0.2)",
        players=("a", "b", "c"),
        values={("a", "b"): 0.6, ("a", "c"): 0.6, ("b", "c"): 0.0, ("a", "b", "c"): 1.0},
        nucleolus={"a": 0.6, "b": 0.2, "c": 0.2},
    ),
    Game(
        name="four-player apex game",
        source="the apex game (Davis & Maschler 1965): the apex a with any one of b, c, d, "
        "or b, c, d together, win; the core is empty, and the nucleolus of the n-player "
        "game is (2/(n+1), 1/(n+1), ...): for n = 4, (2/5, 1/5, 1/5, 1/5) (the pair rows "
        "summed force x_a >= 2/5, the row of bcd x_a <= 2/5)",
        players=("a", "b", "c", "d"),
        values=every_coalition(
            "abcd", lambda c: 1.0 if ("a" in c and len(c) >= 2) or set("bcd") <= set(c) else 0.0
        ),
        nucleolus={"a": 0.4, "b": 0.2, "c": 0.2, "d": 0.2},
        core_empty=True,
    ),
)
