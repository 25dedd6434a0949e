"""The night's jobs on the memory store: shift handover and the SLA watch's escalation."""

from __future__ import annotations

from datetime import timedelta

from garde.dispatch.model import Shift, StudyState
from garde.dispatch.sla import EscalationTier
from garde.services.escalation import escalate_overdue
from garde.services.handover import hand_over
from tests.unit.services.memory_region import NIGHT, SHIFTS, T0, region

SHORT_SHIFT = T0 + timedelta(minutes=30)


def test_handover_moves_the_unstarted_queue_of_a_reader_going_off_shift() -> None:
    shifts = tuple(
        Shift("r02", NIGHT[0], SHORT_SHIFT) if s.radiologist_id == "r02" else s for s in SHIFTS
    )
    r = region(shifts=shifts)
    uids = [
        r.receive(f"angioscanner thoracique embolie {n}", site="h02", at=T0 + timedelta(minutes=n))
        for n in range(4)
    ]
    r.dispatch.sweep(T0 + timedelta(minutes=10))
    held_by_r02 = {uid for uid in uids if r.study(uid).assignee == "r02"}
    assert held_by_r02  # the router shares the chest work between r02 and r03
    assert hand_over(r.dispatch, SHORT_SHIFT - timedelta(minutes=1)) == {}  # still on shift
    moved = hand_over(r.dispatch, SHORT_SHIFT)
    assert set(moved) == held_by_r02
    assert set(moved.values()) == {"r03"}  # the only other chest reader at h02
    for uid in held_by_r02:
        record = r.study(uid)
        assert (record.state, record.assignee) == (StudyState.ASSIGNED, "r03")
        assert r.dispatch.board.owner(uid) == "r03"
        assert r.actions(uid)[-1] == ("handover", None)


def test_the_sla_watch_escalates_each_tier_once() -> None:
    r = region()
    uid = r.receive("angioscanner thoracique embolie", site="h02")  # emergency: 60 min
    r.dispatch.sweep(T0 + timedelta(minutes=2))
    arrived = r.study(uid).first_received_at
    assert escalate_overdue(r.dispatch, arrived + timedelta(minutes=29)) == []
    [alert] = escalate_overdue(r.dispatch, arrived + timedelta(minutes=30))
    assert (alert.tier, alert.outcome) == (EscalationTier.ALERT, "notified")
    assert escalate_overdue(r.dispatch, arrived + timedelta(minutes=31)) == []  # once
    assert r.study(uid).escalation_tier == 1
    assert r.notifier.kinds()[-1] == "escalation_alert"
    [late] = escalate_overdue(r.dispatch, arrived + timedelta(minutes=45))
    assert late.tier is EscalationTier.REASSIGN
    record = r.study(uid)
    assert record.escalation_tier == 2
    assert record.assignee == (late.to_radiologist or late.from_radiologist)
    assert r.dispatch.board.owner(uid) == record.assignee
