"""ReadingService on the memory store: next, start, finish, release, and their refusals."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.board import Board
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.simulation.baselines import PullEdf
from tests.unit.services.memory_region import T0, region

if TYPE_CHECKING:
    from garde.store.memory import MemoryStore

LATER = T0 + timedelta(minutes=5)


def test_next_takes_the_most_urgent_readable_study_and_starts_it() -> None:
    r = region()
    routine = r.receive("scanner abdominal", site="h02", at=T0)
    emergency = r.receive(
        "angioscanner thoracique embolie", site="h02", at=T0 + timedelta(minutes=1)
    )
    r.dispatch.sweep(LATER)
    owner = r.study(emergency).assignee
    record = r.reading.next(owner, LATER + timedelta(minutes=1))
    assert record.study_uid == emergency
    assert (record.state, record.started_at) == (
        StudyState.IN_PROGRESS,
        LATER + timedelta(minutes=1),
    )
    assert r.dispatch.board.is_started(emergency)  # the board follows the committed move
    assert r.actions(emergency)[-1] == ("next", "ok")
    assert r.study(routine).state is StudyState.ASSIGNED


def test_start_and_finish_only_by_the_assignee_each_audited_once() -> None:
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    other = next(rid for rid in ("r02", "r03") if rid != owner)
    with pytest.raises(ReadingRefusedError, match="not in your worklist") as refused:
        r.reading.start(uid, other, LATER)
    assert refused.value.reason is Refusal.NOT_YOURS
    with pytest.raises(ReadingRefusedError, match="not started yet"):
        r.reading.finish(uid, owner, LATER)
    r.reading.start(uid, owner, LATER)
    done = r.reading.finish(uid, owner, LATER + timedelta(minutes=12), "RPT-1")
    assert (done.state, done.report_ref) == (StudyState.DONE, "RPT-1")
    assert uid not in r.dispatch.board
    assert r.actions(uid) == [
        ("assign", None),
        ("start", "refused"),
        ("done", "refused"),
        ("start", "ok"),
        ("done", "ok"),
    ]


def test_release_routes_to_another_reader_never_back() -> None:
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    released = r.reading.release(uid, owner, LATER, reason="conflict of interest")
    assert released.radiologist_id not in {None, owner}
    record = r.study(uid)
    assert (record.state, record.assignee) == (StudyState.ASSIGNED, released.radiologist_id)
    assert record.released_by == owner
    assert r.dispatch.board.owner(uid) == released.radiologist_id
    # The releaser is barred from it afterwards: their `next` finds nothing to read.
    with pytest.raises(ReadingRefusedError) as nothing:
        r.reading.next(owner, LATER + timedelta(minutes=1))
    assert nothing.value.reason is Refusal.NOTHING_TO_READ


def test_reading_alongside_a_dispatch_notifies_and_routes_as_it_does() -> None:
    """The CLI, the demo and the simulator build their reading actions this one way."""
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    sent = len(r.notifier.sent)
    released = r.reading.release(uid, owner, LATER, reason="conflict of interest")
    told = [(kind, p["radiologist_id"]) for kind, p in r.notifier.sent[sent:] if kind == "assigned"]
    assert told == [("assigned", released.radiologist_id)]  # the dispatch's notifier
    r.dispatch.routing = PullEdf()  # a baseline behind the same services (the simulator)
    reading = ReadingService.alongside(r.dispatch)
    assert (reading.routing, reading.lock, reading.policy) == (
        r.dispatch.routing,
        r.dispatch.lock,
        r.dispatch.policy,
    )


def test_a_lost_race_is_refused_and_leaves_the_store_and_board_as_they_were() -> None:
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    seen = r.study(uid)
    with r.store.uow_factory() as uow:  # another process starts it meanwhile
        assert uow.claims.move(
            uid,
            StudyEvent.STARTED,
            expect_state=StudyState.ASSIGNED,
            expect_assignee=owner,
            at=LATER,
        )
        uow.commit()
    assert r.study(uid).version == seen.version + 1
    with pytest.raises(ReadingRefusedError) as refused:
        r.reading.start(uid, owner, LATER)  # the lifecycle refuses a second start
    assert refused.value.reason is Refusal.WRONG_STATE
    assert r.dispatch.board.owner(uid) == owner


def test_a_night_of_studies_runs_through_the_services() -> None:
    r = region()
    uids = [
        r.receive(desc, site=site, at=T0 + timedelta(minutes=3 * n))
        for n, (desc, site) in enumerate(
            [("scanner abdominal", "h02"), ("alerte thrombolyse", "h01"), ("tdm thorax", "h01")]
            * 10
        )
    ]
    now = T0
    for _ in range(150):  # a sweep a minute, readers pulling when free, reading in a minute
        now += timedelta(minutes=1)
        r.dispatch.sweep(now)
        for reader in ("r01", "r02", "r03", "r09"):
            current = [s for s in r.dispatch.board.studies() if r.dispatch.board.is_started(s.uid)]
            mine = [s for s in current if r.dispatch.board.owner(s.uid) == reader]
            if mine:
                r.reading.finish(mine[0].uid, reader, now)
                continue
            with contextlib.suppress(ReadingRefusedError):
                r.reading.next(reader, now)
    assert {r.study(uid).state for uid in uids} == {StudyState.DONE}
    assert len(r.dispatch.board) == 0
    for uid in uids:  # each read by whom it was assigned to or who pulled it
        assert r.actions(uid)[-1] == ("done", "ok")


class _RacedBoard(Board):
    """A live board whose routing waits, the first time, for an operator's hand
    assignment of ``uid`` committed on another thread (a real concurrent writer)."""

    def __init__(self, store: MemoryStore, uid: str, to: str) -> None:
        super().__init__()
        self.store, self.uid, self.to = store, uid, to
        self.raced: threading.Thread | None = None

    def evaluate(self, study, now, exclude=frozenset()):  # type: ignore[no-untyped-def]
        if self.raced is None:

            def operator() -> None:
                with self.store.uow_factory() as uow:
                    uow.studies.assign(self.uid, self.to, at=now, by="operator")
                    uow.commit()

            self.raced = threading.Thread(target=operator)
            self.raced.start()
            self.raced.join(timeout=30)
        return super().evaluate(study, now, exclude)


def test_a_release_that_loses_the_race_to_another_thread_leaves_the_live_board_as_it_was() -> None:
    """Issue 16 item 7: the board changes only once the conditional move has committed.
    Taking the study off the live board before routing (as release once did) leaves it
    on nobody's queue here, although the store gives it to the operator's pick."""
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    other = next(rid for rid in ("r02", "r03") if rid != owner)
    board = _RacedBoard(r.store, uid, other)
    with r.store.uow_factory() as uow:
        board.set_roster(
            uow.directory.radiologists(), uow.roster.shifts_between(T0, T0 + timedelta(hours=1))
        )
    study = r.dispatch.board.get(uid)
    assert study is not None
    board.assign(study, owner, LATER)
    reading = ReadingService(r.store.uow_factory, board)
    with pytest.raises(ReadingRefusedError) as lost:
        reading.release(uid, owner, LATER, reason="called to the ER")
    assert board.raced is not None
    assert not board.raced.is_alive()
    assert lost.value.reason is Refusal.LOST_RACE
    assert (r.study(uid).state, r.study(uid).assignee) == (StudyState.ASSIGNED, other)
    assert board.owner(uid) == owner  # as before the release, until the next reconcile
