"""Import in the planner's language (issue 17, item 6): radiologists by id or display
name (ambiguity is an error), roles by French alias, the longest shift, all-day events,
and grid rosters (radiologists x days) in CSV and XLSX; every bad cell refused with its
file, line and column, and nothing imported."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

import pytest
from openpyxl import Workbook

from garde.dispatch.model import Radiologist, Site
from garde.rosters import RosterImportError, import_roster
from garde.rosters.matching import CellCode, ImportRules, fold, match_radiologist

if TYPE_CHECKING:
    from pathlib import Path

    from garde.rosters.model import RosterImport

SITES = (Site(id="h01", name="Hôpital de Montélimar", ae_titles=frozenset({"CT1"})),)
ALL = frozenset({"h01"})
RADIOLOGISTS = (
    Radiologist(id="r01", name="Dr Claire Morel", skills=frozenset({"neuro"}), sites=ALL),
    Radiologist(id="r02", name="Dr Inès Garnier", skills=frozenset({"body"}), sites=ALL),
    Radiologist(id="r03", name="Dr Paul Garnier", skills=frozenset({"body"}), sites=ALL),
)
RULES = ImportRules(
    role_aliases={"nuit": "night", "garde": "oncall", "astreinte": "oncall", "jour": "day"},
    max_shift=timedelta(hours=24),
    grid_codes={
        "N": CellCode("night", time(20), time(8)),
        "J": CellCode("day", time(8), time(20)),
    },
    grid_off_codes=frozenset({"R", "CA", "-"}),
)
HEADER = "radiologist,start,end,role,sites\n"


def _import(path: Path) -> RosterImport:
    return import_roster(path, radiologists=RADIOLOGISTS, sites=SITES, rules=RULES)


def _errors(path: Path) -> list[str]:
    with pytest.raises(RosterImportError) as info:
        _import(path)
    return [str(e) for e in info.value.errors]


def _write(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_radiologists_are_matched_by_id_display_name_or_unique_surname() -> None:
    assert match_radiologist("r02", RADIOLOGISTS).id == "r02"
    assert match_radiologist("Dr Claire Morel", RADIOLOGISTS).id == "r01"
    assert match_radiologist("claire  MOREL", RADIOLOGISTS).id == "r01"
    assert match_radiologist("Ines Garnier", RADIOLOGISTS).id == "r02"  # no accent needed
    assert match_radiologist("MOREL", RADIOLOGISTS).id == "r01"
    assert fold("Inès  GARNIER") == "ines garnier"


def test_an_ambiguous_name_is_refused_with_file_line_column_and_nothing_imported(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "Claire Morel,2026-12-01 20:00,2026-12-02 08:00,nuit,all\n"
        + "Garnier,2026-12-02 20:00,2026-12-03 08:00,night,all\n",
    )
    assert _errors(path) == [
        (
            "roster.csv:3:1: ambiguous radiologist 'Garnier': could be r02 (Dr Inès Garnier), "
            "r03 (Dr Paul Garnier); use the id"
        )
    ]


def test_french_role_aliases_are_stored_as_roles(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "r01,2026-12-01 20:00,2026-12-02 08:00,Nuit,all\n"
        + "r02,2026-12-01 20:00,2026-12-02 08:00,astreinte,all\n"
        + "r03,2026-12-02 08:00,2026-12-02 20:00,GARDE,all\n",
    )
    assert [s.role for s in _import(path).shifts] == ["night", "oncall", "oncall"]


def test_an_unknown_role_is_refused_with_its_column(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "r01,2026-12-01 20:00,2026-12-02 08:00,vacances,all\n")
    (error,) = _errors(path)
    assert error.startswith("roster.csv:2:4: unknown role 'vacances' (expected one of: oncall,")
    assert "nuit" in error


def test_a_shift_over_max_shift_hours_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "r01,2026-12-01 08:00,2026-12-04 08:00,garde,all\n")
    assert _errors(path) == [
        (
            "roster.csv:2:3: a shift of 72 h (Tue 2026-12-01 08:00 to Fri 2026-12-04 08:00) is "
            "longer than max_shift_hours (24 h)"
        )
    ]


def test_an_all_day_calendar_event_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:allday-1\r\nSUMMARY:r01 garde\r\n"
        "DTSTART;VALUE=DATE:20261205\r\nDTEND;VALUE=DATE:20261206\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n",
        "roster.ics",
    )
    assert _errors(path) == [
        (
            "roster.ics:event 1 (allday-1): an all-day event is not a shift: give its start and "
            "end times"
        )
    ]


GRID = (
    "radiologist,2026-12-01,2026-12-02,2026-12-03\n"
    "Dr Claire Morel,N,R,\n"
    "r02,J,N,-\n"
    "Paul Garnier,,,N\n"
)


def test_a_csv_grid_is_read_cell_by_cell(tmp_path: Path) -> None:
    imported = _import(_write(tmp_path, GRID))
    assert [(s.radiologist_id, s.role, s.start, s.end) for s in imported.shifts] == [
        (
            "r02",
            "day",
            datetime(2026, 12, 1, 7, tzinfo=UTC),
            datetime(2026, 12, 1, 19, tzinfo=UTC),
        ),
        (
            "r01",
            "night",
            datetime(2026, 12, 1, 19, tzinfo=UTC),
            datetime(2026, 12, 2, 7, tzinfo=UTC),
        ),
        (
            "r02",
            "night",
            datetime(2026, 12, 2, 19, tzinfo=UTC),
            datetime(2026, 12, 3, 7, tzinfo=UTC),
        ),
        (
            "r03",
            "night",
            datetime(2026, 12, 3, 19, tzinfo=UTC),
            datetime(2026, 12, 4, 7, tzinfo=UTC),
        ),
    ]


def test_a_french_semicolon_grid_with_french_dates(tmp_path: Path) -> None:
    text = "Radiologue;01/12/2026;02/12/2026\nr01;N;\nr02;;n\n"
    shifts = _import(_write(tmp_path, text)).shifts
    assert [(s.radiologist_id, s.start.day) for s in shifts] == [("r01", 1), ("r02", 2)]


def test_an_unmapped_grid_code_is_refused_with_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, GRID.replace("r02,J,N,-", "r02,J,X,-"))
    (error,) = _errors(path)
    assert error.startswith(
        "roster.csv:3:3: 2026-12-02: cell code 'X' is not in [rosters.grid_codes] (known: N, J"
    )


def _grid_book(tmp_path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "grid.xlsx"
    book.save(path)
    return path


def test_an_xlsx_grid_with_date_cells_in_the_header(tmp_path: Path) -> None:
    days = [datetime(2026, 12, d) for d in (1, 2, 3)]
    path = _grid_book(
        tmp_path, [["Radiologist", *days], ["MOREL", "N", None, "J"], ["r02", None, "N", "CA"]]
    )
    shifts = _import(path).shifts
    assert [(s.radiologist_id, s.role, s.start.day) for s in shifts] == [
        ("r01", "night", 1),
        ("r02", "night", 2),
        ("r01", "day", 3),
    ]


def test_xlsx_grid_errors_name_row_and_column_and_nothing_is_imported(tmp_path: Path) -> None:
    path = _grid_book(
        tmp_path,
        [["radiologist", "2026-12-01", "2026-12-02"], ["Garnier", "N", None], ["r01", "?", "N"]],
    )
    assert _errors(path) == [
        (
            "grid.xlsx:row 3, column B: 2026-12-01: cell code '?' is not in [rosters.grid_codes] "
            "(known: N, J, -, CA, R)"
        )
    ]
    # Once the code is fixed, the ambiguous name is the next refusal, at its own cell.
    fixed = _grid_book(
        tmp_path,
        [["radiologist", "2026-12-01", "2026-12-02"], ["Garnier", "N", None], ["r01", "J", "N"]],
    )
    assert _errors(fixed) == [
        (
            "grid.xlsx:row 2, column A: ambiguous radiologist 'Garnier': could be "
            "r02 (Dr Inès Garnier), r03 (Dr Paul Garnier); use the id"
        )
    ]
