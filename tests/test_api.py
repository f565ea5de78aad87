"""The embedding API: load_consortium, optimise, result objects."""

from __future__ import annotations

import json

import attrs
import pytest
from conftest import ROOT

import sharedsvc
from sharedsvc import ConsortiumError, Result, load_consortium, optimise

SEL = ROOT / "consortia" / "south-east-london.toml"


def test_load_and_optimise_from_python():
    consortium = load_consortium(SEL)
    assert [m.id for m in consortium.members] == ["bromley", "bexley", "greenwich", "lewisham"]
    assert consortium.member("bexley").neighbours == ("bromley", "greenwich")
    assert consortium.member("lewisham").neighbours == ("bromley", "greenwich")  # symmetric
    result = optimise(consortium)
    assert isinstance(result, Result)
    assert result.status == "optimal" and result.solved
    assert result.totals["npv"] > 0
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.status = "feasible"


def test_contiguity_is_respected_in_the_bundled_consortium():
    consortium = load_consortium(SEL)
    result = optimise(consortium)
    sen = next(s for s in result.services if s.service == "sen_transport")
    assert sen.groups, "the bundled consortium should share SEN transport"
    for group in sen.groups:
        reached, frontier = {group.members[0]}, [group.members[0]]
        while frontier:
            for n in consortium.member(frontier.pop()).neighbours:
                if n in group.members and n not in reached:
                    reached.add(n)
                    frontier.append(n)
        assert reached == set(group.members)


def test_invalid_file_raises_with_problems(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('[services.s]\nmodel = "scale"\n[members.a.services.s]\nvolume = 0\n')
    with pytest.raises(ConsortiumError) as info:
        load_consortium(path)
    paths = [p.path for p in info.value.problems]
    assert paths == ["members.a.services.s.volume", "members.a.services.s.annual_cost"]


def test_public_names_are_exported():
    for name in ("load_consortium", "optimise", "Engine", "hookimpl", "CostModel", "Rule"):
        assert hasattr(sharedsvc, name)
    assert sharedsvc.__version__ != "0+unknown"


def test_interrupt_leaves_no_output_and_exits_130(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sharedsvc.cli import main
    from sharedsvc.engine import Engine

    target = tmp_path / "plan.json"
    target.write_text("previous plan")

    def interrupted(self, consortium, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(Engine, "optimise", interrupted)
    result = CliRunner().invoke(main, ["optimise", str(SEL), "-o", str(target)])
    assert result.exit_code == 130
    assert target.read_text() == "previous plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]
