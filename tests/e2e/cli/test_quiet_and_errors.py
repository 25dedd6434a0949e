"""Whole `garde` processes as a newcomer meets them: quiet by default, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def _garde(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GARDE_")}
    clean["HOME"] = str(cwd)  # no stray ~/.config/garde/token
    return subprocess.run(
        [sys.executable, "-m", "garde", *args],
        cwd=cwd,
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_empty_database_is_one_line_with_the_fix_and_the_demo_hint(tmp_path: Path) -> None:
    (tmp_path / "data" / "demo").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "garde.sqlite").touch()  # what `make demo` leaves
    result = _garde(tmp_path, "worklist", "--radiologist", "r01")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    expected = (
        "Error: no Garde database at data/garde.sqlite: run `garde db upgrade` "
        "(or the demo's night is in data/demo: use --data-dir data/demo)"
    )
    assert result.stderr.splitlines() == [expected]


def test_without_a_demo_the_hint_is_only_the_upgrade(tmp_path: Path) -> None:
    result = _garde(tmp_path, "--data-dir", "night", "status")
    assert result.stderr.splitlines() == [
        "Error: no Garde database at night/garde.sqlite: run `garde db upgrade`"
    ]


def test_minus_vv_shows_the_traceback(tmp_path: Path) -> None:
    result = _garde(tmp_path, "-vv", "worklist", "--radiologist", "r01")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "SchemaOutdatedError" in result.stderr


def test_an_unreachable_database_is_one_line_naming_it_without_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql+psycopg://garde:secret@127.0.0.1:1/garde"
    result = _garde(tmp_path, "worklist", "-r", "r01", env={"GARDE_DATABASE_URL": url})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "Error: cannot use the database at postgresql+psycopg://garde@127.0.0.1:1/"
    )
    assert "secret" not in line
    assert "database_url" in line


def test_commands_print_no_info_by_default_and_do_with_minus_v(tmp_path: Path) -> None:
    quiet = _garde(tmp_path, "--data-dir", "d", "db", "upgrade")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("database at revision ")
    assert quiet.stderr == ""  # Alembic's and our INFO lines are -v's
    loud = _garde(tmp_path, "-v", "--data-dir", "d2", "db", "upgrade")
    assert " INFO " in loud.stderr


def test_a_reader_that_leaves_the_pipe_early_gets_no_error(tmp_path: Path) -> None:
    """`garde status | head -3` at 3 a.m.: the output stops, no "Error: Broken pipe"."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GARDE_")}
    assert _garde(tmp_path, "--data-dir", "d", "db", "upgrade").returncode == 0
    status = subprocess.Popen(
        [sys.executable, "-m", "garde", "--data-dir", "d", "status"],
        cwd=tmp_path,
        env=clean | {"HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert status.stdout is not None and status.stderr is not None
    status.stdout.close()  # the reader is gone before anything is written
    with status.stderr:
        err = status.stderr.read()
    assert status.wait(timeout=60) == 141
    assert err == ""
