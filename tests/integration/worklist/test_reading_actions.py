"""Every reading action on a real store: happy path, refusals, one audit row each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from garde.dispatch.board import Board
from garde.dispatch.model import Priority, StudyState
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.services.snapshot import study_of
from garde.services.study_info import render_explanation
from garde.services.webhook import WebhookNotifier
from tests.integration.services.webhook_receiver import Receiver
from tests.integration.worklist.conftest import T0, Region

NOW = T0 + timedelta(minutes=5)


def _refused(region: Region, reason: Refusal, call, *args, **kwargs) -> None:
    before = region.audit_rows()
    with pytest.raises(ReadingRefusedError) as caught:
        call(*args, **kwargs)
    assert caught.value.reason is reason
    assert region.audit_rows() == before + 1  # the refusal is audited, once


def test_start_then_done_on_ones_own_study(region: Region) -> None:
    uid = region.study(assignee="r1")
    before = region.audit_rows()
    started = region.reading.start(uid, "r1", NOW, origin="test@host")
    assert started.state is StudyState.IN_PROGRESS
    assert started.started_at == NOW
    finished = region.reading.finish(uid, "r1", NOW + timedelta(minutes=9), "RIS-1")
    assert (finished.state, finished.report_ref) == (StudyState.DONE, "RIS-1")
    assert region.audit_rows() == before + 2
    with region.uow() as uow:
        events = uow.audit.for_study(uid)
    assert [(e.action, e.actor, e.origin) for e in events[-2:]] == [
        ("start", "r1", "test@host"),
        ("done", "r1", ""),
    ]


def test_start_refusals(region: Region) -> None:
    uid = region.study(assignee="r1")
    _refused(region, Refusal.NOT_YOURS, region.reading.start, uid, "r2", NOW)
    _refused(region, Refusal.UNKNOWN_STUDY, region.reading.start, "1.2.3.4", "r1", NOW)
    _refused(region, Refusal.UNKNOWN_RADIOLOGIST, region.reading.start, uid, "r9", NOW)
    _refused(region, Refusal.WRONG_STATE, region.reading.finish, uid, "r1", NOW)  # not started
    region.reading.start(uid, "r1", NOW)
    _refused(region, Refusal.WRONG_STATE, region.reading.start, uid, "r1", NOW)  # twice
    assert region.state(uid) == (StudyState.IN_PROGRESS, "r1")


def test_no_credential_for_the_hospital_is_refused(region: Region) -> None:
    stray = region.study("h2", assignee="r1")  # routed by hand to someone not credentialed
    _refused(region, Refusal.NO_CREDENTIAL, region.reading.start, stray, "r1", NOW)
    pending = region.study("h2")
    _refused(region, Refusal.NO_CREDENTIAL, region.reading.claim, pending, "r1", NOW)
    neuro = region.study("h2", skills=frozenset({"neuro"}))
    _refused(region, Refusal.NO_CREDENTIAL, region.reading.claim, neuro, "r3", NOW)  # no skill
    assert region.state(pending) == (StudyState.PENDING, None)


def test_claim_a_pending_study_and_anothers_queued_one(region: Region) -> None:
    pending = region.study("h2")
    claimed = region.reading.claim(pending, "r3", NOW)
    assert (claimed.state, claimed.assignee) == (StudyState.ASSIGNED, "r3")
    queued = region.study("h1", assignee="r1", deadline_min=15)
    # r1 is predicted to read it on time: taking it would not make it less late.
    _refused(region, Refusal.NOT_YOURS, region.reading.claim, queued, "r2", NOW)
    for _ in range(2):  # two strokes come in ahead of it in r1's queue: it will be late
        region.study("h1", priority=Priority.STROKE, assignee="r1")
    region.reading.claim(queued, "r2", NOW)  # late binding: not started yet
    assert region.state(queued) == (StudyState.ASSIGNED, "r2")
    with region.uow() as uow:
        history = uow.studies.assignments(queued)
        claim = [e for e in uow.audit.for_study(queued) if e.action == "claim"][-1]
    assert history[-1].explanation["kind"] == "claim"
    assert history[-1].explanation["previous"] == "r1"
    assert claim.detail["lateness_min"] == {"holder": 20.0, "claimer": 0.0}
    _refused(region, Refusal.WRONG_STATE, region.reading.claim, queued, "r2", NOW)  # already
    region.reading.start(queued, "r2", NOW)
    _refused(region, Refusal.WRONG_STATE, region.reading.claim, queued, "r1", NOW)  # being read
    _refused(region, Refusal.UNKNOWN_STUDY, region.reading.claim, "1.2.3", "r1", NOW)


def test_next_takes_the_most_urgent_study_one_may_read(region: Region) -> None:
    routine = region.study("h1", priority=Priority.ROUTINE, assignee="r1")
    stroke = region.study("h1", priority=Priority.STROKE, deadline_min=20)
    region.study("h2", priority=Priority.STROKE)  # r1 is not credentialed for h2
    first = region.reading.next("r1", NOW, origin="t")
    assert first.study_uid == stroke
    assert (first.state, first.assignee, first.started_at) == (StudyState.IN_PROGRESS, "r1", NOW)
    second = region.reading.next("r1", NOW)
    assert second.study_uid == routine
    _refused(region, Refusal.NOTHING_TO_READ, region.reading.next, "r1", NOW)
    with region.uow() as uow:
        mine = [e for e in uow.audit.for_radiologist("r1") if e.action == "next"]
    assert [e.detail["outcome"] for e in mine] == ["ok", "ok", "refused"]


def test_next_takes_a_colleagues_queued_study_it_would_read_sooner(region: Region) -> None:
    busy = region.study("h1", assignee="r2")
    region.reading.start(busy, "r2", NOW)  # r2 reads for 10 minutes
    stroke = region.study("h1", priority=Priority.STROKE, assignee="r2", deadline_min=20)
    taken = region.reading.next("r1", NOW, origin="t")  # r1 is free now: late binding
    assert taken.study_uid == stroke
    assert (taken.state, taken.assignee) == (StudyState.IN_PROGRESS, "r1")
    with region.uow() as uow:
        [event] = [e for e in uow.audit.for_study(stroke) if e.action == "next"]
        history = uow.studies.assignments(stroke)
        record = uow.studies.get(stroke)
    assert record is not None
    assert event.detail["from"] == "r2"
    why = history[-1].explanation
    assert (why["kind"], why["previous"], why["margin_min"]) == ("late_binding", "r2", 0)
    # r1 is free now; r2, busy with a 10-minute read, was predicted to finish it later.
    assert why["finish_here"] < why["finish_there"]
    text = render_explanation(record, history[-1])  # `garde explain`
    assert "taken by r1 from r2" in text and "(late binding)" in text


def test_next_leaves_a_colleague_the_study_they_read_as_soon(region: Region) -> None:
    stroke = region.study("h1", priority=Priority.STROKE, assignee="r2", deadline_min=20)
    # r2 is free and reads it now: r1 would not read it sooner.
    _refused(region, Refusal.NOTHING_TO_READ, region.reading.next, "r1", NOW)
    assert region.state(stroke) == (StudyState.ASSIGNED, "r2")


def test_release_goes_to_someone_else_never_back(region: Region) -> None:
    uid = region.study("h1", assignee="r1", skills=frozenset({"neuro"}))
    released = region.reading.release(uid, "r1", NOW, "called to the ER")
    assert released.radiologist_id == "r2"  # r1 excluded; r3 has no h1 credential
    assert region.state(uid) == (StudyState.ASSIGNED, "r2")
    region.reading.start(uid, "r2", NOW)
    again = region.reading.release(uid, "r2", NOW, "needs a neuro second look")
    assert again.radiologist_id == "r1"  # not r2, who just gave it back
    with region.uow() as uow:
        events = uow.audit.for_study(uid)
        history = uow.studies.assignments(uid)
    releases = [e for e in events if e.action == "release"]
    assert [e.detail["reason"] for e in releases] == [
        "called to the ER",
        "needs a neuro second look",
    ]
    assert history[-1].explanation["chosen"] == "r1"
    assert "r2" in history[-1].explanation["excluded"]["excluded"]


def test_release_with_nobody_else_leaves_it_pending_and_flagged(region: Region) -> None:
    uid = region.study("h2", assignee="r3", skills=frozenset({"body", "paediatric"}))
    released = region.reading.release(uid, "r3", NOW, "not my field")
    assert released.radiologist_id is None
    assert region.state(uid) == (StudyState.PENDING, None)
    _refused(region, Refusal.NOT_YOURS, region.reading.release, uid, "r3", NOW, "again")


def test_release_refusals(region: Region) -> None:
    uid = region.study("h1", assignee="r1")
    _refused(region, Refusal.NOT_YOURS, region.reading.release, uid, "r2", NOW, "x")
    _refused(region, Refusal.UNKNOWN_STUDY, region.reading.release, "9.9", "r1", NOW, "x")
    with pytest.raises(ValueError, match="reason"):
        region.reading.release(uid, "r1", NOW, "  ")


def test_a_claim_from_anothers_queue_tells_both_readers(region: Region) -> None:
    with Receiver() as receiver:
        notifier = WebhookNotifier(receiver.url, region.uow, backoff_s=0.01)
        notifier.start_delivery()
        reading = ReadingService(region.uow, Board(), notifier=notifier)
        queued = region.study("h1", priority=Priority.EMERGENCY, assignee="r1", deadline_min=15)
        region.study("h1", priority=Priority.STROKE, assignee="r1", deadline_min=10)
        reading.claim(queued, "r2", NOW)  # r1 reads the stroke first: r2 is sooner
        notifier.close()
    sent = {b["kind"]: b["payload"] for b in receiver.accepted}
    assert sent["assigned"]["radiologist_id"] == "r2"
    assert sent["withdrawn"] == {
        "study_uid": queued,
        "site_id": "h1",
        "priority": "emergency",
        "radiologist_id": "r1",
        "taken_by": "r2",
        "deadline": (T0 + timedelta(minutes=15)).isoformat(),
    }


class _RacedBoard(Board):
    """A live board whose routing lets another process take the study meanwhile."""

    def __init__(self, region: Region, uid: str) -> None:
        super().__init__()
        self.region, self.uid, self.raced = region, uid, False

    def evaluate(self, study, now, exclude=frozenset()):  # type: ignore[no-untyped-def]
        if not self.raced:  # an operator's hand assignment commits while the release routes
            self.raced = True
            with self.region.uow() as uow:
                uow.studies.assign(self.uid, "r2", at=now, by="operator", explanation={})
                uow.commit()
        return super().evaluate(study, now, exclude)


def test_a_release_that_loses_the_race_leaves_the_live_board_as_it_was(region: Region) -> None:
    if region.session_factory.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): this race needs PostgreSQL")
    uid = region.study("h1", assignee="r1")
    board = _RacedBoard(region, uid)
    with region.uow() as uow:
        board.set_roster(
            uow.directory.radiologists(), uow.roster.shifts_between(T0, T0 + timedelta(hours=1))
        )
        record = uow.studies.get(uid)
    assert record is not None
    study = study_of(record)
    assert study is not None
    board.assign(study, "r1", NOW)
    reading = ReadingService(region.uow, board)
    with pytest.raises(ReadingRefusedError) as caught:
        reading.release(uid, "r1", NOW, "called to the ER")
    assert caught.value.reason is Refusal.LOST_RACE
    # The store says r2 (the operator won); the live board still has it with r1 until the
    # next reconcile, as before the release: not taken off everyone's queue.
    assert region.state(uid) == (StudyState.ASSIGNED, "r2")
    assert board.owner(uid) == "r1"
