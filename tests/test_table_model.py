"""The `table` cost model: listed groups with known figures, and no others."""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner
from games import GAMES, table_consortium

from sharedsvc.cli import main

PLAYERS = ("a", "b", "c", "d")


def solve(engine, text):
    return engine.optimise(engine.parse(text))


def test_only_listed_groups_form(engine):
    # scale economies would make abcd worth most; unlisted, it never forms
    values = {("a", "b"): 3.0, ("c", "d"): 2.0, ("a", "c"): 6.0}
    result = solve(engine, table_consortium(PLAYERS, values, grand=False, allocation="equal"))
    service = result.service("game")
    assert result.status == "optimal"
    assert [g.members for g in service.groups] == [("a", "c")]
    assert service.standalone == ("b", "d")
    assert result.totals["npv"] == pytest.approx(6.0)


def test_best_of_the_listed_groups_against_enumeration(engine):
    values = {("a", "b"): 3.0, ("c", "d"): 2.0, ("a", "c"): 4.0, ("b", "d"): 1.5}
    best = max(
        sum(values[p] for p in plan)
        for r in range(len(values) + 1)
        for plan in itertools.combinations(values, r)
        if len({m for p in plan for m in p}) == 2 * len(plan)  # disjoint pairs
    )
    result = solve(engine, table_consortium(PLAYERS, values, grand=False, allocation="equal"))
    assert result.totals["npv"] == pytest.approx(best)  # ac + bd
    assert best == pytest.approx(5.5)


def test_transition_costs_and_standalone_weights(engine):
    text = table_consortium(
        ("a", "b"),
        {("a", "b"): 10.0},
        grand=False,
        allocation="proportional",
        weights={"a": 1.0, "b": 3.0},
        transition={("a", "b"): 2.0},
    )
    group = solve(engine, text).service("game").groups[0]
    assert (group.annual_saving, group.transition_cost, group.npv) == (10.0, 2.0, 8.0)
    assert group.allocation == pytest.approx({"a": 2.0, "b": 6.0})


def test_shapley_of_the_glove_game(engine):
    glove = GAMES[0]
    result = solve(engine, table_consortium(glove.players, glove.values, allocation="shapley"))
    shares = result.service("game").groups[0].allocation
    assert shares == pytest.approx({"l": 2 / 3, "r1": 1 / 6, "r2": 1 / 6})


@pytest.mark.parametrize(
    ("entry", "path", "words"),
    [
        ('{ members = ["a", "zz"], annual_saving = 1.0 }', "groups[0].members[1]", "'zz'"),
        ('{ members = ["a"], annual_saving = 1.0 }', "groups[0].members", "two or more"),
        ('{ members = ["a", "a"], annual_saving = 1.0 }', "groups[0].members", "twice"),
        ('{ members = ["a", "b"] }', "groups[0].annual_saving", "missing"),
        ('{ members = ["a", "b"], annual_saving = "x" }', "groups[0].annual_saving", "number"),
        (
            '{ members = ["a", "b"], annual_saving = 1.0, transition_cost = -1 }',
            "groups[0].transition_cost",
            ">= 0",
        ),
        (
            '{ members = ["a", "b"], annual_saving = 1.0, colour = 1 }',
            "groups[0].colour",
            "unknown",
        ),
        ('"ab"', "groups[0]", "expected a table"),
    ],
)
def test_bad_groups_are_refused_with_their_key_path(tmp_path, entry, path, words):
    text = (
        '[consortium]\nname = "t"\n[services.game]\nmodel = "table"\n'
        f"groups = [{entry}]\n"
        "[members.a.services.game]\n[members.b.services.game]\n"
    )
    target = tmp_path / "bad.toml"
    target.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(target)], env={"SHAREDSVC_DISABLE_PLUGINS": "1"}
    )
    assert result.exit_code == 2
    assert f"services.game.{path}" in result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_a_repeated_group_is_refused(engine):
    text = table_consortium(("a", "b"), {("a", "b"): 1.0}, grand=False)
    text = text.replace(
        "groups = [", 'groups = [\n  { members = ["b", "a"], annual_saving = 2.0 },'
    )
    with pytest.raises(Exception, match=r"groups\[1\]\.members: the same group as groups\[0\]"):
        engine.parse(text)
