"""NotificationService.ack and the night watch on the memory store: who may silence a
study's alerts, and what escalates when nobody does (the core's rules applied)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from garde.services.identity import Identity, Role
from garde.services.night_watch import NightWatch, escalate_unacknowledged, remind_unassigned
from garde.services.notifications import NotificationService
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.store.memory import MemoryStore
from tests.store_fixtures import make_instance
from tests.unit.services.memory_region import READERS, SITES, T0, Region, region

LATER = T0 + timedelta(minutes=5)
WATCH = NightWatch(
    medical_director="r00",
    unassigned_repeat=timedelta(minutes=10),
    ack_timeout=timedelta(minutes=5),
)


def _stroke(r: Region) -> tuple[str, str]:
    """A stroke CT dispatched to its reader; (study, reader)."""
    uid = r.receive("scanner cerebral alerte thrombolyse", site="h01", images=2)
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    assert owner is not None
    return uid, owner


def _alert(store: MemoryStore, uid: str, kind: str = "assigned") -> int:
    """A stroke notification of ``uid`` kept in the outbox at ``LATER``."""
    with store.uow_factory() as uow:
        entry = uow.outbox.add(
            kind, json.dumps({"payload": {}}), LATER, study_uid=uid, priority="stroke"
        )
        uow.commit()
    return entry


def test_the_reader_or_an_operator_may_acknowledge_another_reader_may_not() -> None:
    r = region()
    uid, owner = _stroke(r)
    _alert(r.store, uid)
    service = NotificationService(r.store.uow_factory)
    other = next(rid for rid in ("r02", "r03") if rid != owner)
    with pytest.raises(ReadingRefusedError, match="not yours to acknowledge") as refused:
        service.ack(uid, by=Identity(other, Role.RADIOLOGIST), now=LATER, origin="cli")
    assert refused.value.reason is Refusal.NOT_YOURS
    assert service.ack(uid, by=Identity(owner, Role.RADIOLOGIST), now=LATER, origin="cli") == 1
    assert service.ack(uid, by=Identity("op", Role.OPERATOR), now=LATER, origin="cli") == 0
    with r.store.uow_factory() as uow:
        outcomes = [e.detail["outcome"] for e in uow.audit.for_study(uid) if e.action == "ack"]
    assert outcomes == ["refused", "ok", "ok"]


def test_a_supervisor_may_acknowledge_a_study_that_is_not_theirs() -> None:
    supervisor = dataclasses.replace(READERS[2], id="s01", supervisor=True)
    store = MemoryStore(SITES, (*READERS, supervisor))
    uid = "1.2.826.0.1.7"
    store.index.record(
        make_instance(uid, sop_instance_uid=f"{uid}.1.1", site_id="h01", received_at=T0)
    )
    _alert(store, uid)
    service = NotificationService(store.uow_factory)
    with pytest.raises(ReadingRefusedError, match="it is nobody's"):
        service.ack(uid, by=Identity("r02", Role.RADIOLOGIST), now=LATER, origin="cli")
    assert service.ack(uid, by=Identity("s01", Role.RADIOLOGIST), now=LATER, origin="cli") == 1


def test_an_unanswered_stroke_alert_escalates_once_and_an_answered_one_never() -> None:
    r = region()
    uid, _ = _stroke(r)
    _alert(r.store, uid)
    too_soon = LATER + WATCH.ack_timeout - timedelta(seconds=1)
    assert escalate_unacknowledged(r.dispatch, WATCH, too_soon) == 0
    late = LATER + WATCH.ack_timeout + timedelta(seconds=1)
    assert escalate_unacknowledged(r.dispatch, WATCH, late) == 1
    assert escalate_unacknowledged(r.dispatch, WATCH, late) == 0  # once
    (kind, payload) = r.notifier.sent[-1]
    # No supervisor on shift in this region: straight to the medical director.
    assert (kind, payload["tier"], payload["recipients"]) == (
        "unacknowledged",
        "medical_director",
        ["r00"],
    )
    answered, _ = _stroke(r)
    _alert(r.store, answered)
    NotificationService(r.store.uow_factory).ack(
        answered, by=Identity("op", Role.OPERATOR), now=LATER, origin="cli"
    )
    assert escalate_unacknowledged(r.dispatch, WATCH, late) == 0


def test_an_alert_about_a_study_already_being_read_is_moot() -> None:
    r = region()
    uid, owner = _stroke(r)
    _alert(r.store, uid)
    r.reading.start(uid, owner, LATER)
    assert escalate_unacknowledged(r.dispatch, WATCH, LATER + timedelta(hours=1)) == 0
    with r.store.uow_factory() as uow:
        (entry,) = uow.outbox.entries(study_uid=uid)
    assert entry.acked_by == "study taken"


def test_a_study_nobody_may_read_is_announced_at_once_then_again_when_due() -> None:
    r = region(shifts=())  # nobody on shift, no fallback on call, no medical director
    uid = r.receive("angioscanner thoracique embolie", site="h02")
    r.dispatch.sweep(LATER)
    assert (r.study(uid).assignee, r.notifier.kinds().count("unassigned")) == (None, 1)
    assert remind_unassigned(r.dispatch, WATCH, LATER + timedelta(minutes=9)) == 0
    assert remind_unassigned(r.dispatch, WATCH, LATER + WATCH.unassigned_repeat) == 1
    kind, payload = r.notifier.sent[-1]
    assert (kind, payload["study_uid"], payload["repeat"]) == ("unassigned", uid, 1)
