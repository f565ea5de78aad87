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


@pytest.mark.parametrize(
    "change, path",
    [
        ({"allocation": "bogus"}, "constraints.allocation"),
        ({"objective": "bogus"}, "consortium.objective"),
        ({"horizon_years": -5}, "consortium.horizon_years"),
        ({"horizon_years": 2.5}, "consortium.horizon_years"),
        ({"discount_rate": -1}, "consortium.discount_rate"),
        ({"discount_rate": float("nan")}, "consortium.discount_rate"),
        ({"name": ""}, "consortium.name"),
    ],
)
def test_a_consortium_changed_in_code_is_validated_as_the_loader_would(change, path):
    consortium = attrs.evolve(load_consortium(SEL), **change)
    with pytest.raises(ConsortiumError) as info:
        optimise(consortium)
    assert [p.path for p in info.value.problems] == [path]
    assert str(consortium.source) in str(info.value)


def test_a_duplicated_participation_is_refused_not_counted_twice():
    consortium = load_consortium(SEL)
    twice = attrs.evolve(
        consortium, participations=(*consortium.participations, consortium.participations[0])
    )
    first = consortium.participations[0]
    with pytest.raises(ConsortiumError) as info:
        optimise(twice)
    assert [p.path for p in info.value.problems] == [
        f"members.{first.member.id}.services.{first.service}"
    ]
    assert "takes part 2 times" in str(info.value)


def test_valid_changes_in_code_are_accepted_and_typed():
    from sharedsvc import AllocationRule, Objective

    consortium = attrs.evolve(load_consortium(SEL), allocation="equal", objective="annual")
    assert consortium.allocation is AllocationRule.EQUAL
    assert consortium.objective is Objective.ANNUAL
    result = optimise(consortium)
    assert result.solved and result.objective == "annual"
    for service in result.services:
        for group in service.groups:
            shares = list(group.allocation.values())
            assert shares == pytest.approx([group.npv / len(group.members)] * len(shares))


def test_shapley_beyond_its_size_is_refused_when_loaded(tmp_path):
    from sharedsvc.model.toml_writer import dumps

    members = {
        f"m{i:02d}": {"services": {"s": {"volume": 10.0 + i, "annual_cost": 1000.0}}}
        for i in range(18)
    }
    data = {
        "services": {"s": {"model": "scale"}},
        "members": members,
        "constraints": {"allocation": "shapley", "max_group_size": 17},
    }
    path = tmp_path / "big.toml"
    path.write_text(dumps(data))
    with pytest.raises(ConsortiumError) as info:
        load_consortium(path)
    assert [p.path for p in info.value.problems] == ["constraints.allocation"]
    assert "largest allowed group (17 members)" in str(info.value)
    data["constraints"]["max_group_size"] = 16  # within reach: loads
    path.write_text(dumps(data))
    assert load_consortium(path).allocation == "shapley"


def test_shapley_size_counts_only_connected_groups_when_contiguous(tmp_path):
    """18 members in three separate clusters of six: no allowed group exceeds six."""
    from sharedsvc.model.toml_writer import dumps

    members = {}
    for i in range(18):
        cluster, k = divmod(i, 6)
        neighbours = [f"m{cluster * 6 + k + 1:02d}"] if k < 5 else []
        members[f"m{i:02d}"] = {
            "neighbours": neighbours,
            "services": {"s": {"volume": 10.0 + i, "annual_cost": 1000.0}},
        }
    data = {
        "services": {"s": {"model": "scale"}},
        "members": members,
        "constraints": {"allocation": "shapley", "contiguous": True},
    }
    path = tmp_path / "clusters.toml"
    path.write_text(dumps(data))
    assert load_consortium(path).allocation == "shapley"


def test_results_by_service_and_by_member():
    consortium = load_consortium(SEL)
    result = optimise(consortium)
    hr = result.service("hr")
    assert hr.service == "hr" and hr.model == consortium.service("hr").model
    with pytest.raises(KeyError, match=r"no service 'nope'.*payments"):
        result.service("nope")
    views = result.by_member
    assert list(views) == sorted(m.id for m in consortium.members)
    for member_id, view in views.items():
        assert view.npv == pytest.approx(result.members[member_id])
        assert sum(view.services.values()) == pytest.approx(view.npv)
        assert set(view.services) == {
            p.service for p in consortium.participations if p.member.id == member_id
        }
        for service_id, share in view.services.items():
            group = result.service(service_id).group_of(member_id)
            assert share == (0.0 if group is None else group.allocation[member_id])
    with pytest.raises(KeyError, match="no member 'nobody'"):
        result.member("nobody")


def test_allocations_are_sorted_as_in_the_json():
    result = optimise(load_consortium(SEL))
    for service in result.services:
        for group in service.groups:
            assert list(group.allocation) == sorted(group.allocation)


def test_optimise_takes_only_the_keywords_it_knows():
    consortium = load_consortium(SEL)
    with pytest.raises(TypeError):
        optimise(consortium, time_limt=5)  # misspelt: refused, not ignored
    from sharedsvc import UsageError

    with pytest.raises(UsageError, match="time_limit"):
        optimise(consortium, time_limit=float("nan"))
    with pytest.raises(UsageError, match="unknown solver 'gurobi'"):
        optimise(consortium, solver="gurobi")
