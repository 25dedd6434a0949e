"""The store contract: the same cases on the SQL store (SQLite file, PostgreSQL when
configured) and on the memory store, so the fake the services are tested and simulated
on cannot drift from what `garde serve` runs.

Each case goes through the `garde.store.ports.UnitOfWork` port and the gateway's
`InstanceIndex` only, never a store's own extras.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from garde.dispatch.errors import IllegalTransition
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, StudyState
from garde.store.enums import AssignedBy
from garde.store.errors import NotFoundError, StaleStudyError, StudyNotFoundError
from tests.integration.store.contract_store import (
    RADS,
    ROUTINE,
    STROKE,
    T0,
    Store,
)
from tests.store_fixtures import make_instance, new_uid

# -- transactions -----------------------------------------------------------------------


def test_work_is_visible_only_after_commit(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.audit.append(at=T0, actor="router", action="hold", study_uid=uid)
        assert uow.studies.get(uid).state is StudyState.PENDING  # its own writes
    assert store.get(uid).state is StudyState.RECEIVING  # left without commit: rolled back
    with store.uow_factory() as uow:
        assert uow.audit.for_study(uid) == []
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.commit()
        uow.studies.set_escalation(uid, 1)  # after a commit the unit of work goes on
        uow.rollback()
        uow.studies.set_escalation(uid, 2)
    record = store.get(uid)
    assert (record.state, record.escalation_tier) == (StudyState.PENDING, 0)


def test_a_unit_of_work_is_used_inside_its_block(store: Store) -> None:
    uow = store.uow_factory()
    with pytest.raises(Exception, match="context manager"):
        uow.commit()


def test_concurrent_claims_of_one_study_let_exactly_one_win(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.commit()
    wins: list[str] = []
    barrier = threading.Barrier(4)

    def claim(who: str) -> None:
        barrier.wait()
        with store.uow_factory() as uow:
            if uow.claims.move(
                uid,
                StudyEvent.ASSIGNED,
                expect_state=StudyState.PENDING,
                expect_assignee=None,
                at=T0,
                to_assignee=who,
            ):
                wins.append(who)
            uow.commit()

    threads = [threading.Thread(target=claim, args=(r.id,)) for r in RADS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert store.get(uid).assignee == wins[0]


# -- intake -----------------------------------------------------------------------------


def test_intake_makes_the_study_and_counts_each_instance_once(store: Store) -> None:
    uid = store.receive(series=2, per=3, patient_key="k1", study_description="TDM")
    again = make_instance(uid, series_uid=f"{uid}.1", sop_instance_uid=f"{uid}.1.1")
    assert store.index.record(again) is False
    assert store.index.path_of(f"{uid}.1.1") == f"{uid}/{uid}.1/{uid}.1.1.dcm"
    assert store.index.path_of("1.2.404") is None
    record = store.get(uid)
    assert record.state is StudyState.RECEIVING
    assert (record.series_count, record.instance_count, record.version) == (2, 6, 1)
    assert (record.first_received_at, record.last_received_at) == (
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=3),
    )
    assert (record.patient_key, record.description, record.handle) == ("k1", "TDM", "chu-a-1")
    assert record.modalities == frozenset({"CT"})
    assert store.get(store.receive()).handle == "chu-a-2"
    assert store.get(store.receive(site="ch-b")).handle == "ch-b-1"


def test_intake_widens_the_window_and_gathers_modalities(store: Store) -> None:
    uid = new_uid()
    late, early = T0 + timedelta(minutes=5), T0
    results = store.index.record_many(
        [
            make_instance(uid, series_uid=f"{uid}.1", received_at=late, modality="MR"),
            make_instance(uid, series_uid=f"{uid}.2", received_at=early, modality="CT"),
            make_instance(uid, series_uid=f"{uid}.3", received_at=late, modality=""),
        ]
    )
    assert results == [True, True, True]
    record = store.get(uid)
    assert (record.first_received_at, record.last_received_at) == (early, late)
    assert record.modalities == frozenset({"CT", "MR"})
    assert record.series_count == 3


# -- lifecycle writes -----------------------------------------------------------------------


def test_lifecycle_writes_stamp_times_and_bump_the_version_when_they_change(
    store: Store,
) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        pending = uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0 + timedelta(minutes=1))
        refused = rf"^study {re.escape(uid)}: event 'started' is not allowed in state 'pending'"
        with pytest.raises(IllegalTransition, match=refused):  # by the table, nothing written
            uow.studies.move(uid, StudyEvent.STARTED, at=T0)
        again = uow.studies.move(uid, "unassigned", at=T0 + timedelta(minutes=2))  # no change
        triaged = uow.studies.set_triage(uid, STROKE, T0 + timedelta(minutes=20))
        assigned = uow.studies.assign(
            uid, "rad-1", at=T0 + timedelta(minutes=2), by="router", explanation={"a": [1, 2]}
        )
        reading = uow.studies.move(
            uid, StudyEvent.ASSIGNED, StudyEvent.STARTED, at=T0 + timedelta(minutes=3)
        )
        tier = uow.studies.set_escalation(uid, 2)
        lower = uow.studies.set_escalation(uid, 1)
        uow.commit()
    assert (pending.version, again.version, pending.stable_at) == (2, 2, T0 + timedelta(minutes=1))
    assert (triaged.priority, triaged.skills, triaged.reading_minutes) == (
        Priority.STROKE,
        frozenset({"neuro"}),
        6.0,
    )
    assert (triaged.triage_rule, triaged.deadline, triaged.version) == (
        "stroke-ct",
        T0 + timedelta(minutes=20),
        3,
    )
    assert (assigned.assignee, assigned.assigned_at, assigned.version) == (
        "rad-1",
        T0 + timedelta(minutes=2),
        4,
    )
    assert (reading.state, reading.started_at, reading.version) == (
        StudyState.IN_PROGRESS,
        T0 + timedelta(minutes=3),
        5,
    )
    assert (tier.escalation_tier, tier.version, lower.escalation_tier, lower.version) == (
        2,
        6,
        2,
        6,
    )
    assert store.get(uid) == lower


def test_expected_version_and_unknown_studies_are_refused(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0, expected_version=1)
        uow.commit()
    with store.uow_factory() as uow, pytest.raises(StaleStudyError, match="expected version 1"):
        uow.studies.set_triage(uid, ROUTINE, T0, expected_version=1)
    with store.uow_factory() as uow:
        with pytest.raises(StudyNotFoundError, match=r"1\.2\.404"):
            uow.studies.move("1.2.404", StudyEvent.BECAME_STABLE, at=T0)
        with pytest.raises(StudyNotFoundError):
            uow.studies.assign("1.2.404", None, at=T0, by="router")
        with pytest.raises(StudyNotFoundError):
            uow.studies.facts("1.2.404")
        with pytest.raises(ValueError, match="'robot'"):
            uow.studies.assign(uid, "rad-1", at=T0, by="robot")


def test_assignments_keep_the_history_oldest_first(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.assign(
            uid, "rad-2", at=T0 + timedelta(minutes=5), by="escalation", fallback=True
        )
        uow.studies.assign(uid, None, at=T0, by=AssignedBy.ROUTER, explanation={"why": ("x",)})
        record = uow.studies.assign(uid, "rad-1", at=T0 + timedelta(minutes=5), by="operator")
        uow.commit()
    with store.uow_factory() as uow:
        history = uow.studies.assignments(uid)
    assert (record.assignee, record.fallback) == ("rad-1", False)
    assert [(a.radiologist_id, a.by, a.fallback) for a in history] == [
        (None, AssignedBy.ROUTER, False),
        ("rad-2", AssignedBy.ESCALATION, True),
        ("rad-1", AssignedBy.OPERATOR, False),
    ]
    assert history[0].explanation == {"why": ["x"]}  # as JSON gives it back


def test_a_conditional_move_happens_only_if_the_study_is_as_seen(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.commit()
    seen = store.get(uid)
    with store.uow_factory() as uow:
        assert uow.claims.move(
            uid,
            StudyEvent.ASSIGNED,
            expect_state=StudyState.PENDING,
            expect_assignee=None,
            at=T0,
            to_assignee="rad-1",
            by=AssignedBy.OPERATOR,
            explanation={"kind": "claim"},
            fallback=True,
            pinned_by="op",
        )
        uow.commit()
    moved = store.get(uid)
    assert (moved.state, moved.assignee, moved.assigned_at) == (StudyState.ASSIGNED, "rad-1", T0)
    assert (moved.fallback, moved.pinned_by, moved.version) == (True, "op", seen.version + 1)
    with store.uow_factory() as uow:
        assert not uow.claims.move(  # stale: it is no longer pending with nobody
            uid,
            StudyEvent.ASSIGNED,
            expect_state=seen.state,
            expect_assignee=seen.assignee,
            at=T0,
            to_assignee="rad-2",
        )
        assert not uow.claims.move(
            "1.2.404",
            StudyEvent.ASSIGNED,
            expect_state=StudyState.PENDING,
            expect_assignee=None,
            at=T0,
        )
        refused = r"^study 1\.2\.404: event 'finished'"
        with pytest.raises(IllegalTransition, match=refused):  # before any row is read
            uow.claims.move(
                "1.2.404",
                StudyEvent.FINISHED,
                expect_state=StudyState.PENDING,
                expect_assignee=None,
                at=T0,
            )
        later = T0 + timedelta(minutes=1)
        assert uow.claims.move(  # the same reader starts: no new history entry
            uid,
            StudyEvent.STARTED,
            expect_state=StudyState.ASSIGNED,
            expect_assignee="rad-1",
            at=later,
            to_assignee="rad-1",
        )
        assert uow.claims.move(
            uid,
            StudyEvent.RELEASED,
            expect_state=StudyState.IN_PROGRESS,
            expect_assignee="rad-1",
            at=later,
            to_assignee=None,
            released_by="rad-1",
        )
        assert uow.claims.unpin(uid) is None  # the release ended the pin
        uow.commit()
    with store.uow_factory() as uow:
        record = uow.studies.get(uid)
        history = [(a.radiologist_id, a.by, a.fallback) for a in uow.studies.assignments(uid)]
        assert uow.studies.releasers([uid, "1.2.404"]) == {uid: "rad-1"}
    assert (record.state, record.assignee, record.assigned_at) == (StudyState.PENDING, None, None)
    assert (record.started_at, record.released_by, record.pinned_by) == (later, "rad-1", None)
    assert record.version == seen.version + 3
    assert history == [("rad-1", AssignedBy.OPERATOR, True), (None, AssignedBy.OPERATOR, False)]


def test_unpin_and_notice_stamps_leave_the_version(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.claims.move(
            uid,
            StudyEvent.BECAME_STABLE,
            expect_state=StudyState.RECEIVING,
            expect_assignee=None,
            at=T0,
            to_assignee="rad-1",
            pinned_by="op",
        )
        uow.commit()
    version = store.get(uid).version
    with store.uow_factory() as uow:
        assert uow.claims.unpin(uid) == "op"
        assert uow.claims.unpin(uid) is None
        uow.claims.mark_unassigned_notice(uid, T0 + timedelta(minutes=3))
        uow.studies.mark_stable_again(uid, T0 + timedelta(minutes=4))
        uow.commit()
    record = store.get(uid)
    assert (record.pinned_by, record.unassigned_notice_at) == (None, T0 + timedelta(minutes=3))
    assert (record.stable_at, record.version) == (T0 + timedelta(minutes=4), version)


# -- queries ------------------------------------------------------------------------------


def test_due_for_stability_uses_the_site_ages_oldest_last_instance_first(store: Store) -> None:
    a = store.receive(site="chu-a", at=T0 + timedelta(seconds=5))
    b = store.receive(site="ch-b")
    c = store.receive(site="chu-a")
    ages = {"ch-b": 10.0}
    with store.uow_factory() as uow:
        assert uow.studies.due_for_stability(T0 + timedelta(seconds=11), 60, ages) == []
        due = uow.studies.due_for_stability(T0 + timedelta(seconds=12), 60, ages)
        assert [r.study_uid for r in due] == [b]
        due = uow.studies.due_for_stability(T0 + timedelta(seconds=70), 60, ages)
        assert [r.study_uid for r in due] == [b, c, a]
        assert uow.studies.due_for_stability(T0 + timedelta(seconds=12), 60, {}) == []
        uow.studies.move(c, StudyEvent.BECAME_STABLE, at=T0)
        due = uow.studies.due_for_stability(T0 + timedelta(seconds=70), 60, ages)
        assert [r.study_uid for r in due] == [b, a]


def test_complete_series_declared_or_quiet_and_the_next_quiet_moments(store: Store) -> None:
    declared = new_uid()  # a stroke CT: 2 of 2 declared images in, a second series arriving
    for n, (series, at) in enumerate([(1, 0), (1, 1), (2, 50)], 1):
        store.index.record(
            make_instance(
                declared,
                series_uid=f"{declared}.{series}",
                sop_instance_uid=f"{declared}.{series}.{n}",
                received_at=T0 + timedelta(seconds=at),
                declared_images=2 if series == 1 else 9,
            )
        )
    quiet = store.receive(site="ch-b", at=T0 + timedelta(seconds=40), per=1)  # ch-b: 10 s
    store.receive(at=T0 + timedelta(seconds=55), per=1)
    now = T0 + timedelta(seconds=56)
    with store.uow_factory() as uow:
        assert [r.study_uid for r in uow.studies.with_complete_series(now, 60, {})] == [declared]
        found = uow.studies.with_complete_series(now, 60, {}, series_age_s=1)
        assert [r.study_uid for r in found] == [declared, quiet]  # growing's last is 1 s old
        assert uow.studies.declared_complete_since(T0)
        assert not uow.studies.declared_complete_since(T0 + timedelta(seconds=1))
        moments = uow.studies.next_quiet_at(60, {"ch-b": 10.0}, series_age_s=5)
        # The ch-b study is quiet already (due for stability, not a complete series).
        assert [r.study_uid for r in uow.studies.due_for_stability(now, 60, {"ch-b": 10})] == [
            quiet
        ]
    second = timedelta(seconds=1)
    assert sorted(moments) == sorted(
        [
            T0 + 50 * second + 60 * second,  # declared: the study
            T0 + 1 * second + 5 * second,  # its series 1
            T0 + 50 * second + 5 * second,  # its series 2
            T0 + 41 * second + 10 * second,  # quiet: the study (site age 10 s)
            T0 + 41 * second + 5 * second,  # its series
            T0 + 56 * second + 60 * second,  # growing
            T0 + 56 * second + 5 * second,
        ]
    )


def test_grown_since_stable_finds_open_studies_quiet_again(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0 + timedelta(seconds=3))
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.studies.grown_since_stable(T0 + timedelta(minutes=5), 60, {}) == []
    store.index.record(make_instance(uid, received_at=T0 + timedelta(minutes=1)))
    with store.uow_factory() as uow:
        assert uow.studies.grown_since_stable(T0 + timedelta(seconds=90), 60, {}) == []
        grown = uow.studies.grown_since_stable(T0 + timedelta(minutes=2), 60, {})
        assert [(r.study_uid, r.instance_count, r.version) for r in grown] == [(uid, 3, 2)]


def test_open_studies_in_insertion_order_and_by_state_in_arrival_order(store: Store) -> None:
    late = store.receive(at=T0 + timedelta(minutes=10))
    early = store.receive(at=T0)
    middle = store.receive(at=T0 + timedelta(minutes=5))
    done = store.receive(at=T0)
    with store.uow_factory() as uow:
        for uid in (late, early, middle):
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.studies.move(
            done,
            StudyEvent.BECAME_STABLE,
            StudyEvent.ASSIGNED,
            StudyEvent.STARTED,
            StudyEvent.FINISHED,
            at=T0,
            report_ref="RPT-1",
        )
        uow.commit()
    with store.uow_factory() as uow:
        assert [r.study_uid for r in uow.studies.open_studies()] == [late, early, middle]
        assert [r.study_uid for r in uow.studies.by_state("pending")] == [early, middle, late]
        assert [r.study_uid for r in uow.studies.by_state(StudyState.DONE)] == [done]
        assert uow.studies.by_state(StudyState.RECEIVING) == []


def test_linked_studies_and_recent_readers_follow_the_patient_key(store: Store) -> None:
    here = store.receive(site="chu-a", at=T0 + timedelta(hours=1), patient_key="ins-1")
    same_site = store.receive(site="chu-a", at=T0, patient_key="ins-1")
    b_old = store.receive(site="ch-b", at=T0 - timedelta(hours=20), patient_key="ins-1")
    b_new = store.receive(site="ch-b", at=T0 + timedelta(minutes=30), patient_key="ins-1")
    c = store.receive(site="ch-c", at=T0 + timedelta(minutes=30), patient_key="ins-1")
    store.receive(site="ch-b", patient_key="ins-2")
    nobody = store.receive(site="ch-c")
    with store.uow_factory() as uow:
        for uid, who in ((same_site, "rad-1"), (b_old, "rad-3"), (b_new, "rad-2"), (c, "rad-2")):
            uow.studies.assign(uid, who, at=T0, by="router")
        uow.commit()
    with store.uow_factory() as uow:
        # Newest arrival first; the one stored last first among equal arrivals.
        assert [r.study_uid for r in uow.studies.linked(here)] == [c, b_new, b_old]
        assert [r.study_uid for r in uow.studies.linked(here, limit=1)] == [c]
        assert uow.studies.linked(nobody) == []
        assert uow.studies.recent_readers(here, T0 - timedelta(hours=12)) == ("rad-2", "rad-1")
        assert uow.studies.recent_readers(nobody, T0) == ()


def test_facts_gather_series_by_number(store: Store) -> None:
    uid = new_uid()
    for number, modality, description in [(3, "SR", ""), (None, "CT", "SCOUT"), (1, "CT", "AX")]:
        store.index.record(
            make_instance(
                uid,
                series_uid=f"{uid}.{number}",
                series_number=number,
                modality=modality,
                series_description=description,
                received_at=T0,
                body_part="HEAD",
                requested_priority="STAT",
            )
        )
    with store.uow_factory() as uow:
        facts = uow.studies.facts(uid)
    assert facts.modalities == frozenset({"CT", "SR"})
    assert facts.series_descriptions == ("AX", "SCOUT")
    assert (facts.body_part, facts.requested_priority, facts.site_id) == ("HEAD", "STAT", "chu-a")


# -- directory, roster, audit, outbox --------------------------------------------------------


def test_directory_and_roster(store: Store) -> None:
    with store.uow_factory() as uow:
        assert [s.id for s in uow.directory.sites()] == ["ch-b", "ch-c", "chu-a"]
        assert uow.directory.sites(include_inactive=True) == uow.directory.sites()
        assert [r.id for r in uow.directory.radiologists()] == ["rad-1", "rad-2", "rad-3", "rad-4"]
        assert uow.directory.radiologists()[0] == RADS[1]
        shifts = uow.roster.shifts_between(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
        assert [(s.radiologist_id, s.start) for s in shifts] == [("rad-1", T0), ("rad-2", T0)]
        assert uow.roster.shifts_between(T0 + timedelta(hours=12), T0 + timedelta(hours=13)) == []
        assert len(uow.roster.shifts_between(T0 - timedelta(days=1), T0 + timedelta(days=1))) == 3


def test_audit_lists_by_study_radiologist_and_actor_oldest_first(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.audit.append(at=T0 + timedelta(minutes=1), actor="rad-1", action="start", study_uid=uid)
        uow.audit.append(
            at=T0,
            actor="router",
            action="assign",
            study_uid=uid,
            radiologist_id="rad-1",
            origin="job",
            detail={"eligible": ("rad-1",), "n": 1},
        )
        uow.audit.append(at=T0, actor="router", action="hold", radiologist_id="rad-1")
        uow.commit()
    with store.uow_factory() as uow:
        events = uow.audit.for_study(uid)
        assert [e.action for e in events] == ["assign", "start"]
        assert (events[0].origin, events[0].detail) == ("job", {"eligible": ["rad-1"], "n": 1})
        assert [e.action for e in uow.audit.for_radiologist("rad-1")] == ["assign", "hold"]
        assert [e.action for e in uow.audit.for_actor("router")] == ["assign", "hold"]
        assert uow.audit.for_actor("nobody") == []
    with store.uow_factory() as uow, pytest.raises(Exception, match="not JSON serializable"):
        uow.audit.append(at=T0, actor="x", action="y", detail={"not json": object()})


def test_outbox_acknowledgement_and_escalation(store: Store) -> None:
    with store.uow_factory() as uow:
        stroke = uow.outbox.add("assigned", "{}", T0, study_uid="1.2.1", priority="stroke")
        routine = uow.outbox.add("assigned", "{}", T0, study_uid="1.2.2", priority="routine")
        later = uow.outbox.add("stroke_alert", "{}", T0 + timedelta(minutes=9), study_uid="1.2.1")
        uow.commit()
    with store.uow_factory() as uow:
        due = uow.outbox.unacknowledged(T0 + timedelta(minutes=5), ["stroke", "emergency"])
        assert [e.id for e in due] == [stroke]
        assert uow.outbox.mark_escalated(stroke, T0 + timedelta(minutes=5))
        assert not uow.outbox.mark_escalated(stroke, T0 + timedelta(minutes=6))
        assert uow.outbox.unacknowledged(T0 + timedelta(minutes=5), ["stroke"]) == []
        assert uow.outbox.acknowledge_study("1.2.1", T0 + timedelta(minutes=10), by="rad-1") == 2
        assert uow.outbox.acknowledge_study("1.2.1", T0 + timedelta(minutes=11), by="rad-1") == 0
        uow.outbox.acknowledge_one(routine, T0, by="receiver")
        uow.commit()
    with store.uow_factory() as uow:
        listed = uow.outbox.entries()
        assert [e.id for e in listed] == [later, routine, stroke]
        assert [e.state for e in listed] == ["acknowledged"] * 3
        assert listed[2].escalated_at == T0 + timedelta(minutes=5)
        assert (listed[1].acked_by, listed[1].priority) == ("receiver", "routine")
        assert [e.id for e in uow.outbox.entries(study_uid="1.2.1", limit=1)] == [later]
        assert len(uow.outbox.entries(open_only=True)) == 3
        assert uow.outbox.get(routine) == listed[1]
        assert uow.outbox.get(10**9) is None
        assert uow.outbox.resend(routine, T0)
        assert not uow.outbox.resend(10**9, T0)


def test_a_replaced_instance_counts_its_study_as_received_again(store: Store) -> None:
    uid = store.receive(per=1)
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)  # stamps stable_at
        uow.studies.assign(uid, "rad-1", at=T0, by="router")
        uow.studies.move(uid, StudyEvent.ASSIGNED, at=T0)
        uow.commit()
    later = T0 + timedelta(minutes=7)
    store.index.replace(
        make_instance(uid, series_uid=f"{uid}.1", sop_instance_uid=f"{uid}.1.1", received_at=later)
    )
    record = store.get(uid)
    assert (record.last_received_at, record.instance_count) == (later, 1)
    with store.uow_factory() as uow:
        [replaced] = uow.audit.for_study(uid)
        grown = uow.studies.grown_since_stable(later + timedelta(minutes=1), 60, {})
    assert (replaced.actor, replaced.action, replaced.radiologist_id) == (
        "gateway",
        "instance_replaced",
        "rad-1",
    )
    assert replaced.detail["sop_instance_uid"] == f"{uid}.1.1"
    assert [r.study_uid for r in grown] == [uid]


def test_outbox_leases_delivers_retries_and_gives_up(store: Store) -> None:
    with store.uow_factory() as uow:
        assert (uow.outbox.pending(), uow.outbox.next_due()) == (0, None)
        first = uow.outbox.add("assigned", '{"a": 1}', T0, study_uid="1.2.1", priority="urgent")
        second = uow.outbox.add("assigned", "{}", T0 + timedelta(seconds=5))
        later = uow.outbox.add("assigned", "{}", T0 + timedelta(minutes=5))
        uow.commit()
    lease = T0 + timedelta(seconds=30)
    with store.uow_factory() as uow:
        assert uow.outbox.due_count(T0 + timedelta(seconds=5)) == 2
        leased = uow.outbox.lease_due(T0 + timedelta(seconds=5), lease, limit=1)
        assert [(m.id, m.kind, m.body, m.attempts, m.study_uid) for m in leased] == [
            (first, "assigned", '{"a": 1}', 0, "1.2.1")
        ]
        again = uow.outbox.lease_due(T0 + timedelta(seconds=6), lease, limit=10)
        assert [m.id for m in again] == [second]  # the first is leased: skipped
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.outbox.due_count(T0 + timedelta(seconds=6)) == 2  # leased ones count
        assert uow.outbox.next_due() == lease  # both leased until then, the third later
        uow.outbox.delivered(first, T0 + timedelta(seconds=7))
        uow.outbox.failed(
            second, "HTTP 503 " + "x" * 300, T0 + timedelta(seconds=8), retry_at=lease
        )
        uow.outbox.failed(later, "refused", T0 + timedelta(seconds=9), retry_at=None)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.outbox.pending() == 1
        assert uow.outbox.next_due() == lease
        retried = uow.outbox.get(second)
        assert (retried.state, retried.attempts, len(retried.last_error or "")) == (
            "waiting",
            1,
            200,
        )
        assert uow.outbox.get(first).state == "delivered"
        assert uow.outbox.get(later).state == "given_up"
        assert [m.id for m in uow.outbox.lease_due(lease, lease, limit=5)] == [second]


def test_series_instance_paths_and_previews(store: Store) -> None:
    uid = new_uid()
    series = f"{uid}.7"
    for number in (3, 1, None, 2):  # arrival order differs from InstanceNumber order
        store.index.record(
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
    store.index.record(make_instance(uid, series_uid=f"{uid}.2", series_number=2, received_at=T0))
    with store.uow_factory() as uow:
        assert uow.studies.instance_paths(series) == ["s/1.dcm", "s/2.dcm", "s/3.dcm", "s/None.dcm"]
        assert uow.studies.instance_paths("1.2.404") == []
        listed = uow.studies.series(uid)
        assert [(s.series_uid, s.number, s.instance_count) for s in listed] == [
            (f"{uid}.2", 2, 1),
            (series, 7, 4),
        ]
        assert (listed[1].description, listed[1].study_uid) == ("AXIAL", uid)
        uow.studies.set_preview(series, "thumbnail", "old.jpg", T0)
        uow.studies.set_preview(series, "thumbnail", "new.jpg", T0 + timedelta(seconds=1))
        uow.studies.set_preview(series, "mid_slice", "mid.jpg", T0)
        uow.studies.set_preview(f"{uid}.2", "thumbnail", "two.jpg", T0)
        uow.studies.set_preview(uid, "montage", "montage.jpg", T0)
        with pytest.raises(NotFoundError):
            uow.studies.set_preview("1.2.404", "thumbnail", "x.jpg", T0)
        uow.commit()
    with store.uow_factory() as uow:
        previews = uow.studies.previews(uid)
    assert [(p.series_uid, p.kind, p.path) for p in previews] == [
        (None, "montage", "montage.jpg"),
        (f"{uid}.2", "thumbnail", "two.jpg"),
        (series, "mid_slice", "mid.jpg"),
        (series, "thumbnail", "new.jpg"),
    ]
    assert previews[3].created_at == T0 + timedelta(seconds=1)


def test_open_studies_without_previews_most_urgent_deadline_first(store: Store) -> None:
    late, soon, untriaged, shown, done = (store.receive() for _ in range(5))
    with store.uow_factory() as uow:
        for uid, minutes in ((late, 60), (soon, 20), (shown, 5), (done, 1)):
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
            uow.studies.set_triage(uid, ROUTINE, T0 + timedelta(minutes=minutes))
        uow.studies.move(untriaged, StudyEvent.BECAME_STABLE, at=T0)
        uow.studies.set_preview(shown, "montage", "m.jpg", T0)
        uow.studies.move(done, StudyEvent.ASSIGNED, StudyEvent.STARTED, StudyEvent.FINISHED, at=T0)
        assert [r.study_uid for r in uow.studies.open_without_previews()] == [soon, late]
        uow.rollback()
    with store.uow_factory() as uow:
        assert uow.studies.open_without_previews() == []  # nothing was kept
