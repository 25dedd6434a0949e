"""`garde --help` and `garde worklist` load nothing they do not use (issue 17: answers
in a blink): whole processes, the modules they imported checked at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Radiologist, Site
from garde.store.engine import make_engine, make_session_factory
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)
from tests.store_fixtures import sync_directory

if TYPE_CHECKING:
    from pathlib import Path

HEAVY = (
    "alembic",
    "sqlalchemy",
    "pydicom",
    "pynetdicom",
    "numpy",
    "ortools",
    "PIL",
    "SimpleITK",
    "apscheduler",
    "openpyxl",
    "icalendar",
)

RUN = """
import sys
from garde.cli import main
try:
    main(sys.argv[1:], prog_name="garde")
except SystemExit as exit:
    loaded = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[0].split(",")))
    print("LOADED:" + ",".join(loaded), file=sys.stderr)
    raise
"""

CONFIG = """
environment = "test"
data_dir = "{data}"
database_url = "{url}"

[region]
medical_director = "director@example.org"

[[sites]]
id = "h1"
name = "CH One"
ae_titles = ["H1_CT"]

[[radiologists]]
id = "r1"
name = "Dr One"
skills = ["neuro"]
sites = ["h1"]
"""


def _loaded(*args: str, cwd: Path) -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARDE_")}
    env["HOME"] = str(cwd)
    done = subprocess.run(
        [sys.executable, "-c", RUN.replace("sys.argv[0]", repr(",".join(HEAVY))), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED:"))
    loaded = [m for m in line.removeprefix("LOADED:").split(",") if m]
    return done.returncode, loaded, done.stdout


def test_help_imports_no_library_a_command_uses(tmp_path: Path) -> None:
    code, loaded, stdout = _loaded("--help", cwd=tmp_path)
    assert code == 0
    assert "worklist" in stdout
    assert loaded == []


def test_worklist_imports_only_the_database_driver(migrated_url: str, tmp_path: Path) -> None:
    engine = make_engine(migrated_url)
    sync_directory(
        make_session_factory(engine),
        (Site("h1", "CH One", frozenset({"H1_CT"})),),
        (Radiologist("r1", "Dr One", frozenset({"neuro"}), frozenset({"h1"})),),
    )
    engine.dispose()
    config = tmp_path / "garde.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=migrated_url), encoding="utf-8")
    code, loaded, stdout = _loaded("--config", str(config), "worklist", "-r", "r1", cwd=tmp_path)
    assert (code, stdout) == (0, "nothing to read for r1\n")
    assert loaded == []


@pytest.mark.parametrize("args", [("status",), ("next",)])
def test_acting_commands_do_not_load_alembic(args: tuple[str, ...], tmp_path: Path) -> None:
    # They need the runtime (board, notifier): SQLAlchemy yes, migrations no.
    _code, loaded, _ = _loaded("--data-dir", str(tmp_path / "d"), *args, cwd=tmp_path)
    assert "alembic" not in loaded
