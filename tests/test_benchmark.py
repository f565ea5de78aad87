"""`sharedsvc benchmark`: unit costs ranked among members and against peers, with the
saving at the median and the top quartile, checked against figures computed here from
the file itself."""

from __future__ import annotations

import json
import statistics
import tomllib

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc import CostModel, Engine, Field, Indicator, Measure, PluginError, hookimpl
from sharedsvc.benchmarking import benchmark
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

SEL = ROOT / "consortia" / "south-east-london.toml"
GOLDEN = ROOT / "tests" / "golden"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


@pytest.fixture(scope="module")
def found():
    result = run("benchmark", SEL, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["services"]


def _raw():
    return tomllib.loads(SEL.read_text(encoding="utf-8"))["members"]


def test_cost_per_transaction_and_savings_by_hand(found):
    """Cost over invoices plus payments; the median and 25th percentile as statistics'
    inclusive quantiles; a saving is the excess over the target times the volume."""
    members = _raw()
    cost = {
        m: body["services"]["payments"]["annual_cost"]
        / (body["services"]["payments"]["invoices"] + body["services"]["payments"]["payments"])
        for m, body in members.items()
    }
    volume = {
        m: body["services"]["payments"]["invoices"] + body["services"]["payments"]["payments"]
        for m, body in members.items()
    }
    median = statistics.median(cost.values())
    top = statistics.quantiles(cost.values(), n=4, method="inclusive")[0]
    got = found["payments"]["indicators"]["cost per transaction"]
    assert got["median"] == pytest.approx(median)
    assert got["top_quartile"] == pytest.approx(top)
    ordered = sorted(cost, key=cost.get)
    assert got["best"]["member"] == ordered[0]
    for rank, member in enumerate(ordered, start=1):
        figures = got["members"][member]
        assert figures["value"] == pytest.approx(cost[member])
        assert figures["rank"] == rank and figures["quartile"] == rank  # four members
        assert figures["saving_to_median"] == pytest.approx(
            round(max(0.0, cost[member] - median) * volume[member], 2), abs=0.01
        )
        assert figures["saving_to_top_quartile"] == pytest.approx(
            round(max(0.0, cost[member] - top) * volume[member], 2), abs=0.01
        )
        (peer,) = figures["peers"]
        assert peer["target"] == "mean" and peer["value"] == 3.40
        expected = "better than the mean" if cost[member] <= 3.40 else "worse than the mean"
        assert peer["position"] == expected
        # a cost per invoice is not a cost per transaction: placed, but no saving
        assert peer["comparable"] is False and peer["saving"] is None
    assert got["saving_to_median"] == pytest.approx(
        sum(max(0.0, c - median) * volume[m] for m, c in cost.items()), abs=0.05
    )


def test_a_share_ranks_higher_first_and_saves_nothing(found):
    got = found["payments"]["indicators"]["electronic share"]
    shares = {m: b["services"]["payments"]["electronic_share"] for m, b in _raw().items()}
    assert got["best"]["member"] == max(shares, key=shares.get)
    assert all(f["saving_to_median"] is None for f in got["members"].values())
    top = statistics.quantiles(shares.values(), n=4, method="inclusive")[2]
    assert got["top_quartile"] == pytest.approx(top)


def test_peer_quartiles_place_a_member(found):
    """The 2013 XpertHR quartiles (625 / 1,312 / 2,500): every member's HR cost per
    employee lies between the best quartile and the median."""
    members = found["hr"]["indicators"]["cost per employee"]["members"]
    for figures in members.values():
        quartiles = next(p for p in figures["peers"] if "2013" in p["source"])
        assert 625 < figures["value"] <= 1312
        assert quartiles["position"] == "second quartile"


def test_every_built_in_unit_cost_cites_its_peers_or_says_it_has_none():
    engine = Engine.create(autoload=False)
    for name, model in engine.registry.cost_models.items():
        for indicator in model.indicators:
            for peers in indicator.peers:
                assert peers.source and peers.population, (name, indicator.name)
            if not indicator.peers:
                assert indicator.description, (name, indicator.name)


def test_golden_table():
    result = run("benchmark", SEL)
    assert result.exit_code == 0, result.stderr
    expected = (GOLDEN / "benchmark-south-east-london.txt").read_text(encoding="utf-8")
    assert result.stdout == expected


def test_workbook_holds_the_json_figures(tmp_path, found):
    target = tmp_path / "benchmark.xlsx"
    assert run("benchmark", SEL, "-o", target).exit_code == 0
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["benchmark", "peers", "sources"]
    for service, indicator, member, value, *_ in book["benchmark"].iter_rows(
        min_row=2, values_only=True
    ):
        expected = found[service]["indicators"][indicator]["members"][member]["value"]
        assert value == pytest.approx(expected)


def test_csv_has_a_row_per_member_and_indicator(found):
    result = run("benchmark", SEL, "--format", "csv")
    lines = result.stdout.strip().splitlines()
    count = sum(len(i["members"]) for s in found.values() for i in s["indicators"].values())
    assert len(lines) == 1 + count


class _Broken(CostModel):
    name = "broken"
    member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)
    indicators = (Indicator(name="cost per thing", unit="pounds per thing", per="things"),)

    def standalone_cost(self, participant, params):
        return participant.fields["cost"]

    def group_running_cost(self, participants, params):
        return 0.9 * sum(p.fields["cost"] for p in participants)

    def measure(self, participant, params):
        if participant.member.id == "b":
            raise ZeroDivisionError("no things")
        return {"cost per thing": Measure(1.0, 10.0)}


class _Plugin:
    @hookimpl
    def sharedsvc_register_cost_models(self, register):
        register(_Broken())


def test_a_plugin_that_raises_while_measuring_is_named():
    engine = Engine.create(autoload=False, plugins=[_Plugin()])
    data = {
        "services": {"s": {"model": "broken"}},
        "members": {m: {"services": {"s": {"cost": 100.0}}} for m in "ab"},
    }
    consortium = engine.parse(dumps(data))
    with pytest.raises(PluginError, match=r"cost model 'broken' \(plugin '_Plugin'\).*'b'"):
        benchmark(consortium, engine.registry)


def test_a_like_for_like_peer_gives_the_saving_at_its_mean(found):
    """NAO's £8,116 per SEND pupil is the same measure: the saving is the excess times
    the pupils."""
    members = _raw()
    for member, figures in found["sen_transport"]["indicators"]["cost per pupil"][
        "members"
    ].items():
        body = members[member]["services"]["sen_transport"]
        cost = body["annual_cost"] / body["pupils"]
        nao = next(p for p in figures["peers"] if "National Audit Office" in p["source"])
        assert nao["comparable"] is True
        assert nao["saving"] == pytest.approx(
            round(max(0.0, cost - 8116.0) * body["pupils"], 2), abs=0.01
        )


def test_a_cost_estimated_from_defaults_is_not_benchmarked(tmp_path):
    """Without annual_cost the cost would be the model's default, itself a peer figure:
    the member is left out of that indicator, not placed "at the mean"."""
    engine = Engine.create(autoload=False)
    text = SEL.read_text(encoding="utf-8").replace(
        "[members.bromley.services.payments]\ninvoices = 115500\npayments = 165000\n"
        "electronic_share = 0.72\nannual_cost = 729300\n",
        "[members.bromley.services.payments]\ninvoices = 115500\npayments = 165000\n"
        "electronic_share = 0.72\n",
    )
    assert "annual_cost = 729300" not in text
    found = {
        (b.service, b.indicator.name): b for b in benchmark(engine.parse(text), engine.registry)
    }
    cost = found[("payments", "cost per transaction")]
    assert "bromley" not in [m.member for m in cost.members]
    assert "bromley" in [m.member for m in found[("payments", "electronic share")].members]


@pytest.mark.parametrize(
    ("returned", "expected"),
    [(None, "expected a mapping"), ({"cost per thing": Measure(1.0, -5.0)}, "expected > 0")],
)
def test_a_plugin_that_measures_nonsense_is_named(returned, expected):
    class Odd(_Broken):
        name = "broken"

        def measure(self, participant, params):
            return returned

    class Plugin:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Odd())

    engine = Engine.create(autoload=False, plugins=[Plugin()])
    data = {
        "services": {"s": {"model": "broken"}},
        "members": {m: {"services": {"s": {"cost": 100.0}}} for m in "ab"},
    }
    with pytest.raises(PluginError, match=expected):
        benchmark(engine.parse(dumps(data)), engine.registry)
