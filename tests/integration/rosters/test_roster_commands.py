"""`garde roster ...` on a real store (SQLite, and PostgreSQL when configured): import by a
range of local days, errors as one clear line with nothing imported, and the ``[rosters]``
rules applied by validation and generation."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from garde.cli import main
from garde.config.loader import example_path

if TYPE_CHECKING:
    from collections.abc import Mapping

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "roster-example.csv"
WEEK = ["--from", "2025-11-03", "--days", "7"]
# Weekday daytime stroke cover for the example week, by neuro readers (r06) and by the
# pool (r02, r05), within their weekly hours and rest: the example has nights and
# weekend days only.
STROKE_DAYS = (
    "r06,2025-11-04 08:00,2025-11-04 20:00,stroke,all\n"
    "r05,2025-11-05 08:00,2025-11-05 20:00,stroke,all\n"
    "r05,2025-11-06 08:00,2025-11-06 20:00,stroke,all\n"
    "r02,2025-11-07 08:00,2025-11-07 20:00,stroke,all\n"
)


def write_config(tmp_path: Path, url: str, rosters: Mapping[str, str] | None = None) -> Path:
    """The example region on ``url``, with ``rosters`` keys (TOML values) replaced."""
    text = example_path().read_text(encoding="utf-8")
    text = text.replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"', 1)
    text = text.replace('database_url = ""', f'database_url = "{url}"', 1)
    head, section = text.split("\n[rosters]", 1)
    section, tail = section.split("\n# --- hospitals", 1)
    for key, value in (rosters or {}).items():
        section, count = re.subn(rf"^{key} = \S+", f"{key} = {value}", section, flags=re.MULTILINE)
        assert count == 1, key
    path = tmp_path / "garde.toml"
    path.write_text(f"{head}\n[rosters]{section}\n# --- hospitals{tail}", encoding="utf-8")
    return path


def garde(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--config", str(config), "--quiet", *args], catch_exceptions=False
    )


def stored(config: Path) -> list[dict[str, object]]:
    shown = garde(config, "roster", "show", "--from", "2025-11-01", "--days", "14", "--json")
    assert shown.exit_code == 0, shown.output
    rows: list[dict[str, object]] = json.loads(shown.stdout)
    return rows


@pytest.fixture
def config(tmp_path: Path, migrated_url: str) -> Path:
    return write_config(tmp_path, migrated_url)


def test_a_week_is_imported_with_its_sunday_night_ending_on_monday(config: Path) -> None:
    # Days are checked by shift start, as the store replaces them: the Sunday night ends
    # on Monday 10 November at 08:00, after the seven days, and belongs to them.
    first = garde(config, "roster", "import", str(EXAMPLE), *WEEK)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == (
        "roster-example.csv: 25 shifts read; 25 added, 0 changed, 0 removed, 0 unchanged"
    )
    assert lines[-1] == "  added    r07 night Sun 09 Nov 2025 20:00 to Mon 10 Nov 08:00"
    rows = stored(config)
    assert len(rows) == 25
    assert rows[-1]["end"] == "2025-11-10T07:00:00+00:00"
    again = garde(config, "roster", "import", str(EXAMPLE), *WEEK)
    assert again.exit_code == 0, again.output
    assert again.stdout == (
        "roster-example.csv: 25 shifts read; 0 added, 0 changed, 0 removed, 25 unchanged\n"
    )
    assert stored(config) == rows  # merged, not appended to


@pytest.mark.parametrize("where", ["option", "config"])
def test_from_days_are_local_days_of_the_chosen_zone(
    tmp_path: Path, migrated_url: str, where: str
) -> None:
    # 20:00 in New York on 3 November is 01:00 UTC on the 4th: inside New York's 3
    # November, after the end of Paris's (23:00 UTC on the 3rd).
    zone = "America/New_York"
    config = write_config(
        tmp_path, migrated_url, {"timezone": f'"{zone}"'} if where == "config" else None
    )
    roster = tmp_path / "new-york.csv"
    roster.write_text(
        "radiologist,start,end,role,sites\nr02,2025-11-03 20:00,2025-11-04 08:00,night,all\n",
        encoding="utf-8",
    )
    option = ["--timezone", zone] if where == "option" else []
    result = garde(config, "roster", "import", str(roster), *option, "--from", "2025-11-03")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("new-york.csv: 1 shift read; 1 added")
    (row,) = stored(config)
    assert (row["start"], row["end"]) == ("2025-11-04T01:00:00+00:00", "2025-11-04T13:00:00+00:00")


@pytest.mark.parametrize("period", [[], WEEK], ids=["file-range", "from-days"])
def test_an_unknown_zone_is_one_line_naming_file_and_zone(config: Path, period: list[str]) -> None:
    result = garde(config, "roster", "import", str(EXAMPLE), "--timezone", "Mars/Olympus", *period)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: roster-example.csv:0: unknown time zone 'Mars/Olympus' "
        "(expected an IANA name such as Europe/Paris)\n"
    )
    assert stored(config) == []


def test_a_damaged_workbook_is_one_line_and_the_store_is_unchanged(
    config: Path, tmp_path: Path
) -> None:
    assert garde(config, "roster", "import", str(EXAMPLE)).exit_code == 0
    before = stored(config)
    damaged = tmp_path / "week.xlsx"
    damaged.write_bytes(b"PK\x03\x04 this workbook was cut short")
    result = garde(config, "roster", "import", str(damaged), *WEEK)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: week.xlsx:0: not a readable .xlsx workbook (BadZipFile: File is not a zip file)\n"
    )
    assert stored(config) == before


def _week_with_stroke_days(tmp_path: Path) -> Path:
    path = tmp_path / "week.csv"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + STROKE_DAYS, encoding="utf-8")
    return path


def _gaps(config: Path, roster: Path, *options: str) -> list[tuple[str, str, str]]:
    result = garde(
        config, "roster", "validate", str(roster), "--from", "2025-11-04", "--days", "6", *options
    )
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1), result.output
    return [(g["site"], g["start_local"], g["end_local"]) for g in report["gaps"]]


def test_validation_applies_the_configured_pool_and_site_cover(
    tmp_path: Path, migrated_url: str
) -> None:
    week = _week_with_stroke_days(tmp_path)
    plain = write_config(tmp_path, migrated_url)
    # r02 and r05 have no neuro skill: without the pool, their stroke days are gaps.
    assert _gaps(plain, week, "--json") == [
        ("stroke", f"2025-11-0{day}T08:00:00+01:00", f"2025-11-0{day}T20:00:00+01:00")
        for day in (5, 6, 7)
    ]
    pooled = write_config(tmp_path, migrated_url, {"stroke_pool": '["r02", "r05"]'})
    assert _gaps(pooled, week, "--json") == []
    # Every hour for sites too: r06, alone on Tuesday's day, is not credentialed for h03,
    # h05 and h06; the others hold every site they are on.
    tuesday = [
        (site, "2025-11-04T08:00:00+01:00", "2025-11-04T20:00:00+01:00")
        for site in ("h03", "h05", "h06")
    ]
    friday = [
        (site, "2025-11-07T08:00:00+01:00", "2025-11-07T20:00:00+01:00") for site in ("h05", "h06")
    ]
    assert _gaps(pooled, week, "--json", "--site-cover", "always") == tuesday + friday
    always = write_config(
        tmp_path, migrated_url, {"stroke_pool": '["r02", "r05"]', "site_cover": '"always"'}
    )
    assert _gaps(always, week, "--json") == tuesday + friday
    assert _gaps(always, week, "--json", "--site-cover", "on_call") == []


def test_generation_applies_the_configured_staffing(tmp_path: Path, migrated_url: str) -> None:
    config = write_config(
        tmp_path, migrated_url, {"night_staff": "3", "day_staff": "1", "stroke_day_staff": "2"}
    )
    out = tmp_path / "generated.csv"
    # Friday 4 and Saturday 5 December 2026: a weekday and a weekend day.
    result = garde(
        config, "roster", "generate", "--from", "2026-12-04", "--days", "2",
        "--time-limit", "10", "--csv", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        roles = [(row["role"], row["start"][:10]) for row in csv.DictReader(handle)]
    assert sorted(roles) == sorted(
        [("stroke", "2026-12-04")] * 2
        + [("night", "2026-12-04")] * 3
        + [("day", "2026-12-05")] * 1
        + [("night", "2026-12-05")] * 3
    )
