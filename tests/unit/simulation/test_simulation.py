"""The synthetic night, the simulator and the baselines behave as named."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from garde.dispatch.model import Priority
from garde.simulation.baselines import (
    CherryPick,
    LeastLoaded,
    PullEdf,
    PushGreedy,
    RoundRobin,
)
from garde.simulation.floor import Case, Floor, Reader
from garde.simulation.garde_policy import Garde, GardeOptimized
from garde.simulation.metrics import summarize
from garde.simulation.scenario import default_night, generate_arrivals
from garde.simulation.simulator import simulate

SCENARIO = default_night()


def test_default_night_matches_the_published_shape() -> None:
    counts = [len(generate_arrivals(SCENARIO, seed)) for seed in range(30)]
    assert 140 <= sum(counts) / len(counts) <= 180  # about 160 exams a night
    arrivals = [a for seed in range(30) for a in generate_arrivals(SCENARIO, seed)]
    exams = Counter(a.exam for a in arrivals)
    head = sum(
        v
        for k, v in exams.items()
        if k in {"head-trauma", "head-ct", "stroke-ct", "sah", "paediatric-head"}
    )
    assert 0.4 < head / len(arrivals) < 0.6
    peak = sum(1 for a in arrivals if 150 <= a.offset_min < 360) / (210 / 60)
    quiet = sum(1 for a in arrivals if 540 <= a.offset_min < 720) / (180 / 60)
    assert peak > 2 * quiet  # busiest 20:30-midnight
    assert len(SCENARIO.radiologists) == 4
    assert len(SCENARIO.sites) >= 6


def test_arrivals_are_deterministic_per_seed_and_differ_across_seeds() -> None:
    assert generate_arrivals(SCENARIO, 3) == generate_arrivals(SCENARIO, 3)
    assert generate_arrivals(SCENARIO, 3) != generate_arrivals(SCENARIO, 4)


def test_some_patients_have_a_head_ct_then_a_ct_angiography() -> None:
    arrivals = [a for seed in range(5) for a in generate_arrivals(SCENARIO, seed)]
    by_patient: dict[str, list[str]] = {}
    for a in arrivals:
        by_patient.setdefault(a.patient_key, []).append(a.exam)
    pairs = [v for v in by_patient.values() if len(v) == 2]
    assert pairs
    assert all(v == ["stroke-ct", "stroke-cta"] for v in pairs)


def test_arrivals_carry_valid_uids_and_bilingual_descriptions() -> None:
    arrivals = generate_arrivals(SCENARIO, 0)
    assert all(a.study_uid.startswith("2.25.") and len(a.study_uid) <= 64 for a in arrivals)
    assert len({a.study_uid for a in arrivals}) == len(arrivals)
    words = " ".join(a.description for a in generate_arrivals(SCENARIO, 1) + arrivals).upper()
    assert "TDM" in words or "SCANNER" in words
    assert "CT " in words
    study = arrivals[0].to_study()
    assert study.deadline == arrivals[0].deadline
    assert study.reading_minutes == arrivals[0].expected_minutes


POLICIES = [RoundRobin, LeastLoaded, PushGreedy, PullEdf, CherryPick, Garde, GardeOptimized]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.__name__)
def test_simulation_is_deterministic_and_reads_each_study_once(policy: type) -> None:
    arrivals = generate_arrivals(SCENARIO, 11)
    first = simulate(SCENARIO, arrivals, policy())
    second = simulate(SCENARIO, arrivals, policy())
    assert first == second
    uids = [r.study_uid for r in first.reads]
    assert len(uids) == len(set(uids))
    assert len(uids) + first.unread == len(arrivals)
    readers = {r.id: r for r in SCENARIO.radiologists}
    by_uid = {a.study_uid: a for a in arrivals}
    for read in first.reads:
        rad = readers[read.reader]
        arrival = by_uid[read.study_uid]
        assert arrival.site_id in rad.sites
        assert arrival.skills <= rad.skills
        assert read.arrived <= read.started < read.finished


def _floor(*readers: Reader) -> Floor:
    return Floor(scenario=SCENARIO, readers={r.id: r for r in readers})


def _reader(rid: str, *, skills: frozenset[str] | None = None) -> Reader:
    base = next(r for r in SCENARIO.radiologists if r.id == "r01")
    rad = replace(base, id=rid, skills=skills if skills is not None else base.skills, speed=1.0)
    return Reader(radiologist=rad, shifts=((0.0, 870.0),), on_shift=True)


def _case(index: int, priority: Priority, expected: float, *, arrived: float = 0.0) -> Case:
    arrival = generate_arrivals(SCENARIO, 0)[0]
    arrival = replace(
        arrival,
        study_uid=f"1.2.3.{index}",
        priority=priority,
        skills=frozenset(),
        expected_minutes=expected,
    )
    deadline = SCENARIO.deadline(priority, SCENARIO.at(arrived))
    return Case(
        index, arrival, arrival.to_study(), arrived, SCENARIO.offset(deadline), expected, expected
    )


def test_round_robin_rotates_regardless_of_load() -> None:
    a, b = _reader("a"), _reader("b")
    floor, policy = _floor(a, b), RoundRobin()
    policy.reset(floor)
    for i in range(4):
        policy.on_arrival(floor, _case(i, Priority.URGENT, 60 if i == 0 else 5), 0.0)
    assert [c.index for c in a.queue] == [0, 2]
    assert [c.index for c in b.queue] == [1, 3]


def test_least_loaded_ignores_deadlines_and_keeps_fifo() -> None:
    a, b = _reader("a"), _reader("b")
    floor, policy = _floor(a, b), LeastLoaded()
    policy.on_arrival(floor, _case(0, Priority.ROUTINE, 30), 0.0)
    policy.on_arrival(floor, _case(1, Priority.ROUTINE, 30), 0.0)
    policy.on_arrival(floor, _case(2, Priority.EMERGENCY, 10), 0.0)
    queues = {r.id: [c.index for c in r.queue] for r in (a, b)}
    assert queues == {"a": [0, 2], "b": [1]}  # the emergency waits behind routine work


def test_push_greedy_orders_by_priority_and_picks_earliest_finish() -> None:
    a, b = _reader("a"), _reader("b")
    floor, policy = _floor(a, b), PushGreedy()
    policy.on_arrival(floor, _case(0, Priority.ROUTINE, 30), 0.0)
    policy.on_arrival(floor, _case(1, Priority.URGENT, 30), 0.0)
    policy.on_arrival(floor, _case(2, Priority.EMERGENCY, 10), 0.0)
    policy.on_arrival(floor, _case(3, Priority.ROUTINE, 30), 0.0)
    assert [c.index for c in a.queue] == [2, 1, 0]  # priority order; ties go to "a"
    assert [c.index for c in b.queue] == [3]  # 30 min on b beats 100 min on a


def test_pull_edf_takes_the_earliest_deadline_and_cherry_pick_the_shortest() -> None:
    a = _reader("a")
    cases = [
        _case(0, Priority.ROUTINE, 2),
        _case(1, Priority.EMERGENCY, 30),
        _case(2, Priority.URGENT, 10),
    ]
    edf, pick = PullEdf(), CherryPick()
    floor = _floor(a)
    floor.pool.extend(cases)
    assert edf.next_for(floor, a, 0.0) is cases[1]
    assert pick.next_for(floor, a, 0.0) is cases[0]


def _reading(policy: Garde, floor: Floor, reader: Reader, case: Case, now: float) -> None:
    """Put ``case`` in ``reader``'s hands the way the simulator would: arrival, then
    the reader asks the core for work."""
    assert policy.on_arrival(floor, case, now) is None
    assert policy.next_for(floor, reader, now) is case
    reader.current, reader.current_started = case, now


def test_stroke_preempts_a_routine_read_under_pull_edf_and_garde() -> None:
    a = _reader("a")
    floor, edf = _floor(a), PullEdf()
    a.current = _case(0, Priority.ROUTINE, 30)
    stroke = _case(1, Priority.STROKE, 6)
    assert edf.on_arrival(floor, stroke, 1.0) == "a"
    assert stroke not in floor.unstarted()
    a = _reader("a")
    floor, garde = _floor(a), Garde()
    garde.reset(floor)
    _reading(garde, floor, a, _case(0, Priority.ROUTINE, 30), 0.0)
    stroke = _case(1, Priority.STROKE, 6, arrived=1.0)
    assert garde.on_arrival(floor, stroke, 1.0) == "a"  # the core's stroke_alert
    assert stroke not in floor.unstarted()
    assert garde.board.is_started(stroke.study.uid)


def test_garde_late_binding_takes_an_urgent_study_from_a_busy_colleague() -> None:
    a, b = _reader("a"), _reader("b")
    floor, policy = _floor(a, b), Garde()
    policy.reset(floor)
    _reading(policy, floor, a, _case(8, Priority.URGENT, 30), 0.0)
    long = _case(9, Priority.URGENT, 40)
    _reading(policy, floor, b, long, 0.0)
    # a is busy for 30 minutes, b for 40: the router queues the next one with a...
    urgent = _case(1, Priority.URGENT, 10, arrived=1.0)
    routine = _case(2, Priority.ROUTINE, 5, arrived=1.0)
    policy.on_arrival(floor, urgent, 1.0)
    policy.on_arrival(floor, routine, 1.0)
    assert urgent in a.queue
    # ...and b, free early after all, pulls it from a's tentative queue (late binding).
    policy.on_finished(floor, b, long, 2.0)
    b.current = None
    assert policy.next_for(floor, b, 2.0) is urgent
    assert urgent not in a.queue
    assert policy.board.owner(urgent.study.uid) == "b"


def test_summary_reports_every_priority_and_the_workload_spread() -> None:
    nights = [simulate(SCENARIO, generate_arrivals(SCENARIO, s), Garde()) for s in range(3)]
    summary = summarize(nights)
    for priority in Priority:
        assert "within_sla_pct" in summary[priority.value]  # type: ignore[operator]
    assert summary["nights"] == 3
    assert 0 <= summary["off_subspecialty_pct"] <= 100  # type: ignore[operator]
    assert "cv_per_shift_hour" in summary["workload"]  # type: ignore[operator]
    assert timedelta(0) < SCENARIO.end - SCENARIO.start


def test_a_reader_back_from_a_stroke_reads_the_next_stroke_before_resuming() -> None:
    a = _reader("a")
    floor, policy = _floor(a), Garde()
    policy.reset(floor)
    held = _case(0, Priority.URGENT, 20)
    _reading(policy, floor, a, held, 0.0)
    first = _case(1, Priority.STROKE, 6, arrived=1.0)
    assert policy.on_arrival(floor, first, 1.0) == "a"
    a.suspended, a.current = [held], first
    waiting = _case(2, Priority.STROKE, 6, arrived=2.0)
    policy.on_arrival(floor, waiting, 2.0)  # a reads a stroke: nobody to interrupt
    assert waiting in a.queue
    policy.on_finished(floor, a, first, 7.0)
    a.current = None
    assert policy.before_resume(floor, a, held, 7.0) is waiting
    assert floor.unstarted() == []
    # Nothing more urgent waiting: resume.
    assert policy.before_resume(floor, a, held, 13.0) is None
    # An emergency waiting does not come before the interrupted read: only a stroke does.
    emergency = _case(3, Priority.EMERGENCY, 10, arrived=13.0)
    policy.on_arrival(floor, emergency, 13.0)
    assert policy.before_resume(floor, a, held, 13.0) is None
    assert emergency in a.queue
    assert PullEdf().before_resume(floor, a, held, 5.0) is None


def test_unread_studies_are_reported_per_priority() -> None:
    nights = [simulate(SCENARIO, generate_arrivals(SCENARIO, s), Garde()) for s in range(2)]
    summary = summarize(nights)
    unread = sum(summary[p.value]["unread"] for p in Priority)  # type: ignore[index]
    assert unread == sum(n.unread for n in nights)


def test_the_core_reads_every_stroke_within_15_minutes_on_ten_nights() -> None:
    # The regression guard for the board's prediction of a read past its estimate:
    # predicted to end "now", it made strokes queue behind a busy reader (about one
    # stroke in 25 read after 15 minutes over 100 nights).
    for seed in range(10):
        policy = Garde()
        night = simulate(SCENARIO, generate_arrivals(SCENARIO, seed), policy)
        strokes = [r for r in night.reads if r.priority == "stroke"]
        assert strokes
        assert max(r.turnaround for r in strokes) <= 15, seed
        # Read studies left the board; only those unread at the morning handover remain.
        assert len(policy.board) <= night.unread
