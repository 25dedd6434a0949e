"""Live roster edits that lose nothing (issue 12, item 4): an import merges, `--replace`
removes only its window, and `roster add`, `remove` and `swap` edit one shift, refusing
an overlap with both shifts named in local time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.integration.rosters.test_roster_commands import EXAMPLE, garde, stored, write_config

if TYPE_CHECKING:
    from pathlib import Path

WEEK = ["--from", "2025-11-03", "--days", "7"]
HEADER = "radiologist,start,end,role,sites\n"


@pytest.fixture
def config(tmp_path: Path, migrated_url: str) -> Path:
    path = write_config(tmp_path, migrated_url)
    assert garde(path, "roster", "import", str(EXAMPLE)).exit_code == 0
    return path


def _csv(tmp_path: Path, body: str, name: str = "edit.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _keys(rows: list[dict[str, object]]) -> set[tuple[object, object, object]]:
    return {(r["radiologist_id"], r["start"], r["end"]) for r in rows}


def test_a_one_line_import_adds_one_shift_and_removes_none(config: Path, tmp_path: Path) -> None:
    before = _keys(stored(config))
    # A weekday day shift on Tuesday: nobody else's shift of that day may go.
    one = _csv(tmp_path, "r03,2025-11-04 08:00,2025-11-04 20:00,day,all\n")
    result = garde(config, "roster", "import", str(one))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "edit.csv: 1 shift read; 1 added, 0 changed, 0 removed, 0 unchanged\n"
        "  added    r03 day Tue 04 Nov 2025 08:00 to 20:00\n"
    )
    after = _keys(stored(config))
    assert after - before == {("r03", "2025-11-04T07:00:00+00:00", "2025-11-04T19:00:00+00:00")}
    assert before <= after


def test_an_import_updates_the_shift_it_overlaps(config: Path, tmp_path: Path) -> None:
    # r02's Monday night, now starting at 18:00: the same shift, changed, not a second one.
    one = _csv(tmp_path, "r02,2025-11-03 18:00,2025-11-04 08:00,nuit,all\n")
    result = garde(config, "roster", "import", str(one))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "  changed  r02 night Mon 03 Nov 2025 20:00 to Tue 04 Nov 08:00  ->  "
        "r02 night Mon 03 Nov 2025 18:00 to Tue 04 Nov 08:00"
    )
    mondays = [r for r in stored(config) if r["radiologist_id"] == "r02"]
    assert [r["start"] for r in mondays][:1] == ["2025-11-03T17:00:00+00:00"]
    assert len(stored(config)) == 25


def test_replace_removes_only_its_window(config: Path, tmp_path: Path) -> None:
    before = stored(config)
    # Wednesday 5 November replaced by one night of r03: Wednesday's other shifts go,
    # every other day's stay.
    one = _csv(tmp_path, "r03,2025-11-05 20:00,2025-11-06 08:00,night,all\n")
    result = garde(config, "roster", "import", str(one), "--replace", "2025-11-05", "2025-11-05")
    assert result.exit_code == 0, result.output
    wednesday = [r for r in before if str(r["start"]).startswith("2025-11-05")]
    assert wednesday
    # r03 had Wednesday's night already: unchanged; the two others' removed.
    assert result.stdout.startswith(
        f"edit.csv: 1 shift read; 0 added, 0 changed, {len(wednesday) - 1} removed, 1 unchanged"
    )
    after = stored(config)
    others = [r for r in before if not str(r["start"]).startswith("2025-11-05")]
    assert [r for r in after if not str(r["start"]).startswith("2025-11-05")] == others
    assert _keys([r for r in after if str(r["start"]).startswith("2025-11-05")]) == {
        ("r03", "2025-11-05T19:00:00+00:00", "2025-11-06T07:00:00+00:00")
    }


def test_a_shift_outside_the_replace_window_is_refused(config: Path, tmp_path: Path) -> None:
    before = stored(config)
    one = _csv(tmp_path, "r03,2025-11-07 20:00,2025-11-08 08:00,night,all\n")
    result = garde(config, "roster", "import", str(one), "--replace", "2025-11-05", "2025-11-05")
    assert result.exit_code == 1
    assert "is outside the period" in result.stderr
    assert stored(config) == before


def test_add_remove_and_swap_edit_one_shift(config: Path) -> None:
    before = _keys(stored(config))
    added = garde(
        config,
        "roster",
        "add",
        "Dr Claire Morel",
        "2025-11-04 08:00",
        "2025-11-04 20:00",
        "--role",
        "jour",
    )
    assert added.exit_code == 0, added.output
    assert added.stdout == "  added    r01 day Tue 04 Nov 2025 08:00 to 20:00\n"
    day = ("r01", "2025-11-04T07:00:00+00:00", "2025-11-04T19:00:00+00:00")
    assert _keys(stored(config)) == before | {day}

    # Handed to r03, then removed by a time under way.
    swapped = garde(config, "roster", "swap", "r01", "2025-11-04 08:00", "r03")
    assert swapped.exit_code == 0, swapped.output
    assert swapped.stdout == (
        "  changed  r01 day Tue 04 Nov 2025 08:00 to 20:00  ->  "
        "r03 day Tue 04 Nov 2025 08:00 to 20:00\n"
    )
    assert _keys(stored(config)) == before | {("r03", day[1], day[2])}
    removed = garde(config, "roster", "remove", "r03", "2025-11-04 12:00")
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == "  removed  r03 day Tue 04 Nov 2025 08:00 to 20:00\n"
    assert _keys(stored(config)) == before


def test_swap_exchanges_two_shifts(config: Path) -> None:
    rows = stored(config)
    # r02 works Monday night, r03 Wednesday night (examples/roster-example.csv).
    result = garde(config, "roster", "swap", "r02", "2025-11-03 20:00", "r03", "2025-11-05 20:00")
    assert result.exit_code == 0, result.output
    after = _keys(stored(config))
    assert ("r03", "2025-11-03T19:00:00+00:00", "2025-11-04T07:00:00+00:00") in after
    assert ("r02", "2025-11-05T19:00:00+00:00", "2025-11-06T07:00:00+00:00") in after
    assert len(after) == len(rows)


def test_add_overlapping_is_refused_naming_both_shifts_in_local_time(config: Path) -> None:
    before = stored(config)
    result = garde(config, "roster", "add", "r02", "2025-11-04 06:00", "2025-11-04 14:00")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: r02 oncall Tue 04 Nov 2025 06:00 to 14:00 overlaps "
        "r02 night Mon 03 Nov 2025 20:00 to Tue 04 Nov 08:00\n"
    )
    assert stored(config) == before


def test_swap_onto_someone_already_working_is_refused(config: Path) -> None:
    before = stored(config)
    # r04 also works Monday night: it cannot take r02's.
    result = garde(config, "roster", "swap", "r02", "2025-11-03 20:00", "r04")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: r04 cannot take r02 night Mon 03 Nov 2025 20:00 to Tue 04 Nov 08:00: it overlaps "
        "r04 night Mon 03 Nov 2025 20:00"
    )
    assert stored(config) == before


def test_removing_a_shift_that_does_not_exist_names_it(config: Path) -> None:
    result = garde(config, "roster", "remove", "r02", "2025-11-06 03:00")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: r02 has no shift at Thu 06 Nov 2025 03:00")


def test_the_grid_workbook_of_the_same_week_changes_nothing(config: Path) -> None:
    grid = EXAMPLE.with_name("roster-grid.xlsx")
    result = garde(config, "roster", "import", str(grid))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "roster-grid.xlsx: 25 shifts read; 0 added, 0 changed, 0 removed, 25 unchanged\n"
    )


def test_a_bad_grid_cell_is_refused_with_line_and_column_and_nothing_imported(
    config: Path, tmp_path: Path
) -> None:
    before = stored(config)
    grid = tmp_path / "grid.csv"
    grid.write_text(
        "radiologist,2025-11-10,2025-11-11\nDr Claire Morel,N,\nr02,,Z\n", encoding="utf-8"
    )
    result = garde(config, "roster", "import", str(grid))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: grid.csv:3:3: 2025-11-11: cell code 'Z' is not in [rosters.grid_codes]"
    )
    assert stored(config) == before


def test_show_prints_local_times_and_names_the_zone_once(config: Path) -> None:
    result = garde(config, "roster", "show", "--from", "2025-11-03", "--days", "1")
    assert result.exit_code == 0, result.output
    header, first, *_ = result.stdout.splitlines()
    assert header.split() == ["RADIOLOGIST", "START", "(Europe/Paris)", "END", "ROLE", "SITES"]
    assert first.split() == [
        "r02",
        "Mon",
        "03",
        "Nov",
        "20:00",
        "Tue",
        "04",
        "Nov",
        "08:00",
        "night",
        "all",
    ]
