"""The memory store shows a commit whole or not at all to a query on another thread, as a
SQL reader sees a transaction (no lock-free reader catches half of a commit)."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import InstanceReceived, Site, StudyState
from garde.store.memory import MemoryStore
from tests.store_fixtures import make_instance

T0 = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
PAIRS = 150


def _instance(uid: str) -> InstanceReceived:
    return make_instance(uid, sop_instance_uid=f"{uid}.1.1", site_id="h01", received_at=T0)


def test_a_query_never_sees_half_of_a_commit() -> None:
    store = MemoryStore([Site("h01", "H01", frozenset({"H01"}))])
    pairs = [(f"1.2.{n}.1", f"1.2.{n}.2") for n in range(PAIRS)]
    for pair in pairs:
        for uid in pair:
            store.index.record(_instance(uid))
    seen: set[int] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            with store.uow_factory() as uow:
                seen.add(len(uow.studies.by_state(StudyState.PENDING)) % 2)

    reader = threading.Thread(target=read)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave as often as the interpreter lets them
    try:
        reader.start()
        for first, second in pairs:
            with store.uow_factory() as uow:
                uow.studies.move(first, StudyEvent.BECAME_STABLE, at=T0)
                uow.studies.move(second, StudyEvent.BECAME_STABLE, at=T0)
                uow.commit()
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(switch)
    assert seen <= {0}  # always both studies of a pair, never one
