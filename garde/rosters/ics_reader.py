"""iCalendar rosters (.ics), read with the `icalendar` package.

Each VEVENT is one shift:

- ``DTSTART`` / ``DTEND`` (or ``DURATION``): with a ``TZID``, in UTC (``Z``), or floating
  (wall-clock time of the import's time zone);
- the radiologist: ``X-GARDE-RADIOLOGIST``, else the first word of ``SUMMARY``
  (``"r03 night"``, ``"r03 - night"``);
- the role: ``X-GARDE-ROLE``, else ``CATEGORIES``, else the rest of ``SUMMARY``;
- the sites: ``X-GARDE-SITES``, else ``LOCATION`` (``"h01;h03"``; empty: all credentialed).

An all-day event (a ``DATE`` without a time) is refused: it is not a shift, and read as
one it would last 24 or 25 hours. Cancelled events are skipped; recurring events
(``RRULE``) are refused, since a roster lists each shift (expand the series in the
calendar application first).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import icalendar

from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.raw_shift import DEFAULT_ROLE, RawShift

if TYPE_CHECKING:
    from pathlib import Path

_SUMMARY = re.compile(r"^\s*(?P<rad>[^\s:,-]+)\s*[-:,]?\s*(?P<role>.*?)\s*$")


def read_ics(path: Path) -> list[RawShift]:
    """The events of an iCalendar roster as raw shifts."""
    try:
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    except ValueError as exc:
        raise RosterImportError([RowError(path, "0", f"not an iCalendar file: {exc}")]) from exc
    rows: list[RawShift] = []
    errors: list[RowError] = []
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        uid = str(event.get("UID", "")).strip()
        where = f"event {number}" + (f" ({uid})" if uid else "")
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if "RRULE" in event:
            errors.append(RowError(path, where, "recurring event: list each shift instead"))
            continue
        rows.append(_raw_shift(event, where))
    if errors:
        raise RosterImportError(errors)
    return rows


def _raw_shift(event: icalendar.cal.Component, where: str) -> RawShift:
    summary = str(event.get("SUMMARY", "")).strip()
    match = _SUMMARY.match(summary)
    summary_rad = match["rad"] if match else ""
    summary_role = match["role"] if match else ""
    categories = _categories(event)
    role = str(event.get("X-GARDE-ROLE", "")).strip() or categories or summary_role
    sites = str(event.get("X-GARDE-SITES", "")).strip() or str(event.get("LOCATION", "")).strip()
    start = _decoded(event, "DTSTART")
    end = _decoded(event, "DTEND")
    if end == "" and isinstance(start, (date, datetime)):
        duration = event.get("DURATION")
        if duration is not None:
            end = start + duration.dt
        elif isinstance(start, date) and not isinstance(start, datetime):
            end = start + timedelta(days=1)  # RFC 5545: an all-day event lasts one day
    all_day = type(start) is date  # a DATE, not a DATE-TIME: refused by the import
    return RawShift(
        where=where,
        radiologist=str(event.get("X-GARDE-RADIOLOGIST", "")).strip() or summary_rad,
        start=start,
        end=end,
        role=role or DEFAULT_ROLE,
        sites=sites,
        all_day=all_day,
    )


def _decoded(event: icalendar.cal.Component, name: str) -> object:
    """The property's date/datetime, or "" when absent (reported as unparseable)."""
    prop = event.get(name)
    if prop is None:
        return ""
    value: object = getattr(prop, "dt", prop)
    return value


def _categories(event: icalendar.cal.Component) -> str:
    prop = event.get("CATEGORIES")
    if prop is None:
        return ""
    props = prop if isinstance(prop, list) else [prop]
    names = [str(c) for p in props for c in getattr(p, "cats", [p])]
    return names[0].strip() if names else ""
