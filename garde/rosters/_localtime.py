"""Wall-clock times of a planner's file -> aware UTC datetimes, with explicit DST handling."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Planners' spreadsheets often write French dates: 25/10/2025 18:00 (seconds optional).
_FRENCH = re.compile(
    r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)


class LocalTimeError(ValueError):
    """A time that cannot be read, or that names no single instant in its zone."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; `LocalTimeError` if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LocalTimeError(f"unknown time zone {name!r}") from exc


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a wall-clock time, refusing times that DST skips or repeats.

    A skipped time (spring forward, 02:30 in Paris) does not exist, and a repeated one
    (autumn, 02:30 happens twice) is ambiguous: both need an explicit UTC offset.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:
        raise LocalTimeError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {tz.key} (daylight-saving change); "
            "give an explicit offset"
        )
    raise LocalTimeError(
        f"{naive:%Y-%m-%d %H:%M} happens twice in {tz.key} (daylight-saving change); "
        "give an explicit offset such as +02:00 or +01:00"
    )


def parse_datetime(value: object, tz: ZoneInfo) -> datetime:
    """A cell or field -> aware UTC datetime.

    Accepts ISO 8601 (``2025-10-25 18:00``, ``2025-10-25T18:00:00+02:00``, ``...Z``),
    French ``25/10/2025 18:00``, and `datetime` objects (spreadsheet cells). Values
    without an offset are wall-clock times in ``tz``.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        parsed = _parse_text(value.strip())
    else:
        raise LocalTimeError(f"unparseable time {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = localize(parsed.replace(tzinfo=None), tz)
    return parsed.astimezone(UTC)


def _parse_text(text: str) -> datetime:
    if not text:
        raise LocalTimeError("empty time")
    match = _FRENCH.match(text)
    try:
        if match:
            return datetime(  # noqa: DTZ001 - a wall-clock time, localized by the caller
                int(match["y"]),
                int(match["m"]),
                int(match["d"]),
                int(match["H"] or 0),
                int(match["M"] or 0),
                int(match["S"] or 0),
            )
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise LocalTimeError(f"unparseable time {text!r}") from exc


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant of local midnight starting ``day`` (never in a DST gap in Europe)."""
    return localize(datetime.combine(day, time()), tz).astimezone(UTC)


def day_range(first: date, days: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[``first`` 00:00, ``first + days`` 00:00) local time in ``tz``, in UTC."""
    return local_midnight(first, tz), local_midnight(first + timedelta(days=days), tz)


def at_local(day: date, clock: time, tz: ZoneInfo, *, days_after: int = 0) -> datetime:
    """The UTC instant of wall-clock ``clock`` on ``day`` (+ ``days_after``) in ``tz``."""
    return localize(datetime.combine(day + timedelta(days=days_after), clock), tz).astimezone(UTC)
