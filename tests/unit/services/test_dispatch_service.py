"""DispatchService on the memory store: sweep, dispatch, hold and broaden, restore."""

from __future__ import annotations

from datetime import timedelta

from garde.dispatch.board import Board
from garde.dispatch.model import Priority, StudyState
from tests.unit.services.memory_region import STABLE_AGE_S, T0, region

STABLE = timedelta(seconds=STABLE_AGE_S)


def test_a_stable_study_is_triaged_routed_stored_and_notified() -> None:
    r = region()
    uid = r.receive("angioscanner thoracique embolie", site="h02")
    assert r.dispatch.sweep(T0 + timedelta(seconds=30)) == []  # not quiet yet
    [decision] = r.dispatch.sweep(T0 + timedelta(seconds=2) + STABLE)
    record = r.study(uid)
    assert record.state is StudyState.ASSIGNED
    assert record.priority is Priority.EMERGENCY
    assert record.skills == frozenset({"chest"})
    assert record.assignee == decision.radiologist_id in {"r02", "r03"}
    assert record.deadline == record.first_received_at + timedelta(minutes=60)
    assert r.dispatch.board.owner(uid) == record.assignee  # the board follows the store
    assert r.actions(uid) == [("assign", None)]
    assert r.notifier.sent[-1] == (
        "assigned",
        {
            "study_uid": uid,
            "site_id": "h02",
            "priority": "emergency",
            "radiologist_id": record.assignee,
            "deadline": record.deadline.isoformat(),
            "fallback": False,
        },
    )
    assert r.dispatch.sweep(T0 + timedelta(minutes=10)) == []  # dispatched once


def test_a_stroke_goes_at_its_first_complete_series() -> None:
    r = region()
    uid = r.receive("alerte thrombolyse", images=4, declared=4)
    routine = r.receive("genou", images=4, declared=4)
    [decision] = r.dispatch.sweep(T0 + timedelta(seconds=4))  # the study is still arriving
    assert decision.study_uid == uid
    assert decision.radiologist_id == "r01"  # the only neuro reader
    assert r.study(uid).state is StudyState.ASSIGNED
    assert r.study(routine).state is StudyState.RECEIVING  # waits for the whole study


def test_work_nobody_may_read_waits_then_goes_to_the_fallback_pool() -> None:
    r = region(uncovered_routine_delay=timedelta(minutes=30))
    uid = r.receive("IRM du genou", site="h09", modality="MR")
    stable_at = T0 + timedelta(seconds=2) + STABLE
    r.dispatch.sweep(stable_at)
    held = r.study(uid)
    assert (held.state, held.assignee) == (StudyState.PENDING, None)
    assert r.actions(uid) == [("hold", None)]
    assert r.dispatch.broaden(stable_at + timedelta(minutes=29)) == 0
    assert r.dispatch.broaden(stable_at + timedelta(minutes=30)) == 1
    taken = r.study(uid)
    assert (taken.state, taken.assignee, taken.fallback) == (StudyState.ASSIGNED, "r09", True)
    assert r.actions(uid) == [("hold", None), ("reroute", None)]


def test_restore_rebuilds_the_board_from_the_store() -> None:
    r = region()
    uids = [r.receive(f"scanner abdominal {n}", site="h02") for n in range(3)]
    r.dispatch.sweep(T0 + timedelta(minutes=5))
    owners = {uid: r.dispatch.board.owner(uid) for uid in uids}
    assert None not in owners.values()
    r.dispatch.board = Board()  # a restart: the board is gone, the store is the truth
    assert r.dispatch.restore(T0 + timedelta(minutes=6)) == 3
    assert {uid: r.dispatch.board.owner(uid) for uid in uids} == owners
