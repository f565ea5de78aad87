"""The command line: every command, every format, every exit status, broken files."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

SEL = str(ROOT / "consortia" / "south-east-london.toml")

BASE = {
    "consortium": {"name": "Tiny"},
    "services": {"svc": {"model": "scale", "scale_exponent": 0.8}},
    "members": {
        "a": {"neighbours": ["b"], "services": {"svc": {"volume": 100, "annual_cost": 100_000}}},
        "b": {"neighbours": ["c"], "services": {"svc": {"volume": 200, "annual_cost": 150_000}}},
        "c": {"services": {"svc": {"volume": 300, "annual_cost": 250_000}}},
    },
}


def run(*args, env=None):
    return CliRunner().invoke(
        main, list(args), env={"SHAREDSVC_DISABLE_PLUGINS": "1", **(env or {})}
    )


def write(tmp_path, data, name="c.toml"):
    path = tmp_path / name
    path.write_text(dumps(data) if isinstance(data, dict) else data, encoding="utf-8")
    return str(path)


def with_changes(change):
    data = copy.deepcopy(BASE)
    change(data)
    return data


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert "sharedsvc, version" in result.output


@pytest.mark.parametrize("command", [[], ["optimise"], ["validate"], ["plugins"]])
def test_every_help_shows_an_example(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_optimise_bundled_consortium_prints_tables():
    result = run("optimise", SEL)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "optimal" in out
    for service in ("payments", "hr", "fraud", "sen_transport"):
        assert service in out
    assert " + " in out  # at least one real group
    assert "npv share" in out and "total" in out


def test_progress_counts_groups_and_warns_of_a_large_model(engine):
    from conftest import tuned

    small = tuned(engine, large_model=5)

    def run(*args):
        return CliRunner().invoke(main, list(args), obj=small)

    result = run("optimise", SEL)
    assert result.exit_code == 0, result.output
    assert "payments: " in result.stderr and "kept after pruning" in result.stderr
    assert "a large model" in result.stderr and "--time-limit" in result.stderr
    timed = run("optimise", SEL, "--time-limit", "60")
    assert "a large model" not in timed.stderr  # a limit is already set
    quiet = run("optimise", SEL, "-q")
    assert quiet.stderr == ""


def test_json_follows_the_result_contract():
    result = run("optimise", SEL, "--format", "json", "--quiet")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) >= {
        "consortium",
        "status",
        "objective",
        "totals",
        "gap",
        "services",
        "members",
    }
    assert data["status"] == "optimal" and data["gap"] == 0.0 and data["objective"] == "npv"
    assert set(data["totals"]) == {"npv", "annual_saving", "transition_cost"}
    assert set(data["services"]) == {"payments", "hr", "fraud", "sen_transport"}
    npv = 0.0
    for service in data["services"].values():
        assert service["model"] in ("ip_processing", "hr", "fraud", "sen_transport")
        firsts = [g["members"][0] for g in service["groups"]]
        assert firsts == sorted(firsts)
        assert service["standalone"] == sorted(service["standalone"])
        assert set(service["stability"]) >= {"stable", "blocking", "cost_of_stability"}
        for group in service["groups"]:
            assert group["members"] == sorted(group["members"]) and len(group["members"]) >= 2
            assert set(group) == {
                "members",
                "annual_saving",
                "transition_cost",
                "npv",
                "allocation",
                "stable",  # the fair-shares extension
                "payback_year",  # the cash-flow extension
                "cash_flows",
                "cashable_saving",  # cash and non-cash kept apart
                "non_cashable_value",
                "non_cashable_counted",
            }
            assert set(group["allocation"]) == set(group["members"])
            assert sum(group["allocation"].values()) == pytest.approx(group["npv"], abs=0.05)
            npv += group["npv"]
    assert data["totals"]["npv"] == pytest.approx(npv, abs=0.05)
    assert sum(m["npv"] for m in data["members"].values()) == pytest.approx(npv, abs=0.05)
    stats = data["stats"]  # the documented extension
    assert set(stats) == {
        "groups_enumerated",
        "groups_pruned",
        "candidates",
        "blocks",
        "price_seconds",
        "build_seconds",
        "solve_seconds",
        "assess_seconds",
    }
    assert stats["groups_enumerated"] - stats["groups_pruned"] + 4 * 4 >= stats["candidates"]
    assert all(stats[key] >= 0 for key in ("price_seconds", "build_seconds", "solve_seconds"))


def test_csv_has_a_row_per_member_and_service():
    result = run("optimise", SEL, "--format", "csv", "-q")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 16  # 4 members x 4 services
    assert {r["service"] for r in rows} == {"payments", "hr", "fraud", "sen_transport"}


def test_markdown_is_a_table():
    result = run("optimise", SEL, "--format", "markdown", "-q")
    assert result.exit_code == 0
    assert result.stdout.startswith("## ")
    assert "|---" in result.stdout or "| ---" in result.stdout or "|:--" in result.stdout


def test_output_file_is_written_and_replaced_whole(tmp_path):
    target = tmp_path / "plan.json"
    target.write_text("old plan")
    result = run("optimise", SEL, "--format", "json", "--output", str(target), "-q")
    assert result.exit_code == 0
    assert json.loads(target.read_text())["status"] == "optimal"
    assert result.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary left


def test_output_over_the_input_is_refused(tmp_path):
    path = write(tmp_path, BASE)
    before = Path(path).read_text()
    result = run("optimise", path, "--output", path)
    assert result.exit_code == 2
    assert "consortium file itself" in result.output
    assert Path(path).read_text() == before


def test_write_model_writes_mps_that_other_solvers_read(tmp_path):
    import highspy

    target = tmp_path / "model.mps"
    result = run("optimise", SEL, "--write-model", str(target), "--format", "json", "-q")
    assert result.exit_code == 0
    npv = json.loads(result.stdout)["totals"]["npv"]
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.readModel(str(target))
    solver.run()
    # the file minimises minus the npv, so its optimum is minus ours
    assert solver.getInfo().objective_function_value == pytest.approx(-npv, abs=0.05)


def test_validate_ok(tmp_path):
    result = run("validate", SEL)
    assert result.exit_code == 0
    assert "valid: 4 members, 4 services" in result.output


def test_plugins_lists_models_parameters_and_rules():
    result = run("plugins")
    assert result.exit_code == 0
    out = result.output
    for word in ("scale", "scale_exponent", "0.85", "volume", "must_share", "transition_budget"):
        assert word in out
    data = json.loads(run("plugins", "--format", "json").output)
    params = {p["name"]: p for p in data["cost_models"]["scale"]["parameters"]}
    assert params["scale_exponent"]["default"] == "0.85"
    assert all(p["source"] for p in params.values())


def test_infeasible_exits_1_and_names_the_clash(tmp_path):
    # a and c are not neighbours, so a connected group holding both needs b: three members
    data = with_changes(
        lambda d: d.update(
            constraints={
                "must_share": [{"service": "svc", "members": ["a", "c"]}],
                "contiguous": True,
                "max_group_size": 2,
                "individual_gain": True,
            }
        )
    )
    result = run("optimise", write(tmp_path, data), "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["status"] == "infeasible"
    # individual_gain plays no part in the clash, so it is not named
    assert sorted(out["conflicts"]) == [
        "contiguous requires svc groups to be connected neighbours",
        "max_group_size limits groups to 2 members",
        "must_share for svc puts a and c together",
    ]
    assert "must_share for svc puts a and c together" in result.stderr


def test_contradictions_visible_without_solving_are_bad_input(tmp_path):
    data = with_changes(
        lambda d: d.update(
            constraints={
                "must_share": [{"service": "svc", "members": ["a", "b", "c"]}],
                "never_together": [["a", "c"]],
                "max_group_size": 2,
            }
        )
    )
    result = run("validate", write(tmp_path, data))
    assert result.exit_code == 2
    assert "constraints.must_share[0].members: puts 3 members together for svc, but " in (
        result.stderr
    )
    assert "but constraints.never_together[0] forbids it" in result.stderr


def test_unknown_format_is_a_usage_error(tmp_path):
    result = run("optimise", write(tmp_path, BASE), "--format", "xml")
    assert result.exit_code == 2


BROKEN = [
    (
        "negative volume",
        lambda d: d["members"]["a"]["services"]["svc"].update(volume=-1),
        "members.a.services.svc.volume",
    ),
    (
        "text volume",
        lambda d: d["members"]["a"]["services"]["svc"].update(volume="lots"),
        "members.a.services.svc.volume",
    ),
    (
        "boolean cost",
        lambda d: d["members"]["b"]["services"]["svc"].update(annual_cost=True),
        "members.b.services.svc.annual_cost",
    ),
    (
        "nan volume",
        lambda d: d["members"]["a"]["services"]["svc"].update(volume=float("nan")),
        "members.a.services.svc.volume",
    ),
    (
        "missing cost",
        lambda d: d["members"]["c"]["services"]["svc"].pop("annual_cost"),
        "members.c.services.svc.annual_cost",
    ),
    ("unknown member key", lambda d: d["members"]["a"].update(colour="red"), "members.a.colour"),
    ("unknown model", lambda d: d["services"]["svc"].update(model="magic"), "services.svc.model"),
    ("unknown parameter", lambda d: d["services"]["svc"].update(speed=3), "services.svc.speed"),
    (
        "exponent above 1",
        lambda d: d["services"]["svc"].update(scale_exponent=1.5),
        "services.svc.scale_exponent",
    ),
    (
        "self neighbour",
        lambda d: d["members"]["a"].update(neighbours=["a"]),
        "members.a.neighbours[0]",
    ),
    (
        "unknown neighbour",
        lambda d: d["members"]["a"].update(neighbours=["zz"]),
        "members.a.neighbours[0]",
    ),
    ("capital id", lambda d: d["members"].update(Bromley=d["members"].pop("a")), "members.Bromley"),
    (
        "unknown service of member",
        lambda d: d["members"]["a"]["services"].update(nope={}),
        "members.a.services.nope",
    ),
    (
        "service nobody takes",
        lambda d: d["services"].update(other={"model": "scale"}),
        "services.other",
    ),
    ("horizon zero", lambda d: d["consortium"].update(horizon_years=0), "consortium.horizon_years"),
    ("objective", lambda d: d["consortium"].update(objective="profit"), "consortium.objective"),
    ("unknown constraint", lambda d: d.update(constraints={"max_size": 3}), "constraints.max_size"),
    (
        "never_together unknown member",
        lambda d: d.update(constraints={"never_together": [["a", "zz"]]}),
        "constraints.never_together[0][1]",
    ),
    (
        "must_share unknown service",
        lambda d: d.update(constraints={"must_share": [{"service": "x", "members": ["a", "b"]}]}),
        "constraints.must_share[0].service",
    ),
    (
        "must_share with a member that does not share",
        lambda d: (
            d["members"]["a"]["services"]["svc"].update(share=False),
            d.update(constraints={"must_share": [{"service": "svc", "members": ["a", "b"]}]}),
        ),
        "constraints.must_share[0].members",
    ),
    (
        "allocation",
        lambda d: d.update(constraints={"allocation": "fair"}),
        "constraints.allocation",
    ),
    (
        "max_group_size text",
        lambda d: d.update(constraints={"max_group_size": "3"}),
        "constraints.max_group_size",
    ),
    (
        "bundle unknown service",
        lambda d: d.update(constraints={"bundles": [["svc", "nope"]]}),
        "constraints.bundles[0][1]",
    ),
]


@pytest.mark.parametrize("what, change, key_path", BROKEN, ids=[b[0] for b in BROKEN])
@pytest.mark.parametrize("command", ["optimise", "validate"])
def test_broken_file_names_the_key_path(tmp_path, command, what, change, key_path):
    path = write(tmp_path, with_changes(change))
    result = run(command, path)
    assert result.exit_code == 2, result.output
    assert key_path in result.stderr
    assert path in result.stderr
    assert "Traceback" not in result.output


def test_every_problem_is_reported_at_once(tmp_path):
    def two_problems(d):
        d["members"]["a"]["services"]["svc"]["volume"] = -1
        d["services"]["svc"]["scale_exponent"] = 2

    result = run("validate", write(tmp_path, with_changes(two_problems)))
    assert result.exit_code == 2
    assert "members.a.services.svc.volume" in result.stderr
    assert "services.svc.scale_exponent" in result.stderr
    assert "2 problems found" in result.stderr


@pytest.mark.parametrize(
    "content, expected",
    [
        ("[consortium\nname = 1", "not valid TOML"),
        (b"\xff\xfe[consortium]", "not valid UTF-8"),
        ("", "members"),
    ],
)
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert expected in result.stderr


def test_toml_error_gives_line_and_column(tmp_path):
    result = run("validate", write(tmp_path, "[consortium]\nname = \n"))
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_missing_file_and_directory(tmp_path):
    missing = run("validate", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    directory = run("optimise", str(tmp_path))
    assert directory.exit_code == 2 and "directory" in directory.stderr


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_stdout_carries_only_the_result(solver):
    """Native solver banners must not reach stdout (checked at the file-descriptor level)."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sharedsvc",
            "optimise",
            SEL,
            "--format",
            "json",
            "--solver",
            solver,
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "SHAREDSVC_DISABLE_PLUGINS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "optimal"


def test_every_help_example_on_a_bundled_file_runs(tmp_path, monkeypatch):
    """The examples a user copies from --help work as written, one after the other in
    one folder (outputs sent to tmp_path, where a later example finds them; draws cut
    to 20)."""
    import shlex

    monkeypatch.chdir(tmp_path)

    commands = [name for name in main.commands if name != "plugins"]
    ran = 0
    for name in commands:
        text = run(name, "--help").output.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("#")[0].strip()
            if not line.startswith("sharedsvc ") or "consortia/" not in line:
                continue
            args = shlex.split(line)[1:]
            args = [str(ROOT / a) if a.startswith("consortia/") else a for a in args]
            for i, a in enumerate(args):
                if args[i - 1] in ("-o", "--output") and i > 0:
                    args[i] = str(tmp_path / a)
                if args[i - 1] == "--draws":
                    args[i] = "20"
            quiet = any(p.name == "quiet" for p in main.commands[name].params)
            result = run(*args, "-q") if quiet else run(*args)
            assert result.exit_code == 0, (line, result.stderr)
            ran += 1
    assert ran >= 12
