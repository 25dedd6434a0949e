"""Concurrent `next`: two (and more) readers racing never get the same study."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from garde.dispatch.model import Priority, StudyState
from garde.services.refusals import ReadingRefusedError
from tests.integration.worklist.conftest import T0, Region

NOW = T0 + timedelta(minutes=5)


def _race(region: Region, readers: list[str], rounds: int) -> list[tuple[str, str]]:
    """Each reader calls `next` ``rounds`` times from its own thread, all released at once."""
    barrier = threading.Barrier(len(readers))
    taken: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(rid: str) -> None:
        barrier.wait()
        for _ in range(rounds):
            try:
                record = region.reading.next(rid, NOW)
            except ReadingRefusedError:
                return
            except BaseException as exc:
                errors.append(exc)
                return
            with lock:
                taken.append((rid, record.study_uid))

    threads = [threading.Thread(target=work, args=(rid,)) for rid in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return taken


def test_two_readers_racing_for_one_study_one_wins(region: Region) -> None:
    uid = region.study("h1", priority=Priority.STROKE)
    taken = _race(region, ["r1", "r2"], rounds=1)
    assert [u for _, u in taken] == [uid]  # exactly one got it
    winner = taken[0][0]
    assert region.state(uid) == (StudyState.IN_PROGRESS, winner)
    with region.uow() as uow:
        outcomes = Counter(
            (e.actor, e.detail["outcome"])
            for e in uow.audit.for_radiologist("r1") + uow.audit.for_radiologist("r2")
            if e.action == "next"
        )
    assert outcomes[(winner, "ok")] == 1
    assert sum(n for (_, outcome), n in outcomes.items() if outcome == "refused") == 1


def test_many_studies_are_each_given_exactly_once(region: Region) -> None:
    uids = {region.study("h1", priority=p) for p in list(Priority) * 3}
    taken = _race(region, ["r1", "r2"], rounds=len(uids))
    counts = Counter(u for _, u in taken)
    assert set(counts) == uids
    assert set(counts.values()) == {1}
    for rid, uid in taken:
        assert region.state(uid) == (StudyState.IN_PROGRESS, rid)
    with region.uow() as uow:
        for uid in uids:
            starts = [e for e in uow.audit.for_study(uid) if e.action == "next"]
            assert len(starts) == 1
