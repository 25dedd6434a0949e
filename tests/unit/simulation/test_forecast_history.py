"""The arrival model learned from past studies: rates per hospital and hour of the week,
the case mix, readers' speeds from the minutes they took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from garde.dispatch.model import Priority
from garde.simulation.forecast import NoHistoryError
from garde.simulation.forecast.history import PastStudy, learn

PARIS = "Europe/Paris"
SINCE = datetime(2026, 1, 4, 23, 0, tzinfo=UTC)  # Monday 5 January 00:00 Paris
UNTIL = SINCE + timedelta(weeks=2)
MONDAY_21H = 21


def test_rates_mix_and_speeds_from_two_weeks() -> None:
    past = []
    for week in range(2):
        monday_21h = SINCE + timedelta(weeks=week, hours=21)
        for k in range(30):  # 30 a Monday evening at h1: 15 an hour-of-week occurrence... x2
            fast = k % 2 == 0
            past.append(
                PastStudy(
                    "h1",
                    monday_21h + timedelta(minutes=k),
                    Priority.URGENT if k < 24 else Priority.STROKE,
                    frozenset({"neuro"}),
                    16.0,
                    "r1" if fast else "r2",
                    8.0 if fast else 16.0,  # r1 reads in half the expected time
                )
            )
    model = learn(past, SINCE, UNTIL, PARIS)
    assert model.hourly("h1", MONDAY_21H) == pytest.approx(30.0)  # 60 studies, 2 Mondays
    assert model.hourly("h1", MONDAY_21H + 1) == 0.0
    assert model.speeds == {"r1": 2.0, "r2": 1.0}
    shares = {e.priority: e.share for e in model.mix}
    assert shares == {Priority.STROKE: pytest.approx(0.2), Priority.URGENT: pytest.approx(0.8)}
    urgent = next(e for e in model.mix if e.priority is Priority.URGENT)
    # Scaled to nominal speed: r1's 8 minutes at speed 2 are 16 nominal minutes.
    assert urgent.mean_minutes == pytest.approx(16.0)
    assert urgent.skills == frozenset({"neuro"})
    assert model.source == "history: 60 studies over 2.0 weeks"


def test_too_little_history_asks_for_a_scenario_file() -> None:
    one = PastStudy("h1", SINCE, Priority.URGENT, frozenset(), 15.0)
    with pytest.raises(NoHistoryError, match="--scenario"):
        learn([one], SINCE, UNTIL, PARIS)
