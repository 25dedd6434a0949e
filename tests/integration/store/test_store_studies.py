"""Study repository: every read and lifecycle write, on each configured database."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from garde.dispatch.errors import IllegalTransition
from garde.dispatch.lifecycle import TRANSITIONS, StudyEvent
from garde.dispatch.model import (
    Priority,
    Radiologist,
    Site,
    StudyFacts,
    StudyState,
    TriageResult,
)
from garde.store.enums import AssignedBy
from garde.store.errors import NotFoundError, StaleStudyError, StudyNotFoundError
from tests.store_fixtures import make_instance, new_uid, sync_directory

T0 = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
SITES = (
    Site(id="chu-a", name="CHU A", ae_titles=frozenset({"CHUA_CT"})),
    Site(id="ch-b", name="CH B", ae_titles=frozenset({"CHB_CT"}), stable_age_s=10.0),
)
RADS = (
    Radiologist(id="rad-1", name="One", skills=frozenset({"neuro"}), sites=frozenset({"chu-a"})),
    Radiologist(id="rad-2", name="Two", skills=frozenset({"body"}), sites=frozenset({"ch-b"})),
)
STROKE = TriageResult(Priority.STROKE, frozenset({"neuro"}), 6.0, "stroke-ct")
ROUTINE = TriageResult(Priority.ROUTINE, frozenset(), 15.0, "default")
LIFE = (StudyEvent.BECAME_STABLE, StudyEvent.ASSIGNED, StudyEvent.STARTED, StudyEvent.FINISHED)
"""The events that take a received study to DONE; ``LIFE[:k]`` reaches the k-th state."""
_STATES_ALONG_LIFE = (
    StudyState.RECEIVING,
    StudyState.PENDING,
    StudyState.ASSIGNED,
    StudyState.IN_PROGRESS,
    StudyState.DONE,
)


@pytest.fixture(autouse=True)
def _directory(session_factory) -> None:
    sync_directory(session_factory, SITES, RADS)


def _receive(instance_index, *, site="chu-a", at=T0, series=1, per_series=2, **fields) -> str:
    study = new_uid()
    for s in range(1, series + 1):
        for n in range(1, per_series + 1):
            event = make_instance(
                study,
                series_uid=f"{study}.{s}",
                sop_instance_uid=f"{study}.{s}.{n}",
                site_id=site,
                received_at=at + timedelta(seconds=n),
                series_number=s,
                instance_number=n,
                **fields,
            )
            assert instance_index.record(event)
    return study


def test_get_returns_a_frozen_record_or_none(uow_factory, instance_index) -> None:
    uid = _receive(instance_index, study_description="TDM CEREBRALE", patient_key="k1")
    with uow_factory() as uow:
        record = uow.studies.get(uid)
        assert uow.studies.get("1.2.3.404") is None
    assert record is not None
    assert record.state is StudyState.RECEIVING
    assert record.site_id == "chu-a"
    assert record.description == "TDM CEREBRALE"
    assert record.patient_key == "k1"
    assert record.first_received_at == T0 + timedelta(seconds=1)
    assert record.last_received_at == T0 + timedelta(seconds=2)
    assert (record.series_count, record.instance_count) == (1, 2)
    with pytest.raises(AttributeError):
        record.state = StudyState.DONE  # type: ignore[misc]


def test_due_for_stability_uses_default_and_site_ages(uow_factory, instance_index) -> None:
    a = _receive(instance_index, site="chu-a")  # last instance at T0+2s, default age 60 s
    b = _receive(instance_index, site="ch-b")  # last instance at T0+2s, site age 10 s
    ages = {"ch-b": 10.0}
    with uow_factory() as uow:
        assert uow.studies.due_for_stability(T0 + timedelta(seconds=11), 60, ages) == []
        assert [
            r.study_uid for r in uow.studies.due_for_stability(T0 + timedelta(seconds=12), 60, ages)
        ] == [b]
        due = uow.studies.due_for_stability(T0 + timedelta(seconds=62), 60, ages)
        assert {r.study_uid for r in due} == {a, b}
        # Without overrides every site uses the default.
        assert uow.studies.due_for_stability(T0 + timedelta(seconds=12), 60, {}) == []
        # Only RECEIVING studies are due.
        uow.studies.move(a, StudyEvent.BECAME_STABLE, at=T0)
        due = uow.studies.due_for_stability(T0 + timedelta(seconds=62), 60, ages)
        assert [r.study_uid for r in due] == [b]


def test_facts_gather_series_modalities_and_descriptions(uow_factory, instance_index) -> None:
    uid = new_uid()
    for n, (modality, description) in enumerate(
        [("CT", "AXIAL"), ("CT", "CORONAL"), ("SR", "")], 1
    ):
        instance_index.record(
            make_instance(
                uid,
                series_uid=f"{uid}.{n}",
                received_at=T0,
                modality=modality,
                series_number=n,
                series_description=description,
                study_description="ANGIO TSA",
                body_part="HEAD",
                requested_procedure="ANGIOSCANNER",
                requested_priority="STAT",
                patient_key="pk",
            )
        )
    with uow_factory() as uow:
        assert uow.studies.facts(uid) == StudyFacts(
            study_uid=uid,
            site_id="chu-a",
            modalities=frozenset({"CT", "SR"}),
            body_part="HEAD",
            description="ANGIO TSA",
            requested_procedure="ANGIOSCANNER",
            requested_priority="STAT",
            series_descriptions=("AXIAL", "CORONAL"),
            patient_key="pk",
        )
        assert uow.studies.get(uid).modalities == frozenset({"CT", "SR"})
        with pytest.raises(StudyNotFoundError):
            uow.studies.facts("1.2.404")


def test_lifecycle_writes_stamp_times_and_bump_the_version(uow_factory, instance_index) -> None:
    uid = _receive(instance_index)
    deadline = T0 + timedelta(minutes=20)
    with uow_factory() as uow:
        v0 = uow.studies.get(uid).version
        pending = uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0 + timedelta(minutes=1))
        triaged = uow.studies.set_triage(uid, STROKE, deadline)
        assigned = uow.studies.assign(
            uid,
            "rad-1",
            at=T0 + timedelta(minutes=2),
            by="router",
            fallback=False,
            explanation={"eligible": ["rad-1"], "excluded": {"rad-2": "no credential"}},
        )
        uow.studies.move(uid, "assigned", at=T0 + timedelta(minutes=2))
        uow.commit()
    assert pending.stable_at == T0 + timedelta(minutes=1)
    assert pending.version > v0
    assert triaged.priority is Priority.STROKE
    assert (triaged.skills, triaged.reading_minutes, triaged.triage_rule) == (
        frozenset({"neuro"}),
        6.0,
        "stroke-ct",
    )
    assert triaged.deadline == deadline
    assert assigned.assignee == "rad-1"
    assert assigned.assigned_at == T0 + timedelta(minutes=2)
    with uow_factory() as uow:
        started = uow.studies.move(uid, StudyEvent.STARTED, at=T0 + timedelta(minutes=3))
        done = uow.studies.move(
            uid, StudyEvent.FINISHED, at=T0 + timedelta(minutes=9), report_ref="reports/1.pdf"
        )
        escalated = uow.studies.set_escalation(uid, 2)
        assert uow.studies.set_escalation(uid, 1).escalation_tier == 2  # highest tier kept
        uow.commit()
    assert started.state is StudyState.IN_PROGRESS
    assert started.started_at == T0 + timedelta(minutes=3)
    assert (done.state, done.done_at, done.report_ref) == (
        StudyState.DONE,
        T0 + timedelta(minutes=9),
        "reports/1.pdf",
    )
    assert escalated.escalation_tier == 2
    with uow_factory() as uow:
        final = uow.studies.get(uid)
    assert final.state is StudyState.DONE
    assert final.version == escalated.version


def test_assign_keeps_the_history(uow_factory, instance_index) -> None:
    uid = _receive(instance_index)
    with uow_factory() as uow:
        uow.studies.assign(
            uid, None, at=T0, by=AssignedBy.ROUTER, explanation={"why": "nobody on shift"}
        )
        uow.studies.assign(
            uid, "rad-2", at=T0 + timedelta(minutes=1), by="escalation", fallback=True
        )
        record = uow.studies.assign(uid, "rad-1", at=T0 + timedelta(minutes=2), by="operator")
        history = uow.studies.assignments(uid)
        uow.commit()
    assert (record.assignee, record.fallback) == ("rad-1", False)
    assert [(a.radiologist_id, a.by, a.fallback) for a in history] == [
        (None, AssignedBy.ROUTER, False),
        ("rad-2", AssignedBy.ESCALATION, True),
        ("rad-1", AssignedBy.OPERATOR, False),
    ]
    assert history[0].explanation == {"why": "nobody on shift"}
    with uow_factory() as uow, pytest.raises(ValueError, match="'robot'"):
        uow.studies.assign(uid, "rad-1", at=T0, by="robot")


def test_every_state_and_event_moves_as_the_lifecycle_table_says(
    uow_factory, instance_index
) -> None:
    """The store's `move` is the table: a legal pair reaches the table's state, an
    illegal one raises `IllegalTransition` and leaves the study (and its version) as it was."""
    reached = {state: k for k, state in enumerate(_STATES_ALONG_LIFE)}
    for state, event in itertools.product(StudyState, StudyEvent):
        uid = _receive(instance_index)
        with uow_factory() as uow:
            if reached[state]:
                uow.studies.move(uid, *LIFE[: reached[state]], at=T0)
            uow.commit()
            before = uow.studies.get(uid)
        assert before is not None
        assert before.state is state
        legal = (state, event) in TRANSITIONS
        with uow_factory() as uow:
            if legal:
                after = uow.studies.move(uid, event, at=T0 + timedelta(minutes=1))
                assert after.state is TRANSITIONS[state, event].next, (state, event)
                uow.commit()
            else:
                named = rf"^study {re.escape(uid)}: event {event.value!r}"
                with pytest.raises(IllegalTransition, match=named):
                    uow.studies.move(uid, event, at=T0 + timedelta(minutes=1))
        with uow_factory() as uow:
            now = uow.studies.get(uid)
        assert now is not None
        assert now.state is (TRANSITIONS[state, event].next if legal else state), (state, event)
        if not legal:
            assert now.version == before.version


def test_one_move_walks_several_steps_or_none(uow_factory, instance_index) -> None:
    uid = _receive(instance_index)
    with uow_factory() as uow:
        taken = uow.studies.move(uid, *LIFE[:3], at=T0)
        uow.commit()
    assert (taken.state, taken.stable_at, taken.started_at) == (StudyState.IN_PROGRESS, T0, T0)
    with uow_factory() as uow, pytest.raises(IllegalTransition):
        # released, then started without being assigned again: the whole move is refused
        uow.studies.move(uid, StudyEvent.RELEASED, StudyEvent.STARTED, at=T0)
    with uow_factory() as uow, pytest.raises(ValueError, match="at least one event"):
        uow.studies.move(uid, at=T0)


def test_expected_version_guards_concurrent_changes(uow_factory, instance_index) -> None:
    uid = _receive(instance_index)
    with uow_factory() as uow:
        seen = uow.studies.get(uid).version
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0, expected_version=seen)
        uow.commit()
    with uow_factory() as uow, pytest.raises(StaleStudyError, match=f"expected version {seen}"):
        uow.studies.move(uid, StudyEvent.ASSIGNED, at=T0, expected_version=seen)


def test_a_decision_on_a_read_older_than_a_concurrent_commit_is_refused(
    uow_factory, instance_index, database_url
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite units of work hold the write lock from BEGIN: they cannot interleave")
    uid = _receive(instance_index)
    with uow_factory() as first:
        seen = first.studies.get(uid)
        with uow_factory() as second:
            second.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
            second.commit()
        with pytest.raises(StaleStudyError):
            first.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0, expected_version=seen.version)


def test_writes_on_an_unknown_study_raise(uow) -> None:
    with pytest.raises(StudyNotFoundError, match=r"1\.2\.404"):
        uow.studies.move("1.2.404", StudyEvent.BECAME_STABLE, at=T0)
    with pytest.raises(StudyNotFoundError):
        uow.studies.assign("1.2.404", None, at=T0, by="router")
    with pytest.raises(NotFoundError):
        uow.studies.set_preview("1.2.404", "thumbnail", "x.jpg")


def test_open_studies_and_by_state(uow_factory, instance_index) -> None:
    receiving, pending, assigned, reading, done = (_receive(instance_index) for _ in range(5))
    with uow_factory() as uow:
        uow.studies.move(pending, StudyEvent.BECAME_STABLE, at=T0)
        uow.studies.move(assigned, StudyEvent.BECAME_STABLE, StudyEvent.ASSIGNED, at=T0)
        uow.studies.move(reading, *LIFE[:3], at=T0)
        uow.studies.move(done, *LIFE, at=T0)
        uow.commit()
    with uow_factory() as uow:
        assert {r.study_uid for r in uow.studies.open_studies()} == {pending, assigned, reading}
        assert [r.study_uid for r in uow.studies.by_state(StudyState.RECEIVING)] == [receiving]
        assert [r.study_uid for r in uow.studies.by_state("done")] == [done]


def test_worklist_lists_the_radiologists_open_studies_most_urgent_first(
    uow_factory, instance_index
) -> None:
    routine = _receive(instance_index, at=T0)
    stroke = _receive(instance_index, at=T0 + timedelta(minutes=5), modality="MR")
    reading = _receive(instance_index, at=T0 + timedelta(minutes=1))
    other = _receive(instance_index, site="ch-b")
    with uow_factory() as uow:
        for uid, triage, rad in (
            (routine, ROUTINE, "rad-1"),
            (stroke, STROKE, "rad-1"),
            (reading, ROUTINE, "rad-1"),
            (other, STROKE, "rad-2"),
        ):
            uow.studies.set_triage(uid, triage, T0 + timedelta(hours=1))
            uow.studies.assign(uid, rad, at=T0, by="router")
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, StudyEvent.ASSIGNED, at=T0)
        uow.studies.move(reading, StudyEvent.STARTED, at=T0 + timedelta(minutes=30))
        uow.studies.set_preview(f"{stroke}.1", "thumbnail", "previews/stroke-s1.jpg")
        uow.studies.set_preview(stroke, "page", "previews/stroke/index.html")
        uow.studies.set_preview(f"{routine}.1", "thumbnail", "previews/routine-s1.jpg")
        uow.commit()
    with uow_factory() as uow:
        rows = uow.studies.worklist("rad-1")
        assert uow.studies.worklist("rad-9") == []
    assert [r.study_uid for r in rows] == [reading, stroke, routine]
    first, second, third = rows
    assert first.state is StudyState.IN_PROGRESS
    assert first.started_at == T0 + timedelta(minutes=30)
    assert (second.priority, second.site_id, second.site_name) == (
        Priority.STROKE,
        "chu-a",
        "CHU A",
    )
    assert second.modalities == frozenset({"MR"})
    assert second.preview_path == "previews/stroke/index.html"  # study-level first
    assert third.preview_path == "previews/routine-s1.jpg"
    assert first.preview_path is None
    assert second.first_received_at == T0 + timedelta(minutes=5, seconds=1)


def test_series_instance_paths_and_previews(uow_factory, instance_index) -> None:
    uid = new_uid()
    series = f"{uid}.7"
    for number in (3, 1, None, 2):  # arrival order differs from InstanceNumber order
        instance_index.record(
            make_instance(
                uid,
                series_uid=series,
                sop_instance_uid=f"{series}.{number or 99}",
                instance_number=number,
                series_number=7,
                path=f"s/{number}.dcm",
                series_description="AXIAL",
                received_at=T0,
            )
        )
    instance_index.record(
        make_instance(uid, series_uid=f"{uid}.2", series_number=2, received_at=T0)
    )
    with uow_factory() as uow:
        assert uow.studies.instance_paths(series) == ["s/1.dcm", "s/2.dcm", "s/3.dcm", "s/None.dcm"]
        assert uow.studies.instance_paths("1.2.404") == []
        listed = uow.studies.series(uid)
        assert [(s.series_uid, s.number, s.instance_count) for s in listed] == [
            (f"{uid}.2", 2, 1),
            (series, 7, 4),
        ]
        assert listed[1].description == "AXIAL"
        uow.studies.set_preview(series, "thumbnail", "old.jpg", T0)
        uow.studies.set_preview(series, "thumbnail", "new.jpg", T0 + timedelta(seconds=1))
        uow.studies.set_preview(series, "mid_slice", "mid.jpg", T0)
        uow.studies.set_preview(uid, "montage", "montage.jpg", T0)
        uow.commit()
    with uow_factory() as uow:
        previews = uow.studies.previews(uid)
    assert [(p.series_uid, p.kind, p.path) for p in previews] == [
        (None, "montage", "montage.jpg"),
        (series, "mid_slice", "mid.jpg"),
        (series, "thumbnail", "new.jpg"),
    ]
    assert previews[2].created_at == T0 + timedelta(seconds=1)
