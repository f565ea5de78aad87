"""Formats chosen from the output's name, the spreadsheet, and the status, gap and totals
carried by every format."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc.cli import main
from sharedsvc.report import tables
from sharedsvc.report.text import render
from sharedsvc.report.xlsx import sheet_names, write_workbook
from sharedsvc.results import GroupResult, Result, ServiceResult

SEL = str(ROOT / "consortia" / "south-east-london.toml")


def run(*args):
    return CliRunner().invoke(main, list(args), env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


@pytest.fixture(scope="module")
def plan():
    result = run("optimise", SEL, "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("plan.json", lambda text: json.loads(text)["status"] == "optimal"),
        ("plan.csv", lambda text: text.startswith("service,group,member,")),
        ("plan.md", lambda text: text.startswith("## ") and "|---" in text),
        ("plan.txt", lambda text: "-------------" in text),
        ("plan.html", lambda text: text.lstrip().lower().startswith("<!doctype html>")),
    ],
)
def test_the_output_name_picks_the_format(tmp_path, name, check):
    target = tmp_path / name
    result = run("optimise", SEL, "-q", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert check(target.read_text(encoding="utf-8"))


def test_format_overrides_the_output_name(tmp_path):
    target = tmp_path / "plan.csv"
    result = run("optimise", SEL, "-q", "--format", "json", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert json.loads(target.read_text())["status"] == "optimal"


def test_a_workbook_needs_a_file_and_a_command_that_writes_one(tmp_path):
    alone = run("optimise", SEL, "-q", "--format", "xlsx")
    assert alone.exit_code == 2
    assert "--format xlsx writes a file" in alone.stderr
    simulated = run("simulate", SEL, "-q", "--draws", "10", "-o", str(tmp_path / "s.xlsx"))
    assert simulated.exit_code == 2
    assert "asks for xlsx, which this command does not write" in simulated.stderr
    assert not (tmp_path / "s.xlsx").exists()


def test_the_workbook_holds_the_figures_of_the_json(tmp_path, plan):
    target = tmp_path / "plan.xlsx"
    result = run("optimise", SEL, "-q", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["summary", "groups", "members", "cash flows", "stability"]
    summary = {row[0]: row[1] for row in book["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["status"] == plan["status"]
    assert summary["npv"] == pytest.approx(plan["totals"]["npv"], abs=0.01)
    assert summary["transition cost"] == pytest.approx(plan["totals"]["transition_cost"], abs=0.01)
    groups = book["groups"]
    npv_by_group = {
        (row[0], row[1]): row[4]
        for row in groups.iter_rows(min_row=2, values_only=True)
        if row[4] is not None
    }
    expected = {
        (service, " + ".join(g["members"])): g["npv"]
        for service, body in plan["services"].items()
        for g in body["groups"]
    }
    assert npv_by_group.keys() == expected.keys()
    for key, value in expected.items():
        assert npv_by_group[key] == pytest.approx(value, abs=0.01)
    assert groups["E2"].number_format.startswith('"£"')
    members = {row[0]: row[2] for row in book["members"].iter_rows(min_row=2, values_only=True)}
    for member, body in plan["members"].items():
        assert members[member] == pytest.approx(body["npv"], abs=0.01)


def test_workbook_text_is_never_a_formula(tmp_path):
    found = tables.table("x", "X", [("=1+2", tables.TEXT)], [('=HYPERLINK("http://e")',)])
    path = tmp_path / "x.xlsx"
    write_workbook(str(path), [found])
    sheet = openpyxl.load_workbook(path)["x"]
    for cell in (sheet["A1"], sheet["A2"]):  # the heading and the value
        assert cell.data_type == "s" and cell.value.startswith("=")


def test_sheet_names_are_what_excel_accepts():
    found = [tables.table(n, n, [("a", tables.TEXT)], []) for n in ("a/b", "A/B", "x" * 40)]
    names = sheet_names(found)
    assert names == ["a-b", "A-B (2)", "x" * 31]


def _feasible(gap: float) -> Result:
    group = GroupResult(
        members=("a", "b"),
        annual_saving=100.0,
        transition_cost=10.0,
        npv=400.0,
        allocation={"a": 200.0, "b": 200.0},
    )
    service = ServiceResult(service="s", model="scale", groups=(group,), standalone=("c",))
    return Result(
        consortium="C",
        status="feasible",
        objective="npv",
        gap=gap,
        services=(service,),
        members={"a": 200.0, "b": 200.0, "c": 0.0},
        participation={"a": ("s",), "b": ("s",), "c": ("s",), "d": ()},
    )


def test_csv_and_markdown_carry_the_status_gap_and_totals():
    result = _feasible(0.15)
    rows = list(csv.DictReader(io.StringIO(render(result, "csv"))))
    assert {r["plan_status"] for r in rows} == {"feasible"}
    assert {float(r["plan_gap"]) for r in rows} == {0.15}
    assert {float(r["plan_npv"]) for r in rows} == {400.0}
    assert [r["why_alone"] for r in rows if r["member"] == "d"] == ["not taking part"]
    markdown = render(result, "markdown")
    assert "feasible, gap 15.00%" in markdown.splitlines()[0]
    assert "within 15.00% of the optimum" in markdown
    assert "not taking part: d" in markdown


def test_an_infeasible_csv_still_says_so():
    result = Result(consortium="C", status="infeasible", objective="npv", gap=None)
    rows = list(csv.DictReader(io.StringIO(render(result, "csv"))))
    assert len(rows) == 1 and rows[0]["plan_status"] == "infeasible"
    assert rows[0]["plan_message"].startswith("no grouping satisfies")
    assert rows[0]["why_alone"] == ""
