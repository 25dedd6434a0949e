"""The synthetic night has the shape NIGHTS.md describes (the simulator that replays it
through the services: tests/integration/simulation/test_services_night.py)."""

from __future__ import annotations

from collections import Counter

from garde.simulation.scenario import default_night, generate_arrivals

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
