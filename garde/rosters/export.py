"""Roster export: CSV (the import's columns) and iCalendar; both re-import identically."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import icalendar

from garde.rosters._localtime import zone
from garde.rosters.csv_reader import COLUMNS
from garde.rosters.importer import ALL_SITES

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from garde.dispatch.model import Shift

PRODID = "-//Garde//roster//EN"


def write_csv(
    shifts: Iterable[Shift],
    path: Path,
    *,
    timezone: str = "Europe/Paris",
    notes: Iterable[str] = (),
) -> None:
    """Write shifts as a CSV roster (see `garde.rosters.csv_reader` for the columns).

    Times are written as local ISO times *with* their offset (``2025-10-25T18:00+02:00``):
    readable by a planner and unambiguous across daylight-saving changes. ``notes`` are
    written first as ``#`` comment lines (a partial roster's unfilled seats), which the
    import skips.
    """
    tz = zone(timezone)
    with path.open("w", encoding="utf-8", newline="") as out:
        for note in notes:
            out.write(f"# {note}\n")
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for shift in _ordered(shifts):
            writer.writerow(
                [
                    shift.radiologist_id,
                    _local(shift.start, tz),
                    _local(shift.end, tz),
                    shift.role,
                    _sites(shift),
                ]
            )


def write_ics(shifts: Iterable[Shift], path: Path, *, timezone: str = "Europe/Paris") -> None:
    """Write shifts as an iCalendar file, one VEVENT per shift, for calendar applications.

    Times are in UTC (unambiguous); the radiologist, role and sites are in ``SUMMARY``
    and ``LOCATION`` for people and in ``X-GARDE-*`` properties for re-import.
    """
    tz = zone(timezone)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("X-WR-TIMEZONE", tz.key)
    for shift in _ordered(shifts):
        event = icalendar.Event()
        # A stable UID: the same shift exported twice is the same event for a calendar.
        event.add("UID", f"{shift.radiologist_id}-{shift.start:%Y%m%dT%H%M%SZ}@garde")
        event.add("DTSTAMP", shift.start)
        event.add("DTSTART", shift.start)
        event.add("DTEND", shift.end)
        event.add("SUMMARY", f"{shift.radiologist_id} {shift.role}")
        event.add("LOCATION", _sites(shift))
        event.add("X-GARDE-RADIOLOGIST", shift.radiologist_id)
        event.add("X-GARDE-ROLE", shift.role)
        event.add("X-GARDE-SITES", _sites(shift))
        calendar.add_component(event)
    path.write_bytes(calendar.to_ical())


def _ordered(shifts: Iterable[Shift]) -> list[Shift]:
    return sorted(shifts, key=lambda s: (s.start, s.radiologist_id, s.end))


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).isoformat(timespec="minutes")


def _sites(shift: Shift) -> str:
    return ALL_SITES if shift.sites is None else ";".join(sorted(shift.sites))
