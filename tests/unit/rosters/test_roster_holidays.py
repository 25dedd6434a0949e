"""French public holidays and on-call hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from garde.rosters._localtime import zone
from garde.rosters.holidays import easter_sunday, french_holidays, is_french_holiday
from garde.rosters.oncall import OnCallHours


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_french_holidays_2025() -> None:
    days = french_holidays(2025)
    assert len(days) == 11
    assert days[date(2025, 5, 29)] == "Ascension"
    assert days[date(2025, 6, 9)] == "Lundi de Pentecôte"
    assert is_french_holiday(date(2025, 11, 11))
    assert not is_french_holiday(date(2025, 11, 12))


def test_on_call_windows_across_the_october_change() -> None:
    hours = OnCallHours()
    tz = zone("Europe/Paris")
    # Saturday 25 October 2025: a covered day, then the night of the change (13 h).
    windows = hours.windows(
        datetime(2025, 10, 25, 6, tzinfo=UTC), datetime(2025, 10, 26, 7, tzinfo=UTC), tz
    )
    assert windows == [
        (datetime(2025, 10, 25, 6, tzinfo=UTC), datetime(2025, 10, 26, 7, tzinfo=UTC))
    ]
    start, end = hours.night(date(2025, 10, 25), tz)
    assert (end - start).total_seconds() == 13 * 3600


def test_night_must_cross_midnight() -> None:
    with pytest.raises(ValueError, match="night_end"):
        OnCallHours(night_start=time(8), night_end=time(20))
