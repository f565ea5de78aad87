"""Messages a person reads: counts, "did you mean", values as written, files as Excel
saves them, and mistakes that used to pass silently."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc import CostModel, Engine, Field, PluginError, hookimpl
from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps
from sharedsvc.wording import counted, joined, shown, unknown_name

SEL = ROOT / "consortia" / "south-east-london.toml"


def run(*args):
    return CliRunner().invoke(main, list(args), env={"SHAREDSVC_DISABLE_PLUGINS": "1"})


@pytest.mark.parametrize(
    ("n", "noun", "expected"),
    [(0, "member", "0 members"), (1, "member", "1 member"), (1234, "group", "1,234 groups")],
)
def test_counts_take_the_right_plural(n, noun, expected):
    assert counted(n, noun) == expected


def test_lists_are_joined_as_sentences():
    assert [joined([]), joined(["a"]), joined(["a", "b"]), joined(["a", "b", "c"])] == [
        "",
        "a",
        "a and b",
        "a, b and c",
    ]


def test_numpy_values_are_shown_as_plain_numbers():
    assert shown(np.float64(-1.0)) == "-1.0"
    assert shown(np.int64(3)) == "3"
    assert shown("x") == "'x'"


def test_a_misspelt_name_gets_a_suggestion_and_a_far_one_the_list():
    known = ["bexley", "bromley", "greenwich", "lewisham"]
    assert unknown_name("member", "bexly", known).endswith("did you mean 'bexley'?")
    far = unknown_name("member", "zzz", known)
    assert far == "unknown member 'zzz'; expected one of bexley, bromley, greenwich, lewisham"
    many = [f"member{i:02}" for i in range(40)]
    assert "none of the 40 members is close" in unknown_name("member", "qq", many)


def test_a_misspelt_neighbour_is_suggested(tmp_path):
    text = SEL.read_text(encoding="utf-8").replace(
        'neighbours = ["bexley", "greenwich", "lewisham"]',
        'neighbours = ["bexly", "greenwich", "lewisham"]',
    )
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "1 problem found" in result.stderr
    assert (
        "members.bromley.neighbours[0]: unknown member 'bexly'; did you mean 'bexley'?"
        in result.stderr
    )


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "excel.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SEL.read_bytes())
    result = run("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "valid: 4 members, 4 services" in result.stdout


def test_swapped_latitude_and_longitude_are_refused(tmp_path):
    text = SEL.read_text(encoding="utf-8").replace(
        "lat = 51.3716, lon = 0.0509", "lat = 0.0509, lon = 51.3716"
    )
    path = tmp_path / "swapped.toml"
    path.write_text(text, encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "members.bromley.location: " in result.stderr
    assert "lat and lon look swapped" in result.stderr


def test_a_location_abroad_that_is_not_swapped_is_kept():
    """Only a point whose swap lands in the British Isles is refused: Paris is kept."""
    engine = Engine.create(autoload=False)
    text = SEL.read_text(encoding="utf-8").replace(
        "lat = 51.3716, lon = 0.0509", "lat = 48.8566, lon = 2.3522"
    )
    consortium = engine.parse(text)
    assert consortium.member("bromley").location.lat == 48.8566


def test_validate_counts_in_words_and_names_the_constraint_keys(tmp_path):
    data = {
        "services": {"svc": {"model": "scale"}},
        "members": {"a": {"services": {"svc": {"volume": 1, "annual_cost": 10.0}}}},
        "constraints": {"max_group_size": 2},
    }
    path = tmp_path / "one.toml"
    path.write_text(dumps(data), encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "valid: 1 member, 1 service (svc), 1 constraint (max_group_size)" in result.stdout


def test_an_optimal_plan_says_so_once():
    result = run("optimise", str(SEL))
    assert result.exit_code == 0, result.stderr
    heading = result.stdout.splitlines()[0]
    assert heading.startswith("South East London shared services: optimal (objective npv")
    assert "gap" not in heading
    assert "Proven optimal" not in result.stdout


def test_the_pruning_message_counts_like_with_like():
    """Groups of two or more before pruning, the same kind after: never more kept than found."""
    result = run("optimise", str(SEL))
    lines = [line for line in result.stderr.splitlines() if "kept after pruning" in line]
    assert lines, result.stderr
    for line in lines:
        allowed = int(line.split(": ")[1].split(" group")[0].replace(",", ""))
        kept = int(line.split("allowed, ")[1].split(" kept")[0].replace(",", ""))
        assert kept <= allowed, line


def test_a_plugin_error_shows_numpy_values_as_numbers():
    class Negative(CostModel):
        name = "negative"
        member_fields = (Field(name="cost", unit="pounds a year", minimum=0),)

        def standalone_cost(self, participant, params):
            return np.float64(-1.0)

        def group_running_cost(self, participants, params):
            return 0.0

    class Plugin:
        @hookimpl
        def sharedsvc_register_cost_models(self, register):
            register(Negative())

    engine = Engine.create(autoload=False, plugins=[Plugin()])
    data = {
        "services": {"s": {"model": "negative"}},
        "members": {m: {"services": {"s": {"cost": 1.0}}} for m in ("a", "b")},
    }
    with pytest.raises(PluginError) as error:
        engine.optimise(engine.parse(dumps(copy.deepcopy(data))))
    assert "-1.0 (negative)" in str(error.value)
    assert "np.float64" not in str(error.value)
