"""A planner's week with `garde roster ...` on the example region: import (idempotent by
range), show, validate (with a gap and a heat map), export to .ics and re-import it, and
generate a week that the validator accepts. The commands run in-process through click
(`tests.cli_inprocess`): what they print, write and exit with, without a second of imports
each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli_inprocess import run_garde

if TYPE_CHECKING:
    import subprocess

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "roster-example.csv"
WEEK = ["--from", "2025-11-03", "--days", "7"]
# The file starts on Monday evening: Monday 00:00-08:00 belongs to a night it does not hold.
COVERED = ["--from", "2025-11-04", "--days", "6"]
# The example holds nights and weekend days; stroke is needed around the clock, so a full
# week adds weekday daytime stroke cover: r06 (neuro), and r02 and r05 of the stroke pool.
STROKE_DAYS = (
    "r06,2025-11-04 08:00,2025-11-04 20:00,stroke,all\n"
    "r05,2025-11-05 08:00,2025-11-05 20:00,stroke,all\n"
    "r05,2025-11-06 08:00,2025-11-06 20:00,stroke,all\n"
    "r02,2025-11-07 08:00,2025-11-07 20:00,stroke,all\n"
)
POOL = {"GARDE_ROSTERS__STROKE_POOL": '["r02", "r05"]'}

pytestmark = pytest.mark.slow


def garde(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_garde(
        ["--quiet", *args],
        env={**(env or {}), "GARDE_DATA_DIR": str(data_dir), "GARDE_CONFIG": None},
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    result = garde(data, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return data


def shown(data_dir: Path) -> list[dict[str, object]]:
    result = garde(data_dir, "roster", "show", *WEEK, "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_import_is_idempotent_and_export_round_trips(data_dir: Path, tmp_path: Path) -> None:
    first = garde(data_dir, "roster", "import", str(EXAMPLE))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("roster-example.csv: 25 shifts read; 25 added, 0 changed")
    before = shown(data_dir)
    assert len(before) == 25
    assert {"radiologist_id": "r02", "role": "night", "sites": "all"}.items() <= before[0].items()

    again = garde(data_dir, "roster", "import", str(EXAMPLE))
    assert again.returncode == 0, again.stderr
    assert shown(data_dir) == before  # merged: nothing appended, nothing lost
    # By days: the Sunday night ends on Monday morning, after the week, and belongs to it.
    by_days = garde(data_dir, "roster", "import", str(EXAMPLE), *WEEK)
    assert by_days.returncode == 0, by_days.stderr
    assert shown(data_dir) == before

    # A replaced week is replaced whole: a file holding only Monday night empties the rest.
    monday = tmp_path / "monday.csv"
    monday.write_text(
        "radiologist,start,end,role,sites\nr02,2025-11-03 20:00,2025-11-04 08:00,night,all\n",
        encoding="utf-8",
    )
    kept = garde(data_dir, "roster", "import", str(monday), *WEEK)
    assert kept.returncode == 0, kept.stderr
    assert shown(data_dir) == before  # without --replace nothing is removed
    narrowed = garde(
        data_dir, "roster", "import", str(monday), "--replace", "2025-11-03", "2025-11-09"
    )
    assert narrowed.returncode == 0, narrowed.stderr
    assert [row["radiologist_id"] for row in shown(data_dir)] == ["r02"]
    assert garde(data_dir, "roster", "import", str(EXAMPLE)).returncode == 0

    ics = tmp_path / "week.ics"
    exported = garde(data_dir, "roster", "export", *WEEK, "--ics", str(ics))
    assert exported.returncode == 0, exported.stderr
    assert ics.read_text(encoding="utf-8").count("BEGIN:VEVENT") == 25
    reimported = garde(data_dir, "roster", "import", str(ics))
    assert reimported.returncode == 0, reimported.stderr
    assert shown(data_dir) == before


def test_full_week_validates_and_a_missing_night_is_a_gap(data_dir: Path, tmp_path: Path) -> None:
    heatmap = tmp_path / "cover.png"
    full = tmp_path / "full.csv"
    full.write_text(EXAMPLE.read_text(encoding="utf-8") + STROKE_DAYS, encoding="utf-8")
    ok = garde(data_dir, "roster", "validate", str(full), *COVERED, "--json", env=POOL)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["gaps"] == []

    # Drop r07's Friday night: r04 and r06 are left, neither credentialed for h03.
    lines = full.read_text(encoding="utf-8").splitlines()
    gappy = tmp_path / "gappy.csv"
    gappy.write_text(
        "\n".join(line for line in lines if not line.startswith("r07,2025-11-07 20:00")) + "\n",
        encoding="utf-8",
    )
    bad = garde(
        data_dir,
        "roster",
        "validate",
        str(gappy),
        *COVERED,
        "--json",
        "--heatmap",
        str(heatmap),
        env=POOL,
    )
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert report["gaps"], report
    assert [(g["site"], g["start_local"], g["end_local"]) for g in report["gaps"]] == [
        ("h03", "2025-11-07T20:00:00+01:00", "2025-11-08T08:00:00+01:00")
    ]
    gap = report["gaps"][0]
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    text = garde(data_dir, "roster", "validate", str(gappy), *COVERED, env=POOL)
    assert text.returncode == 1
    assert gap["site"] in text.stdout
    # Without the pool, r02's and r05's weekday stroke days are gaps: stroke is checked
    # every hour, by the neuro skill or the configured pool.
    unpooled = garde(data_dir, "roster", "validate", str(full), *COVERED, "--json")
    assert unpooled.returncode == 1
    assert [(g["site"], g["start_local"][:10]) for g in json.loads(unpooled.stdout)["gaps"]] == [
        ("stroke", "2025-11-05"),
        ("stroke", "2025-11-06"),
        ("stroke", "2025-11-07"),
    ]


def test_bad_roster_names_the_line_and_imports_nothing(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "radiologist,start,end,role,sites\n"
        "r02,2025-11-03 20:00,2025-11-04 08:00,night,all\n"
        "r99,2025-11-04 20:00,2025-11-05 08:00,night,all\n",
        encoding="utf-8",
    )
    result = garde(data_dir, "roster", "import", str(bad))
    assert result.returncode == 1
    assert result.stderr == "Error: bad.csv:3:1: unknown radiologist 'r99'\n"
    assert shown(data_dir) == []


def test_generated_week_passes_the_validator(data_dir: Path, tmp_path: Path) -> None:
    csv_out, ics_out = tmp_path / "gen.csv", tmp_path / "gen.ics"
    made = garde(
        data_dir,
        "roster",
        "generate",
        "--from",
        "2026-12-07",
        "--days",
        "7",
        "--time-limit",
        "10",
        "--csv",
        str(csv_out),
        "--ics",
        str(ics_out),
    )
    assert made.returncode == 0, made.stderr
    assert "solving" in made.stderr  # the progress bar goes to stderr
    # Its first night starts on the 7th at 20:00: check from the 8th, when it is whole.
    checked = garde(
        data_dir, "roster", "validate", str(csv_out), "--from", "2026-12-08", "--days", "6"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    imported = garde(data_dir, "roster", "import", str(ics_out))
    assert imported.returncode == 0, imported.stderr
