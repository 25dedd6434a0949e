"""Validation in the planner's terms (issue 17, item 6): the period defaults from the file,
a file's shifts outside the period are listed, and a freshly generated month validates
(its last night spans the month boundary; its first began in the month)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.integration.rosters.test_roster_commands import EXAMPLE, garde, write_config

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def config(tmp_path: Path, migrated_url: str) -> Path:
    return write_config(tmp_path, migrated_url, {"stroke_pool": '["r02", "r05"]'})


def test_the_period_defaults_from_the_file(config: Path) -> None:
    result = garde(config, "roster", "validate", str(EXAMPLE), "--json")
    report = json.loads(result.stdout)
    # examples/roster-example.csv: Monday 3 November 20:00 to Monday 10 November 08:00.
    assert (report["start"], report["end"]) == (
        "2025-11-03T19:00:00+00:00",
        "2025-11-10T07:00:00+00:00",
    )
    assert report["outside"] == []


def test_the_stored_roster_still_needs_a_period(config: Path) -> None:
    result = garde(config, "roster", "validate")
    assert result.exit_code == 2
    assert "give --from to validate the stored roster" in result.output


def test_shifts_outside_the_period_are_listed(config: Path) -> None:
    result = garde(
        config, "roster", "validate", str(EXAMPLE), "--from", "2025-11-08", "--days", "1"
    )
    text = result.stdout
    assert "OUTSIDE THE PERIOD (17 shift(s) of the file: cover not checked)" in text
    # Friday's night began the evening before the period: it belongs to it, not listed.
    assert "Fri 2025-11-07 20:00" not in text.split("OUTSIDE THE PERIOD")[1]
    assert "r02          night  Mon 2025-11-03 20:00  Tue 2025-11-04 08:00" in text


def test_a_generated_month_validates(config: Path, tmp_path: Path) -> None:
    month = tmp_path / "december.csv"
    generated = garde(
        config,
        "roster",
        "generate",
        "--from",
        "2026-12-01",
        "--days",
        "31",
        "--time-limit",
        "20",
        "--csv",
        str(month),
    )
    assert generated.exit_code == 0, generated.output
    checked = garde(config, "roster", "validate", str(month))
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith(
        "Roster Tue 2026-12-01 08:00 to Fri 2027-01-01 08:00 (Europe/Paris): "
        "0 gap(s), 0 violation(s) - OK"
    )
    # Imported as December, its nights included, the stored month validates too.
    imported = garde(config, "roster", "import", str(month), "--from", "2026-12-01", "--days", "31")
    assert imported.exit_code == 0, imported.output


def test_the_stored_night_before_the_file_covers_its_first_morning(
    config: Path, tmp_path: Path
) -> None:
    # Tuesday 4 November's file: its own day and night. Monday's night (stored) covers
    # Tuesday 00:00-08:00, as last month's final night covers a month's first morning.
    tuesday = tmp_path / "tuesday.csv"
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    tuesday.write_text(
        "radiologist,start,end,role,sites\n"
        "r06,2025-11-04 08:00,2025-11-04 20:00,stroke,all\n"
        + "\n".join(line for line in lines if line.split(",")[1:2] == ["2025-11-04 20:00"])
        + "\n",
        encoding="utf-8",
    )
    period = ["--from", "2025-11-04", "--days", "1", "--json"]
    alone = json.loads(garde(config, "roster", "validate", str(tuesday), *period).stdout)
    assert alone["gaps"][0]["start_local"] == "2025-11-04T00:00:00+01:00"
    assert garde(config, "roster", "import", str(EXAMPLE)).exit_code == 0
    after = json.loads(garde(config, "roster", "validate", str(tuesday), *period).stdout)
    assert after["gaps"] == []
    assert after["ok"] is True
