"""Output paths: refused before any work when they cannot be written, special files
written into (never replaced), a full disk a clear error; names and ids that would
forge lines are refused or escaped."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from sharedsvc.cli import main
from sharedsvc.model.toml_writer import dumps

SEL = str(ROOT / "consortia" / "south-east-london.toml")


def run(*args, env=None):
    return CliRunner().invoke(
        main, list(args), env={"SHAREDSVC_DISABLE_PLUGINS": "1", **(env or {})}
    )


@pytest.mark.parametrize(
    "where, why",
    [
        ("missing/plan.json", "does not exist"),
        ("a-file.txt/plan.json", "Not a directory"),
    ],
)
@pytest.mark.parametrize("option", ["-o", "--write-model"])
def test_an_output_that_cannot_be_written_is_refused_before_solving(tmp_path, where, why, option):
    (tmp_path / "a-file.txt").write_text("keep me")
    target = tmp_path / where
    result = run("optimise", SEL, option, str(target))
    assert result.exit_code == 2, result.output
    assert f"cannot write {target}" in result.stderr and why in result.stderr
    assert "payments:" not in result.stderr  # refused before pricing anything
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "a-file.txt").read_text() == "keep me"


def test_a_folder_on_a_read_only_file_system_is_refused(tmp_path):
    """Permission bits do not stop root; a read-only mount does, and is found up front."""
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root and mount)")
    try:
        result = run("optimise", SEL, "-o", str(mount / "plan.json"))
        assert result.exit_code == 2
        assert f"cannot write {mount / 'plan.json'}" in result.stderr
        assert "Read-only file system" in result.stderr
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_a_clear_error_and_leaves_nothing_behind(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount)")
    try:
        (mount / "filler").write_bytes(b"x" * 8192)
        target = mount / "model.mps"
        result = run("optimise", SEL, "--write-model", str(target))
        assert result.exit_code == 2, result.output
        assert f"cannot write {target}: No space left on device" in result.stderr
        assert sorted(p.name for p in mount.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_dev_full_is_written_into_never_replaced():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    before = os.stat("/dev/full")
    result = run("optimise", SEL, "-q", "-o", "/dev/full")
    assert result.exit_code == 2
    assert "cannot write /dev/full: No space left on device" in result.stderr
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_dev_null_and_a_fifo_are_written_into(tmp_path):
    assert run("optimise", SEL, "-q", "-o", os.devnull).exit_code == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run("optimise", SEL, "-q", "--format", "json", "-o", str(fifo))
    out, _ = reader.communicate(timeout=30)
    assert result.exit_code == 0, result.output
    assert json.loads(out)["status"] == "optimal"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dev_stdout_writes_the_result_to_stdout(tmp_path):
    command = [sys.executable, "-m", "sharedsvc", "optimise", SEL, "-q", "--format", "json"]
    done = subprocess.run(
        [*command, "-o", "/dev/stdout"],
        capture_output=True,
        text=True,
        env={**os.environ, "SHAREDSVC_DISABLE_PLUGINS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "optimal"


def test_a_link_keeps_pointing_at_the_file_it_names(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run("optimise", SEL, "-q", "--format", "json", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and json.loads(real.read_text())["status"] == "optimal"


def test_output_and_model_naming_one_file_are_refused(tmp_path):
    target = tmp_path / "same"
    result = run("optimise", SEL, "-o", str(target), "--write-model", str(target))
    assert result.exit_code == 2
    assert "both name" in result.stderr and not target.exists()


def test_a_trailing_newline_does_not_make_a_second_id(tmp_path):
    path = tmp_path / "c.toml"
    body = '[services.s]\nmodel = "scale"\n'
    for member in ("aa", "aa\\n"):
        body += f'[members."{member}".services.s]\nvolume = 10\nannual_cost = 100\n'
    path.write_text(body)
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "members.aa\n" in result.stderr or "member id 'aa\\n'" in result.stderr


@pytest.mark.parametrize(
    "name", ["Bromley\nforged line", "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "a\u202eb"]
)
def test_names_with_control_characters_are_refused(tmp_path, name):
    data = {
        "consortium": {"name": "ok"},
        "services": {"s": {"model": "scale"}},
        "members": {
            "a": {"name": name, "services": {"s": {"volume": 1, "annual_cost": 100}}},
            "b": {"services": {"s": {"volume": 2, "annual_cost": 100}}},
        },
    }
    path = tmp_path / "c.toml"
    path.write_text(dumps(data))
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "members.a.name: expected a name without control characters" in result.stderr
    assert "\x1b" not in result.stderr and "forged line\n" not in result.stderr
    data["members"]["a"]["name"] = "ok"
    data["consortium"]["name"] = name
    path.write_text(dumps(data))
    result = run("validate", str(path))
    assert "consortium.name: expected a name without control characters" in result.stderr


def test_bundles_of_services_whose_ids_differ_only_by_dash_and_underscore(tmp_path):
    services = {s: {"model": "scale"} for s in ("a-b", "a_b", "c-d", "c_d")}
    members = {
        m: {"services": {s: {"volume": v, "annual_cost": 1000.0 * v} for s in services}}
        for m, v in (("m1", 1), ("m2", 2), ("m3", 3))
    }
    data = {
        "services": services,
        "members": members,
        "constraints": {"bundles": [["a-b", "c-d"], ["a_b", "c_d"]]},
    }
    path = tmp_path / "c.toml"
    path.write_text(dumps(data))
    model = tmp_path / "model.mps"
    result = run("optimise", str(path), "-q", "--write-model", str(model))
    assert result.exit_code == 0, result.output
    rows = [line.split()[1] for line in model.read_text().splitlines() if line.startswith(" E ")]
    assert len(rows) == len(set(rows))


def test_markdown_escapes_the_table_separator(tmp_path):
    from sharedsvc.report.text import printable

    assert printable("a|b", markdown=True) == "a\\|b"
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("line\nbreak") == "line\\nbreak"
