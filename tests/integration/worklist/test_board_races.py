"""The live board follows the store in commit order when reading actions race.

Each test holds one action at the moment its move has committed and the board is about
to follow, runs a second action on another thread, and lets the first go on once the
second has finished or is waiting for the board's lock. Before the lock spanned the move
and the board's update, the second action's board update could land first and the first
one's then overwrote it: the board said "queued" for a study the store had in progress
(or the reverse) until the next reconcile.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self

import pytest

from garde.dispatch.board import Board
from garde.dispatch.model import StudyState
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.services.snapshot import study_of
from tests.integration.worklist.conftest import T0, Region

if TYPE_CHECKING:
    from collections.abc import Callable

NOW = T0 + timedelta(minutes=5)


class _WatchedLock:
    """A re-entrant lock that says when a second thread has to wait for it."""

    def __init__(self, waiting: threading.Event) -> None:
        self._lock = threading.RLock()
        self._waiting = waiting

    def __enter__(self) -> Self:
        if not self._lock.acquire(blocking=False):
            self._waiting.set()
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class _Interrupted(Board):
    """A live board that, the first time ``method`` is called, runs ``meanwhile`` on
    another thread and goes on once it has finished or waits for the board's lock."""

    def __init__(self, method: str, go_on: threading.Event) -> None:
        super().__init__()
        self.method, self.go_on = method, go_on
        self.meanwhile: Callable[[], Any] | None = None
        self.outcome: list[Any] = []
        self.thread: threading.Thread | None = None

    def _interrupt(self) -> None:
        if self.meanwhile is None or self.thread is not None:
            return
        call = self.meanwhile

        def run() -> None:
            try:
                self.outcome.append(call())
            except ReadingRefusedError as exc:
                self.outcome.append(exc)
            finally:
                self.go_on.set()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.go_on.wait(timeout=60)  # safety only: it is set at once or at the end

    def release(self, study_uid: str) -> Any:
        if self.method == "release":
            self._interrupt()
        return super().release(study_uid)

    def start(self, study_uid: str, now: Any) -> None:
        if self.method == "start":
            self._interrupt()
        super().start(study_uid, now)


def _live(region: Region, method: str, holder: str) -> tuple[ReadingService, _Interrupted, str]:
    """A reading service over a live board holding one study of ``holder``'s."""
    go_on = threading.Event()
    board = _Interrupted(method, go_on)
    uid = region.study("h1", assignee=holder)
    with region.uow() as uow:
        board.set_roster(
            uow.directory.radiologists(), uow.roster.shifts_between(T0, T0 + timedelta(hours=1))
        )
        record = uow.studies.get(uid)
    assert record is not None
    study = study_of(record)
    assert study is not None
    board.assign(study, holder, NOW)
    reading = ReadingService(region.uow, board, lock=_WatchedLock(go_on))  # type: ignore[arg-type]
    return reading, board, uid


def _settled(board: _Interrupted) -> None:
    assert board.thread is not None
    board.thread.join()


def test_a_release_raced_by_the_new_readers_start_leaves_the_board_started(
    region: Region,
) -> None:
    reading, board, uid = _live(region, "release", holder="r1")
    board.meanwhile = lambda: reading.start(uid, "r2", NOW)  # r2 opens it at once
    released = reading.release(uid, "r1", NOW, "called to the ER")
    _settled(board)
    assert released.radiologist_id == "r2"
    assert region.state(uid) == (StudyState.IN_PROGRESS, "r2")
    assert (board.owner(uid), board.is_started(uid)) == ("r2", True)


def test_a_start_raced_by_a_release_leaves_the_board_with_the_new_reader_queued(
    region: Region,
) -> None:
    reading, board, uid = _live(region, "start", holder="r1")
    board.meanwhile = lambda: reading.release(uid, "r1", NOW, "wrong patient opened")
    reading.start(uid, "r1", NOW)
    _settled(board)
    assert region.state(uid) == (StudyState.ASSIGNED, "r2")
    assert (board.owner(uid), board.is_started(uid)) == ("r2", False)


def test_two_concurrent_releases_move_it_once_and_the_board_agrees(region: Region) -> None:
    reading, board, uid = _live(region, "release", holder="r1")
    board.meanwhile = lambda: reading.release(uid, "r1", NOW, "double click")
    reading.release(uid, "r1", NOW, "double click")
    _settled(board)
    (second,) = board.outcome
    assert isinstance(second, ReadingRefusedError)
    assert second.reason is Refusal.NOT_YOURS  # the first one's move is what it saw
    assert region.state(uid) == (StudyState.ASSIGNED, "r2")
    assert (board.owner(uid), board.is_started(uid)) == ("r2", False)


@pytest.fixture(autouse=True)
def _sqlite_file_or_postgresql(region: Region) -> None:
    """On a real database (a SQLite file, PostgreSQL): never an in-memory one."""
    url = str(region.session_factory.kw["bind"].url)
    assert ":memory:" not in url
