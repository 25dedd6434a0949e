"""The offline (hindsight) reference: the optimum on tiny nights where it is known."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from garde.dispatch.model import Priority, Radiologist, Shift, Site
from garde.simulation.offline import (
    AT_ARRIVAL,
    OfflineRead,
    Release,
    Targets,
    edf_night,
    misses,
    solve_night,
)
from garde.simulation.scenario import (
    ExamType,
    NightScenario,
    RateBand,
    SyntheticArrival,
    default_night,
    generate_arrivals,
)
from garde.simulation.simulator import example_config, simulate

START = datetime(2025, 1, 15, 17, 0, tzinfo=UTC)

# The tiny nights test the schedule itself: every study routable when it arrives
# (`AT_ARRIVAL`); the gateway's quiet window has its own tests below.


def _night(*readers: tuple[Radiologist, float, float]) -> NightScenario:
    """A one-hospital night with the given readers and their shifts (minutes)."""
    return NightScenario(
        name="tiny",
        start=START,
        duration_min=600.0,
        sites=(
            Site("h1", "H1", frozenset({"H1"})),
            Site("h2", "H2", frozenset({"H2"})),
        ),
        radiologists=tuple(dict.fromkeys(r for r, _, _ in readers)),
        shifts=tuple(
            Shift(r.id, START + timedelta(minutes=a), START + timedelta(minutes=b))
            for r, a, b in readers
        ),
        rates=(RateBand(0, 600, 1.0),),
        exam_types=(ExamType("x", "CT", "HEAD", ("X",), Priority.URGENT, 1.0, 10.0),),
    )


def _reader(rid: str, skills: str = "neuro", sites: str = "h1", speed: float = 1.0) -> Radiologist:
    return Radiologist(rid, rid, frozenset(skills.split()), frozenset(sites.split()), speed=speed)


def _study(
    scenario: NightScenario,
    uid: str,
    priority: Priority,
    at: float,
    minutes: float,
    site: str = "h1",
    skills: str = "neuro",
) -> SyntheticArrival:
    arrived = scenario.at(at)
    return SyntheticArrival(
        study_uid=uid,
        offset_min=at,
        arrived_at=arrived,
        site_id=site,
        modality="CT",
        body_part="HEAD",
        description=uid,
        requested_priority="",
        patient_key=uid,
        exam="x",
        priority=priority,
        skills=frozenset(skills.split()),
        preferred_skill="",
        expected_minutes=minutes,
        true_minutes=minutes,
        deadline=scenario.deadline(priority, arrived),
    )


def _by_uid(reads: tuple[OfflineRead, ...]) -> dict[str, OfflineRead]:
    return {r.study_uid: r for r in reads}


def test_a_stroke_about_to_arrive_keeps_the_only_reader_free() -> None:
    # EDF starts the 50-minute urgent read at once and the stroke waits; with hindsight
    # the reader waits one minute, reads the stroke, then the urgent study, within 60.
    night = _night((_reader("r1"), 0, 600))
    arrivals = [
        _study(night, "urgent", Priority.URGENT, 0.0, 50.0),
        _study(night, "stroke", Priority.STROKE, 1.0, 5.0),
    ]
    assert misses(edf_night(night, arrivals, AT_ARRIVAL).reads, (), Priority.STROKE, 15) == 1
    solved = solve_night(night, arrivals, release=AT_ARRIVAL)
    reads = _by_uid(solved.reads)
    assert reads["stroke"].started == pytest.approx(1.0)
    assert reads["stroke"].finished == pytest.approx(6.0)
    assert reads["urgent"].started == pytest.approx(6.0)
    assert reads["urgent"].turnaround == pytest.approx(56.0)
    assert solved.optimal
    assert [t.value for t in solved.tiers] == [0, 0, 0]


def test_an_emergency_goes_first_when_both_cannot_be_within_the_hour() -> None:
    # 70 minutes of reading for one reader, both due within 60: one must miss, and the
    # emergency weighs more than the urgent study.
    night = _night((_reader("r1"), 0, 600))
    arrivals = [
        _study(night, "urgent", Priority.URGENT, 0.0, 30.0),
        _study(night, "emergency", Priority.EMERGENCY, 0.0, 40.0),
    ]
    solved = solve_night(night, arrivals, release=AT_ARRIVAL)
    reads = _by_uid(solved.reads)
    assert reads["emergency"].finished == pytest.approx(40.0)
    assert reads["urgent"].finished == pytest.approx(70.0)
    assert misses(solved.reads, solved.unread_priorities, Priority.URGENT, 60) == 1
    assert misses(solved.reads, solved.unread_priorities, Priority.EMERGENCY, 60) == 0
    assert solved.tiers[1].value == solved.tiers[1].bound == 500  # one urgent miss, x100


def test_urgent_studies_the_long_one_last_keeps_all_but_one_within_the_hour() -> None:
    # 85 minutes of urgent reading for one reader, all at once: the long read first makes
    # both short ones miss (45-65, 65-85); the short ones first miss only the long one.
    night = _night((_reader("r1"), 0, 600))
    arrivals = [
        _study(night, "long", Priority.URGENT, 0.0, 45.0),
        _study(night, "short", Priority.URGENT, 0.0, 20.0),
        _study(night, "other", Priority.URGENT, 0.0, 20.0),
    ]
    solved = solve_night(night, arrivals, release=AT_ARRIVAL)
    reads = _by_uid(solved.reads)
    assert misses(solved.reads, (), Priority.URGENT, 60) == 1
    assert reads["long"].started == max(r.started for r in solved.reads)
    assert solved.tiers[1].optimal


def test_an_ineligible_reader_is_never_used_even_when_idle() -> None:
    # r2 lacks neuro, r3 is not credentialed for h1: both sit idle while r1 reads all.
    night = _night(
        (_reader("r1"), 0, 600),
        (_reader("r2", skills="body"), 0, 600),
        (_reader("r3", sites="h2"), 0, 600),
    )
    arrivals = [_study(night, f"s{i}", Priority.URGENT, 0.0, 20.0) for i in range(4)]
    solved = solve_night(night, arrivals, release=AT_ARRIVAL)
    assert {r.reader for r in solved.reads} == {"r1"}
    assert misses(solved.reads, (), Priority.URGENT, 60) == 1  # 20, 40, 60 (within) then 80


def test_a_read_starts_inside_a_shift_and_may_run_past_its_end() -> None:
    # The shift ends at 100: a read started at 95 runs on to 125 (a handover read);
    # a study arriving after the shift has no one to read it and counts as a miss.
    night = _night((_reader("r1"), 0, 100))
    arrivals = [
        _study(night, "before", Priority.ROUTINE, 10.0, 85.0),
        _study(night, "handover", Priority.ROUTINE, 94.0, 30.0),
        _study(night, "after", Priority.URGENT, 120.0, 5.0),
    ]
    solved = solve_night(night, arrivals, release=AT_ARRIVAL)
    reads = _by_uid(solved.reads)
    assert reads["handover"].started == pytest.approx(95.0)
    assert reads["handover"].finished == pytest.approx(125.0)
    assert solved.unread_priorities == ("urgent",)
    assert misses(solved.reads, solved.unread_priorities, Priority.URGENT, 60) == 1


def test_reading_minutes_follow_the_reader_speed_exactly() -> None:
    # The solver works in tenths of a minute, rounded up; the replay keeps exact times.
    night = _night((_reader("r1", speed=1.25), 0, 600))
    arrivals = [_study(night, "a", Priority.URGENT, 0.33, 7.33)]
    read = solve_night(night, arrivals, release=AT_ARRIVAL).reads[0]
    assert read.started == pytest.approx(0.33)
    assert read.finished == pytest.approx(0.33 + 7.33 / 1.25)


def test_targets_follow_the_scenario_sla() -> None:
    targets = Targets.of(default_night())
    assert targets.within_min == {
        Priority.STROKE: 15.0,
        Priority.EMERGENCY: 60.0,
        Priority.URGENT: 60.0,
    }
    assert targets.weights[Priority.STROKE] == 100.0


def test_a_regional_night_is_never_worse_than_edf_and_is_deterministic() -> None:
    scenario = default_night()
    arrivals = generate_arrivals(scenario, 1)
    edf = edf_night(scenario, arrivals)
    first = solve_night(scenario, arrivals, work=0.02)
    assert first == solve_night(scenario, arrivals, work=0.02)
    assert len(first.reads) + first.unread == len(arrivals)
    for priority, minutes in ((Priority.STROKE, 15), (Priority.EMERGENCY, 60)):
        assert misses(first.reads, first.unread_priorities, priority, minutes) <= misses(
            edf.reads, edf.unread_priorities, priority, minutes
        )
    by_reader: dict[str, list[OfflineRead]] = {}
    for read in first.reads:
        by_reader.setdefault(read.reader, []).append(read)
    for reads in by_reader.values():
        reads.sort(key=lambda r: r.started)
        assert all(a.finished <= b.started + 1e-9 for a, b in itertools.pairwise(reads))
    assert all(r.started >= r.arrived for r in first.reads)


def test_a_study_is_read_no_sooner_than_the_services_could_route_it() -> None:
    # The quiet window (1 min) delays the urgent study's read, not its hour: a 59.5-minute
    # read arriving at 0 starts at 1 and misses; the stroke (declared complete) at once.
    night = _night((_reader("r1"), 0, 600), (_reader("r2"), 0, 600))
    arrivals = [
        _study(night, "urgent", Priority.URGENT, 0.0, 59.5),
        _study(night, "stroke", Priority.STROKE, 0.0, 5.0),
    ]
    solved = solve_night(night, arrivals, release=Release(1.0))
    reads = _by_uid(solved.reads)
    assert reads["stroke"].started == pytest.approx(0.0)
    assert reads["urgent"].started == pytest.approx(1.0)
    assert reads["urgent"].turnaround == pytest.approx(60.5)
    assert misses(solved.reads, (), Priority.URGENT, 60) == 1


def test_the_reference_waits_as_the_simulated_services_do() -> None:
    # One regional night through the services: no read starts before `Release` says the
    # study was routable, and the quiet window is reached (the rule is not looser either).
    scenario = replace(default_night(), sla=example_config().sla)
    arrivals = {a.study_uid: a for a in generate_arrivals(scenario, 0)}
    night = simulate(scenario, list(arrivals.values()), "pull_edf")
    rule = Release.of(example_config())
    waits = [r.wait - rule.delay(arrivals[r.study_uid]) for r in night.reads]
    assert min(waits) == pytest.approx(0.0, abs=1e-6)
    assert rule.delay(next(a for a in arrivals.values() if a.priority is Priority.STROKE)) == 0
    assert rule.stable_age_min == pytest.approx(1.0)
