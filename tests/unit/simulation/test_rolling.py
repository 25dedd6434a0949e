"""The online yardstick (`garde.simulation.rolling`): what knowing only the past costs."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from garde.dispatch.model import Priority
from garde.simulation.offline import AT_ARRIVAL, OfflineRead, Release, misses, solve_night
from garde.simulation.rolling import rolling_night
from garde.simulation.scenario import default_night, generate_arrivals
from tests.unit.simulation.test_offline import _by_uid, _night, _reader, _study


def test_online_the_reader_cannot_be_kept_free_for_a_stroke_not_yet_arrived() -> None:
    # Hindsight waits one minute for the stroke; online, the urgent read starts at 0 and
    # the stroke waits for it (reads are not interrupted here).
    night = _night((_reader("r1"), 0, 600))
    arrivals = [
        _study(night, "urgent", Priority.URGENT, 0.0, 50.0),
        _study(night, "stroke", Priority.STROKE, 1.0, 5.0),
    ]
    online = _by_uid(rolling_night(night, arrivals, durations="true", release=AT_ARRIVAL).reads)
    assert online["urgent"].started == pytest.approx(0.0)
    assert online["stroke"].started == pytest.approx(50.0)
    offline = solve_night(night, arrivals, release=AT_ARRIVAL)
    assert misses(offline.reads, (), Priority.STROKE, 15) == 0


def test_estimates_mislead_the_plan_where_true_minutes_do_not() -> None:
    # One reader, three urgent studies at once. The long one (45 min) looks short (5):
    # planned on estimates it goes first and both others miss their hour; knowing the
    # true minutes, it goes last and only it misses.
    night = _night((_reader("r1"), 0, 600))
    arrivals = [
        _study(night, "long", Priority.URGENT, 0.0, 45.0),
        _study(night, "a", Priority.URGENT, 0.0, 20.0),
        _study(night, "b", Priority.URGENT, 0.0, 20.0),
    ]
    arrivals[0] = replace(arrivals[0], expected_minutes=5.0)
    true = rolling_night(night, arrivals, durations="true", release=AT_ARRIVAL)
    estimated = rolling_night(night, arrivals, durations="estimated", release=AT_ARRIVAL)
    assert misses(true.reads, (), Priority.URGENT, 60) == 1
    assert misses(estimated.reads, (), Priority.URGENT, 60) == 2


def test_a_regional_night_online_is_a_schedule_the_services_could_run() -> None:
    scenario = default_night()
    arrivals = {a.study_uid: a for a in generate_arrivals(scenario, 3)}
    rule = Release(1.0)
    night = rolling_night(scenario, list(arrivals.values()), work=0.01, release=rule)
    assert len(night.reads) + night.unread == len(arrivals)
    speed = {r.id: r.speed for r in scenario.radiologists}
    for read in night.reads:
        arrival = arrivals[read.study_uid]
        assert read.started >= read.arrived + rule.delay(arrival) - 1e-9
        assert read.finished - read.started == pytest.approx(
            arrival.true_minutes / speed[read.reader]
        )
    by_reader: dict[str, list[OfflineRead]] = {}
    for read in night.reads:
        by_reader.setdefault(read.reader, []).append(read)
    for reads in by_reader.values():
        reads.sort(key=lambda r: r.started)
        assert all(a.finished <= b.started + 1e-9 for a, b in itertools.pairwise(reads))
