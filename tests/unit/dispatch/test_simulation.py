"""The synthetic night, the simulator and the baselines behave as named."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from garde.dispatch.model import Priority
from garde.dispatch.simulation.baselines import (
    CherryPick,
    LeastLoaded,
    PullEdf,
    PushGreedy,
    RoundRobin,
)
from garde.dispatch.simulation.floor import Case, Floor, Reader
from garde.dispatch.simulation.garde_policy import Garde, GardeOptimized
from garde.dispatch.simulation.metrics import summarize
from garde.dispatch.simulation.scenario import default_night, generate_arrivals
from garde.dispatch.simulation.simulator import simulate

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


def test_stroke_preempts_a_routine_read_under_pull_edf_and_garde() -> None:
    for policy in (PullEdf(), Garde()):
        a = _reader("a")
        floor = _floor(a)
        a.current = _case(0, Priority.ROUTINE, 30)
        stroke = _case(1, Priority.STROKE, 6)
        assert policy.on_arrival(floor, stroke, 1.0) == "a"
        assert stroke not in floor.unstarted()


def test_garde_late_binding_takes_an_urgent_study_from_a_busy_colleague() -> None:
    a, b = _reader("a"), _reader("b")
    floor, policy = _floor(a, b), Garde()
    b.current = _case(9, Priority.URGENT, 40)
    urgent = _case(1, Priority.URGENT, 10)
    b.queue.append(urgent)
    a.queue.append(_case(2, Priority.ROUTINE, 5))
    assert policy.next_for(floor, a, 0.0) is urgent
    assert b.queue == []


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
    held = _case(0, Priority.URGENT, 20)
    waiting = _case(1, Priority.STROKE, 6)
    a.queue.append(waiting)
    assert policy.before_resume(floor, a, held, 5.0) is waiting
    assert floor.unstarted() == []
    # Nothing more urgent waiting, or a stroke in hand: resume.
    assert policy.before_resume(floor, a, held, 5.0) is None
    a.queue.append(_case(2, Priority.STROKE, 6))
    assert policy.before_resume(floor, a, _case(3, Priority.STROKE, 6), 5.0) is None
    assert PullEdf().before_resume(floor, a, held, 5.0) is None


def test_an_emergency_interrupts_urgent_work_only_when_it_would_run_late() -> None:
    a, b = _reader("a"), _reader("b")
    floor, policy = _floor(a, b), Garde()
    a.current, a.current_started = _case(8, Priority.URGENT, 18), 0.0
    b.current, b.current_started = _case(9, Priority.URGENT, 18), 0.0
    soon = _case(1, Priority.EMERGENCY, 12, arrived=1.0)
    # Free at 18, done by 30: well within the 60-minute SLA, no interruption.
    assert policy.on_arrival(floor, soon, 1.0) is None
    assert soon in floor.unstarted()
    long = _case(2, Priority.EMERGENCY, 39, arrived=2.0)
    # Behind the first emergency it would end near 18 + 12 + 39 = 69 > 62 - 20: interrupt.
    assert policy.on_arrival(floor, long, 2.0) in {"a", "b"}
    assert long not in floor.unstarted()


def test_an_emergency_never_interrupts_a_stroke_or_another_emergency() -> None:
    a = _reader("a")
    floor, policy = _floor(a), Garde()
    a.current, a.current_started = _case(8, Priority.EMERGENCY, 39), 0.0
    late = _case(1, Priority.EMERGENCY, 39, arrived=1.0)
    assert policy.on_arrival(floor, late, 1.0) is None
    a.current = _case(9, Priority.STROKE, 6)
    assert policy.on_arrival(floor, _case(2, Priority.EMERGENCY, 39, arrived=1.0), 1.0) is None


def test_a_reader_going_off_shift_is_available_only_at_their_next_shift() -> None:
    a = _reader("a")
    a.shifts = ((0.0, 480.0), (540.0, 870.0))
    a.current, a.current_started = _case(8, Priority.URGENT, 18), 470.0
    policy = Garde()
    assert policy.available_at(a, 475.0) == 540.0
    a.current_started = 400.0
    assert policy.available_at(a, 405.0) == 418.0
    a.shifts = ((0.0, 480.0),)
    a.current_started = 470.0
    assert policy.available_at(a, 475.0) == float("inf")


def test_unread_studies_are_reported_per_priority() -> None:
    nights = [simulate(SCENARIO, generate_arrivals(SCENARIO, s), Garde()) for s in range(2)]
    summary = summarize(nights)
    unread = sum(summary[p.value]["unread"] for p in Priority)  # type: ignore[index]
    assert unread == sum(n.unread for n in nights)
