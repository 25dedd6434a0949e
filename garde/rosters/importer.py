"""Roster import: read a planner's file (CSV, iCalendar, XLSX) into checked shifts.

Every format is read into `RawShift` rows (`raw_shift`) first; `build_import` then checks
them all together (known radiologist and sites, credentials, end after start, no overlap
for one person) and either returns every shift or raises `RosterImportError` listing every
problem: nothing is ever imported partially.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Radiologist, Shift, Site
from garde.rosters._localtime import LocalTimeError, parse_datetime, zone
from garde.rosters.errors import RosterFormatError, RosterImportError, RowError
from garde.rosters.matching import ImportRules, match_radiologist
from garde.rosters.model import RosterImport
from garde.rosters.raw_shift import DEFAULT_ROLE, RawShift

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

ALL_SITES = "all"


def import_roster(
    path: Path,
    *,
    radiologists: Sequence[Radiologist],
    sites: Sequence[Site],
    timezone: str = "Europe/Paris",
    period: tuple[datetime, datetime] | None = None,
    rules: ImportRules | None = None,
) -> RosterImport:
    """Read a roster file, all or nothing.

    Parameters
    ----------
    path
        A ``.csv`` (columns documented in `garde.rosters.csv_reader`), ``.ics``
        (`garde.rosters.ics_reader`) or ``.xlsx`` (`garde.rosters.xlsx_reader`) file.
    radiologists, sites
        The configured registry the rows are checked against.
    timezone
        IANA zone of wall-clock times without an explicit offset.
    period
        The UTC range the import replaces; default: earliest start to latest end.
        Every shift must start within it (the store replaces shifts by their start, so a
        night that starts on the last day and ends the next morning belongs to it), but
        for the night that began the evening before the first day and ends in it.
    rules
        Roles, aliases, the longest shift and grid codes; default `ImportRules()`.

    Returns
    -------
    RosterImport
        The shifts, sorted by start then radiologist, and the covered range.

    Raises
    ------
    RosterImportError
        With one `RowError` per problem (file, line or event, reason).
    RosterFormatError
        If the suffix is not one of .csv, .ics, .xlsx.
    """
    rules = rules or ImportRules()
    reader = _reader_for(path, rules)
    tz = roster_zone(path, timezone)
    try:
        rows = reader(path)
    except RosterImportError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RosterImportError([RowError(path, "0", f"cannot read the file: {exc}")]) from exc
    return build_import(
        path, rows, radiologists=radiologists, sites=sites, tz=tz, period=period, rules=rules
    )


def roster_zone(path: Path, timezone: str) -> ZoneInfo:
    """The zone of ``path``'s wall-clock times; `RosterImportError` naming both if unknown."""
    try:
        return zone(timezone)
    except LocalTimeError as exc:
        reason = f"{exc} (expected an IANA name such as Europe/Paris)"
        raise RosterImportError([RowError(path, "0", reason)]) from None


def _reader_for(path: Path, rules: ImportRules) -> Callable[[Path], list[RawShift]]:
    suffix = path.suffix.lower()
    # Imported lazily: icalendar and openpyxl are only needed for their own formats.
    if suffix == ".csv":
        from garde.rosters.csv_reader import read_csv  # noqa: PLC0415

        return lambda p: read_csv(p, rules)
    if suffix in {".ics", ".ical", ".ifb"}:
        from garde.rosters.ics_reader import read_ics  # noqa: PLC0415

        return read_ics
    if suffix in {".xlsx", ".xlsm"}:
        from garde.rosters.xlsx_reader import read_xlsx  # noqa: PLC0415

        return lambda p: read_xlsx(p, rules)
    raise RosterFormatError(
        f"{path.name}: unknown roster format {suffix!r} (use .csv, .ics or .xlsx)"
    )


def build_import(
    path: Path,
    rows: Sequence[RawShift],
    *,
    radiologists: Sequence[Radiologist],
    sites: Sequence[Site],
    tz: ZoneInfo,
    period: tuple[datetime, datetime] | None = None,
    rules: ImportRules | None = None,
) -> RosterImport:
    """Check raw rows together and build the import (see `import_roster`)."""
    rules = rules or ImportRules()
    site_ids = {s.id for s in sites}
    errors: list[RowError] = []
    built: list[tuple[str, Shift]] = []
    for row in rows:
        problems: list[tuple[str, str]] = []
        shift = build_shift(
            row, radiologists=radiologists, site_ids=site_ids, tz=tz, rules=rules, problems=problems
        )
        errors.extend(RowError(path, row.at(name), p) for name, p in problems)
        if shift is not None:
            built.append((row.where, shift))
    errors.extend(_overlaps(path, built, tz))
    if not rows:
        errors.append(RowError(path, "0", "no shifts in the file"))
    if period is not None:
        errors.extend(_outside(path, built, period, tz))
    if errors:
        raise RosterImportError(errors)
    shifts = tuple(sorted((s for _, s in built), key=lambda s: (s.start, s.radiologist_id)))
    start, end = period or (min(s.start for s in shifts), max(s.end for s in shifts))
    start = min([start, *(s.start for s in shifts)])  # the night begun the evening before
    logger.debug("roster %s read: %d shifts", path.name, len(shifts))
    return RosterImport(shifts=shifts, start=start, end=end, source=path)


def build_shift(
    row: RawShift,
    *,
    radiologists: Sequence[Radiologist],
    site_ids: set[str],
    tz: ZoneInfo,
    rules: ImportRules,
    problems: list[tuple[str, str]],
) -> Shift | None:
    """The row's shift, or None with ``problems`` filled in as (field, reason)."""
    radiologist: Radiologist | None = None
    try:
        radiologist = match_radiologist(row.radiologist, radiologists)
    except LookupError as exc:
        problems.append(("radiologist", str(exc.args[0])))
    start = _time(row.start, "start", tz, problems)
    end = _time(row.end, "end", tz, problems)
    if row.all_day:
        problems.append(("start", "an all-day event is not a shift: give its start and end times"))
    elif start is not None and end is not None:
        if end <= start:
            problems.append(
                ("end", f"end ({_local(end, tz)}) is not after start ({_local(start, tz)})")
            )
        elif end - start > rules.max_shift:
            problems.append(
                (
                    "end",
                    (
                        f"a shift of {(end - start) / _HOUR:g} h ({_local(start, tz)} to "
                        f"{_local(end, tz)}) is longer than max_shift_hours "
                        f"({rules.max_shift / _HOUR:g} h)"
                    ),
                )
            )
    chosen = _sites(row.sites, radiologist, site_ids, problems)
    role = DEFAULT_ROLE
    try:
        role = rules.role(row.role.strip() or DEFAULT_ROLE)
    except LookupError as exc:
        problems.append(("role", str(exc.args[0])))
    if problems or start is None or end is None or radiologist is None:
        return None
    return Shift(radiologist_id=radiologist.id, start=start, end=end, role=role, sites=chosen)


_HOUR = timedelta(hours=1)


def _local(at: datetime, tz: ZoneInfo) -> str:
    return f"{at.astimezone(tz):%a %Y-%m-%d %H:%M}"


def _time(
    value: object, name: str, tz: ZoneInfo, problems: list[tuple[str, str]]
) -> datetime | None:
    try:
        return parse_datetime(value, tz)
    except LocalTimeError as exc:
        problems.append((name, f"{name}: {exc}"))
        return None


def _sites(
    text: str,
    radiologist: Radiologist | None,
    site_ids: set[str],
    problems: list[tuple[str, str]],
) -> frozenset[str] | None:
    names = [n.strip() for n in text.replace(",", ";").split(";") if n.strip()]
    if not names or [n.lower() for n in names] == [ALL_SITES]:
        return None  # all the radiologist is credentialed for
    chosen = frozenset(names)
    problems.extend(("sites", f"unknown site {name!r}") for name in sorted(chosen - site_ids))
    if radiologist is not None:
        problems.extend(
            ("sites", f"{radiologist.id} is not credentialed for site {name!r}")
            for name in sorted((chosen & site_ids) - radiologist.sites)
        )
    return chosen


def _overlaps(path: Path, built: Sequence[tuple[str, Shift]], tz: ZoneInfo) -> list[RowError]:
    """One error per pair of overlapping shifts of the same radiologist."""
    errors: list[RowError] = []
    by_person: dict[str, list[tuple[str, Shift]]] = {}
    for where, shift in built:
        by_person.setdefault(shift.radiologist_id, []).append((where, shift))
    for rid, items in sorted(by_person.items()):
        items.sort(key=lambda item: item[1].start)
        latest_where, latest = items[0]
        for where, shift in items[1:]:
            if shift.start < latest.end:
                errors.append(
                    RowError(
                        path,
                        where,
                        f"overlapping shifts for {rid}: {_local(shift.start, tz)} starts "
                        f"before the shift at {latest_where} ends ({_local(latest.end, tz)})",
                    )
                )
            if shift.end > latest.end:
                latest_where, latest = where, shift
    return errors


def _outside(
    path: Path,
    built: Sequence[tuple[str, Shift]],
    period: tuple[datetime, datetime],
    tz: ZoneInfo,
) -> list[RowError]:
    start, end = period
    return [
        RowError(
            path,
            where,
            f"shift starting {_local(shift.start, tz)} is outside the period "
            f"{_local(start, tz)} to {_local(end, tz)}",
        )
        for where, shift in built
        if not (start <= shift.start < end or began_the_evening_before(shift, start))
    ]


def began_the_evening_before(shift: Shift, first: datetime) -> bool:
    """True for the night that began the evening before ``first`` and ends after it: a
    month's first night belongs to the month that it ends in as well."""
    return first - timedelta(hours=24) <= shift.start < first < shift.end
