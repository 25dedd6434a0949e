"""Roster import: every format, time zones and DST, and each kind of bad row."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from openpyxl import Workbook

from garde.rosters import RosterFormatError, RosterImportError, import_roster
from tests.unit.rosters.registry import DATA, RADIOLOGISTS, SITES

if TYPE_CHECKING:
    from pathlib import Path

HEADER = "radiologist,start,end,role,sites\n"


def _import(path: Path, **kwargs: object):
    return import_roster(path, radiologists=RADIOLOGISTS, sites=SITES, **kwargs)  # type: ignore[arg-type]


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    return _errors_in(path)


def _errors_in(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(RosterImportError) as info:
        _import(path, **kwargs)
    return [f"{e.where}: {e.reason}" for e in info.value.errors]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_reads_local_times_sites_and_roles() -> None:
    imported = _import(DATA / "week-ok.csv")
    assert len(imported.shifts) == 5
    first = imported.shifts[0]
    assert first.radiologist_id == "r01"
    assert first.start == datetime(2025, 11, 7, 17, 0, tzinfo=UTC)  # 18:00 CET
    assert first.end == datetime(2025, 11, 8, 7, 30, tzinfo=UTC)
    assert first.role == "night"
    assert first.sites is None  # "all": every credentialed site
    day = next(s for s in imported.shifts if s.radiologist_id == "r02")
    assert day.sites == frozenset({"h01", "h02"})
    assert imported.start == datetime(2025, 11, 7, 17, 0, tzinfo=UTC)
    assert imported.end == datetime(2025, 11, 8, 17, 0, tzinfo=UTC)
    assert imported.source == DATA / "week-ok.csv"


def test_a_night_across_the_october_change_lasts_15_and_a_half_hours() -> None:
    shifts = _import(DATA / "dst-night.csv").shifts
    spring, autumn = shifts  # sorted by start: March, then October
    assert autumn.end - autumn.start == timedelta(hours=15, minutes=30)
    assert autumn.start == datetime(2025, 10, 25, 16, 0, tzinfo=UTC)  # 18:00 CEST
    assert autumn.end == datetime(2025, 10, 26, 7, 30, tzinfo=UTC)  # 08:30 CET
    assert spring.end - spring.start == timedelta(hours=13, minutes=30)


def test_iso_offsets_french_dates_and_other_zones(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "r01,2025-11-07T18:00:00+01:00,2025-11-08T07:30Z,,\n"
        "r02,08/11/2025 18:00,09/11/2025 08:30,night,h01\n",
    )
    first, second = _import(path).shifts
    assert first.start == datetime(2025, 11, 7, 17, 0, tzinfo=UTC)
    assert first.end == datetime(2025, 11, 8, 7, 30, tzinfo=UTC)
    assert first.role == "oncall"
    assert second.start == datetime(2025, 11, 8, 17, 0, tzinfo=UTC)
    other = _import(path, timezone="America/New_York").shifts[1]
    assert other.start == datetime(2025, 11, 8, 23, 0, tzinfo=UTC)


def test_semicolon_separated_export_from_french_excel(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "r02;2025-11-07 18:00;2025-11-08 08:30;night;h01,h02\n",
        header="\ufeffradiologist;start;end;role;sites\n",
    )
    (shift,) = _import(path).shifts
    assert shift.sites == frozenset({"h01", "h02"})


def test_unknown_radiologist(tmp_path: Path) -> None:
    path = _csv(tmp_path, "r99,2025-11-07 18:00,2025-11-08 08:30,night,all\n")
    assert _errors(path) == ["2:1: unknown radiologist 'r99'"]


def test_unknown_site_and_missing_credential(tmp_path: Path) -> None:
    path = _csv(tmp_path, "r02,2025-11-07 18:00,2025-11-08 08:30,night,h01;h03;h77\n")
    assert _errors(path) == [
        "2:5: unknown site 'h77'",
        "2:5: r02 is not credentialed for site 'h03'",
    ]


def test_end_before_start(tmp_path: Path) -> None:
    path = _csv(tmp_path, "r01,2025-11-08 08:30,2025-11-07 18:00,night,all\n")
    (error,) = _errors(path)
    assert error == "2:3: end (Fri 2025-11-07 18:00) is not after start (Sat 2025-11-08 08:30)"


def test_overlapping_shifts_for_one_person(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "r01,2025-11-07 18:00,2025-11-08 08:30,night,all\n"
        "r04,2025-11-07 18:00,2025-11-08 08:30,night,all\n"
        "r01,2025-11-08 08:00,2025-11-08 18:00,day,all\n",
    )
    (error,) = _errors(path)
    assert error.startswith("4: overlapping shifts for r01")
    assert "shift at 2 ends" in error


def test_unparseable_and_dst_times(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "r01,tomorrow 18h,2025-11-08 08:30,night,all\n"
        "r02,2025-03-30 02:30,2025-03-30 08:30,night,all\n"
        "r03,2025-10-26 02:30,2025-10-26 08:30,night,all\n",
    )
    errors = _errors(path)
    assert errors[0] == "2:2: start: unparseable time 'tomorrow 18h'"
    assert "does not exist in Europe/Paris" in errors[1]
    assert errors[1].startswith("3:2: start:")
    assert "happens twice in Europe/Paris" in errors[2]


def test_missing_column(tmp_path: Path) -> None:
    path = _csv(tmp_path, "r01,2025-11-07 18:00\n", header="radiologist,start,role\n")
    assert _errors(path) == ["1: missing column 'end'"]


def test_every_error_is_reported_and_nothing_imported(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "r01,2025-11-07 18:00,2025-11-08 08:30,night,all\n"
        "r99,2025-11-07 18:00,2025-11-08 08:30,night,all\n"
        "r02,2025-11-07 18:00,nope,night,all\n",
    )
    with pytest.raises(RosterImportError) as info:
        _import(path)
    message = str(info.value)
    assert message.splitlines() == [
        "roster.csv:3:1: unknown radiologist 'r99'",
        "roster.csv:4:3: end: unparseable time 'nope'",
    ]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    assert _errors(_csv(tmp_path, "")) == ["0: no shifts in the file"]


def test_explicit_period_bounds_the_import(tmp_path: Path) -> None:
    path = _csv(tmp_path, "r01,2025-11-07 18:00,2025-11-08 08:30,night,all\n")
    period = (datetime(2025, 11, 3, tzinfo=UTC), datetime(2025, 11, 10, tzinfo=UTC))
    assert (_import(path, period=period).start, _import(path, period=period).end) == period
    narrow = (datetime(2025, 11, 3, tzinfo=UTC), datetime(2025, 11, 7, 12, tzinfo=UTC))
    with pytest.raises(RosterImportError, match="is outside the period"):
        _import(path, period=narrow)


def test_a_night_starting_on_the_last_day_ends_after_the_period(tmp_path: Path) -> None:
    # The store replaces a range by shift start: Sunday's night belongs to Monday-Sunday.
    path = _csv(tmp_path, "r01,2025-11-09 20:00,2025-11-10 08:00,night,all\n")
    week = (datetime(2025, 11, 2, 23, tzinfo=UTC), datetime(2025, 11, 9, 23, tzinfo=UTC))
    imported = _import(path, period=week)
    assert (imported.start, imported.end) == week
    assert imported.shifts[0].end == datetime(2025, 11, 10, 7, tzinfo=UTC)
    after = (datetime(2025, 11, 10, 8, tzinfo=UTC), datetime(2025, 11, 11, tzinfo=UTC))
    assert _errors_in(path, period=after) == [
        (
            "2: shift starting Sun 2025-11-09 20:00 is outside the period "
            "Mon 2025-11-10 09:00 to Tue 2025-11-11 01:00"
        )
    ]


def test_a_months_first_night_began_the_evening_before_is_accepted(tmp_path: Path) -> None:
    # December's roster opens with the night of 30 November: it ends in December.
    path = _csv(tmp_path, "r01,2026-11-30 20:00,2026-12-01 08:00,night,all\n")
    december = (datetime(2026, 11, 30, 23, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC))
    imported = _import(path, period=december)
    assert imported.shifts[0].start == datetime(2026, 11, 30, 19, tzinfo=UTC)
    assert imported.start == imported.shifts[0].start


def test_an_unknown_time_zone_names_the_file_and_the_zone(tmp_path: Path) -> None:
    path = _csv(tmp_path, "r01,2025-11-07 18:00,2025-11-08 08:30,night,all\n")
    with pytest.raises(RosterImportError) as info:
        _import(path, timezone="Mars/Olympus")
    assert str(info.value) == (
        "roster.csv:0: unknown time zone 'Mars/Olympus' (expected an IANA name such as "
        "Europe/Paris)"
    )


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _damaged_sheet(tmp_path: Path) -> Path:
    """A real workbook whose sheet XML is cut short."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["radiologist", "start", "end"])
    good = tmp_path / "good.xlsx"
    book.save(good)
    with zipfile.ZipFile(good) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["xl/worksheets/sheet1.xml"] = b"<worksheet><sheetData><row"
    return _zip(tmp_path / "roster.xlsx", members)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: _bytes(d / "roster.xlsx", b"PK\x03\x04 cut short"), "BadZipFile"),
        (lambda d: _zip(d / "roster.xlsx", {"notes.txt": b"x"}), "KeyError"),
        (_damaged_sheet, "ParseError"),
    ],
    ids=["not-a-zip", "zip-without-workbook", "malformed-sheet-xml"],
)
def test_a_damaged_workbook_is_an_import_error(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path)
    (message,) = _errors(path)
    assert message.startswith(f"0: not a readable .xlsx workbook ({reason}: "), message


def test_a_csv_the_csv_module_cannot_read_is_an_import_error(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"r01,{'x' * 200_000},2025-11-08 08:30\n")
    assert _errors(path) == ["0: not a readable CSV file: field larger than field limit (131072)"]


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "roster.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(RosterFormatError, match=r"\.txt"):
        _import(path)


def test_ics_with_tzid_duration_categories_and_cancelled_events() -> None:
    shifts = _import(DATA / "week-ok.ics").shifts
    assert [(s.radiologist_id, s.role) for s in shifts] == [
        ("r01", "night"),
        ("r04", "night"),
        ("r02", "day"),
    ]
    assert shifts[0].start == datetime(2025, 11, 7, 17, 0, tzinfo=UTC)
    assert shifts[2].end == datetime(2025, 11, 8, 17, 0, tzinfo=UTC)
    assert shifts[2].sites == frozenset({"h01", "h02"})


def test_ics_errors_name_the_event(tmp_path: Path) -> None:
    text = (DATA / "week-ok.ics").read_text(encoding="utf-8").replace("SUMMARY:r04", "SUMMARY:r42")
    path = tmp_path / "bad.ics"
    path.write_text(text, encoding="utf-8")
    assert _errors(path) == ["event 2 (night-2@planning): unknown radiologist 'r42'"]


def test_xlsx_with_datetime_cells_and_text(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "roster"
    sheet.append(["Radiologist", "Start", "End", "Role", "Sites"])
    sheet.append(
        ["r01", datetime(2025, 10, 25, 18, 0), datetime(2025, 10, 26, 8, 30), "night", "all"]
    )
    sheet.append(["r02", "2025-10-25 18:00", "2025-10-26 08:30", None, "h01;h02"])
    sheet.append(["r05", "2025-10-25 18:00", "2025-10-26 08:30", None, None])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    assert _errors(path) == ["row 4, column A: unknown radiologist 'r05'"]
    sheet.delete_rows(4)
    book.save(path)
    first, second = _import(path).shifts
    assert first.end - first.start == timedelta(hours=15, minutes=30)
    assert second.role == "oncall"
    assert second.sites == frozenset({"h01", "h02"})
