"""OperatorService on the memory store: a hand assignment is pinned, audited and followed
by the board; a radiologist may not make one; unpinning lets the jobs move it again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from garde.dispatch.model import StudyState
from garde.services.identity import Identity, PermissionDeniedError, Role
from garde.services.operator import OperatorService
from tests.unit.services.memory_region import T0, region

OPERATOR = Identity("ops", Role.OPERATOR)
LATER = T0 + timedelta(minutes=5)


def test_a_hand_assignment_is_pinned_audited_and_followed_by_the_board() -> None:
    r = region()
    uid = r.receive("angioscanner thoracique embolie", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    other = "r03" if owner == "r02" else "r02"
    operator = OperatorService(
        r.store.uow_factory, r.dispatch.board, r.notifier, lock=r.dispatch.lock
    )
    updated = operator.assign(
        uid, other, by=OPERATOR, reason="knows the patient", now=LATER, origin="cli"
    )
    assert (updated.state, updated.assignee, updated.pinned_by) == (
        StudyState.ASSIGNED,
        other,
        "ops",
    )
    assert r.dispatch.board.owner(uid) == other
    assert r.notifier.sent[-1][1]["radiologist_id"] == other
    with r.store.uow_factory() as uow:
        [manual] = [a for a in uow.studies.assignments(uid) if a.radiologist_id == other]
        [event] = [e for e in uow.audit.for_actor("ops") if e.study_uid == uid]
    assert (manual.explanation["kind"], manual.explanation["operator"]) == ("manual", "ops")
    assert (manual.explanation["previous"], manual.explanation["reason"]) == (
        owner,
        "knows the patient",
    )
    assert event.radiologist_id == other
    assert operator.unpin(uid, by=OPERATOR, now=LATER, origin="cli") == "ops"
    assert r.study(uid).pinned_by is None


def test_a_radiologist_may_not_assign_by_hand_and_the_refusal_is_audited() -> None:
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    before = r.study(uid)
    operator = OperatorService(r.store.uow_factory, r.dispatch.board, lock=r.dispatch.lock)
    reader = Identity("r02", Role.RADIOLOGIST)
    with pytest.raises(PermissionDeniedError):
        operator.assign(uid, "r03", by=reader, reason="swap", now=LATER, origin="cli")
    assert r.study(uid) == before  # nothing moved
    with r.store.uow_factory() as uow:
        [refused] = uow.audit.for_actor("r02")
    assert (refused.action, refused.study_uid) == ("assign", uid)
    assert refused.detail["outcome"] == "refused"
