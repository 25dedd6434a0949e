"""`garde forecast` as a planner runs it: the example region, its roster file, a scenario
file (no history needed, no database opened), a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner
from PIL import Image

import garde
from garde.cli import main
from garde.config.loader import example_path

if TYPE_CHECKING:
    import pytest

ROOT = Path(garde.__file__).parent
ROSTER = ROOT.parent / "examples" / "roster-example.csv"
REGIONAL = ROOT / "simulation" / "forecast" / "regional.toml"
BASE = ["--config", str(example_path()), "forecast", "--from", "2025-11-07", "--nights", "1"]
FILES = ["--roster", str(ROSTER), "--scenario", str(REGIONAL), "--workers", "1"]


def test_json_per_night_and_priority_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        [*BASE, *FILES, "--replications", "2", "--no-staffing", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "data").exists()  # the store was never opened
    data = json.loads(result.stdout)
    [night] = data["nights"]
    assert night["night"] == "2025-11-07"
    assert set(night["priorities"]) == {"stroke", "emergency", "urgent", "routine"}
    urgent = night["priorities"]["urgent"]
    assert urgent["ci90_low"] <= urgent["within_sla_pct"] <= urgent["ci90_high"]
    assert data["replications"] == 2
    assert data["arrival_model"] == "scenario regional-night (regional.toml)"


def test_the_table_marks_nights_at_risk_the_png_and_a_bad_priority(tmp_path: Path) -> None:
    runner = CliRunner()
    png, demands = tmp_path / "forecast.png", tmp_path / "demands.csv"
    result = runner.invoke(
        main,
        [
            *[*BASE, *FILES, "--replications", "2", "--no-staffing", "--require", "urgent=100"],
            *["--png", str(png), "--demands-out", str(demands)],
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "night" in result.stdout and "stroke" in result.stdout
    assert "nights at risk" in result.stdout
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 600
    bad = runner.invoke(main, [*BASE, *FILES, "--require", "superurgent=90"])
    assert bad.exit_code == 2
    assert "unknown priority 'superurgent'" in bad.output


def test_the_stored_roster_and_no_history_asks_for_a_scenario(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--config", str(example_path()), "--data-dir", str(tmp_path / "d")]
    for args in (["db", "upgrade"], ["roster", "import", str(ROSTER)]):
        done = runner.invoke(main, [*data, *args], catch_exceptions=False)
        assert done.exit_code == 0, done.output
    night = ["forecast", "--from", "2025-11-07", "--nights", "1", "--replications", "2"]
    stored = runner.invoke(
        main,
        [*data, *night, "--scenario", str(REGIONAL), "--no-staffing", "--workers", "1", "--json"],
        catch_exceptions=False,
    )
    assert stored.exit_code == 0, stored.output
    assert json.loads(stored.stdout)["nights"][0]["readers"] >= 3
    empty = runner.invoke(main, [*data, *night])
    assert empty.exit_code == 1
    assert "give a scenario file (--scenario)" in empty.output


def test_a_night_with_nobody_on_the_roster_says_so_and_searches_nothing(tmp_path: Path) -> None:
    """The example roster's last night ends on Monday morning: Monday night has no one."""
    empty = [*BASE[:-4], "--from", "2025-11-10", "--nights", "1"]
    result = CliRunner().invoke(
        main,
        [*empty, *FILES, "--replications", "2", "--demands-out", str(tmp_path / "d.csv")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if line.startswith("Mon 10/11")]
    assert row.split()[2] == "0"  # readers
    assert row.endswith("nobody on the roster")
    assert "1 night(s) have nobody on the roster (first Mon 10/11)" in result.stdout
    assert "searching additions" not in result.stderr  # one more reader cannot save it
    assert "nobody on the roster" in (tmp_path / "d.csv").read_text()
