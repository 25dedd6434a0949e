"""Paired per-night differences: the figures per night, the interval, the verdicts."""

from __future__ import annotations

import pytest

from garde.dispatch.model import Priority
from garde.simulation.paired import (
    emergency_within_pct,
    paired,
    paired_report,
    stroke_p90_min,
    urgent_within_60_pct,
)
from garde.simulation.simulator import NightResult, ReadRecord

WEIGHTS = {Priority.STROKE: 100.0, Priority.EMERGENCY: 20.0, Priority.URGENT: 5.0}


def read(priority: str, turnaround: float, due: float = 60.0) -> ReadRecord:
    return ReadRecord("1.2", "x", priority, 0.0, due, 0.0, turnaround, "r1", "", True, 0)


def night(*reads: ReadRecord, unread: tuple[str, ...] = ()) -> NightResult:
    return NightResult("p", tuple(reads), len(unread), {}, {}, unread)


def test_figures_of_one_night() -> None:
    n = night(
        *(read("stroke", t, due=20) for t in range(1, 11)),
        read("emergency", 30),
        read("emergency", 90),  # late
        read("urgent", 50, due=240),
        read("urgent", 70, due=240),  # within its SLA, not within the hour
        unread=("emergency",),
    )
    assert stroke_p90_min(n) == pytest.approx(9.1)
    assert emergency_within_pct(n) == pytest.approx(100 / 3)  # the unread one is a miss
    assert urgent_within_60_pct(n) == 50.0
    assert stroke_p90_min(night(read("urgent", 5))) is None


def test_the_interval_of_the_nightly_differences() -> None:
    mine = [night(read("urgent", t)) for t in (10, 20, 30, 40)]
    theirs = [night(read("urgent", t + 5)) for t in (10, 20, 30, 40)]
    same = paired(mine, theirs, lambda n: n.reads[0].turnaround)
    assert same == {"mean": -5.0, "ci95_low": -5.0, "ci95_high": -5.0, "nights": 4}
    with pytest.raises(ValueError, match="differ in number"):
        paired(mine, theirs[:2], lambda n: 0.0)


def test_verdicts_say_better_on_lateness_and_no_worse() -> None:
    # Garde is 10 to 20 weighted minutes less late every night; strokes and the rest equal.
    mine = [night(read("urgent", 60 + k, due=60)) for k in range(1, 6)]
    theirs = [night(read("urgent", 64 + 2 * k, due=60)) for k in range(1, 6)]
    report = paired_report(mine, theirs, WEIGHTS)
    assert report["weighted_lateness"]["ci95_high"] < 0
    assert report["verdict"] == {"better_on_weighted_lateness": True, "no_worse": True}
    worse = paired_report(theirs, mine, WEIGHTS)
    assert worse["verdict"] == {"better_on_weighted_lateness": False, "no_worse": False}
