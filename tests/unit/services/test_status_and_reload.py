"""`garde status` and the reload's re-dispatch on the memory store: the night's queues,
the studies at risk with the core's reason, and the queued work a reader may no longer
read moved on after a credential is taken away."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.config.loader import example_path, load_settings
from garde.dispatch.model import StudyState
from garde.services.clock import FrozenClock
from garde.services.handover import redispatch_ineligible
from garde.services.status import night_status
from tests.unit.services.memory_region import READERS, T0, region

if TYPE_CHECKING:
    from garde.config.model import Settings
    from garde.services.dispatcher import DispatchService
    from garde.store.memory import MemoryStore, MemoryUnitOfWork

SETTINGS = load_settings(example_path())
LATER = T0 + timedelta(minutes=5)


@dataclass
class _Platform:
    """A `DispatchingPlatform` over a memory region."""

    store: MemoryStore
    dispatch: DispatchService
    settings: Settings = SETTINGS
    clock: FrozenClock = dataclasses.field(default_factory=lambda: FrozenClock(LATER))

    def uow(self) -> MemoryUnitOfWork:
        return self.store.uow_factory()

    def sync_directory(self) -> None:  # the region's directory is already stored
        return None


def test_status_lists_each_desk_and_a_study_nobody_may_read_as_at_risk() -> None:
    r = region(uncovered_routine_delay=timedelta(hours=8))
    emergency = r.receive("angioscanner thoracique embolie", site="h02")
    held = r.receive("IRM du genou", site="h09", modality="MR")  # nobody: waits for cover
    r.dispatch.sweep(LATER)
    status = night_status(_Platform(r.store, r.dispatch), LATER)
    owner = r.study(emergency).assignee
    desks = {q.radiologist_id: (q.on_shift, q.queued) for q in status.queues}
    assert desks[owner] == (True, 1)
    assert {r.id for r in READERS} <= set(desks)
    assert [(a.study_uid, a.reason) for a in status.at_risk] == [(held, "no reader")]
    assert status.waiting == 1
    with r.store.uow_factory() as uow:
        assert [e.action for e in uow.audit.for_actor("operator")] == ["view_status"]


def test_a_reload_that_takes_a_credential_away_moves_the_queued_work_on() -> None:
    r = region()
    uids = [r.receive(f"scanner abdominal {n}", site="h01") for n in range(3)]
    r.dispatch.sweep(LATER)
    by_r01 = {u for u in uids if r.study(u).assignee == "r01"}
    assert by_r01
    r01 = next(x for x in READERS if x.id == "r01")
    with r.store.uow_factory() as uow:  # r01 no longer credentialed for h01
        uow.directory.sync_radiologists(
            [dataclasses.replace(r01, sites=frozenset({"h02"})) if x is r01 else x for x in READERS]
        )
        uow.commit()
    r.dispatch.refresh_roster(LATER, force=True)
    moved = redispatch_ineligible(r.dispatch, LATER)
    assert set(moved) == by_r01
    for uid, to in moved.items():
        assert to != "r01"
        assert (r.study(uid).state, r.study(uid).assignee) == (StudyState.ASSIGNED, to)
        assert r.actions(uid)[-1] == ("reroute", None)
    assert redispatch_ineligible(r.dispatch, LATER) == {}  # nothing left to move
