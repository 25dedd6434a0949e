"""On-call hours: when the region needs cover (nights, weekend and holiday days).

PDSIMG cover is needed every night and all day on weekends and public holidays; on
weekday daytime each hospital's own radiologists read. The default 20:00-08:00 night is
the 12-hour night shift of NIGHTS.md, and leaves the 11-hour repos de sécurité between
two consecutive nights (08:00 to 20:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import TYPE_CHECKING

from garde.rosters._localtime import at_local
from garde.rosters.holidays import is_french_holiday

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo

SATURDAY = 5


@dataclass(frozen=True, slots=True)
class OnCallHours:
    """When cover is needed, in local wall-clock time.

    Every night from ``night_start`` to ``night_end`` the next morning; with
    ``weekends`` / ``public_holidays`` (French), also the day between them.
    """

    night_start: time = time(20, 0)
    night_end: time = time(8, 0)
    weekends: bool = True
    public_holidays: bool = True

    def __post_init__(self) -> None:
        if self.night_end >= self.night_start:
            raise ValueError(
                f"night_end ({self.night_end}) must be before night_start ({self.night_start}):"
                " a night runs past midnight"
            )

    def is_day_covered(self, day: date) -> bool:
        """True if ``day``'s daytime needs on-call cover (weekend or public holiday)."""
        return (self.weekends and day.weekday() >= SATURDAY) or (
            self.public_holidays and is_french_holiday(day)
        )

    def night(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC bounds of the night starting on the evening of ``day``."""
        return at_local(day, self.night_start, tz), at_local(day, self.night_end, tz, days_after=1)

    def day(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC bounds of ``day``'s daytime (between the two nights)."""
        return at_local(day, self.night_end, tz), at_local(day, self.night_start, tz)

    def windows(
        self, start: datetime, end: datetime, tz: ZoneInfo
    ) -> list[tuple[datetime, datetime]]:
        """The merged UTC intervals of [start, end) that need cover."""
        intervals: list[tuple[datetime, datetime]] = []
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        day = first
        while day <= last:
            if self.is_day_covered(day):
                intervals.append(self.day(day, tz))
            intervals.append(self.night(day, tz))
            day += timedelta(days=1)
        return merge_intervals(
            [(max(a, start), min(b, end)) for a, b in intervals if a < end and b > start]
        )


def merge_intervals(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted, merged (touching intervals joined) copies of ``intervals``."""
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
