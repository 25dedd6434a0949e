"""Issue 12, "operator decisions stick": an operator's assignment survives handover,
re-plan, escalation and colleagues' claims until it is released or unpinned; refusals
say which rule failed in the user's words; ``force`` overrides them, audited. Real
store (SQLite and PostgreSQL), the example region.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Shift, StudyState
from garde.dispatch.optimizer import SolverSettings
from garde.services.escalation import escalate_overdue
from garde.services.handover import hand_over
from garde.services.identity import Identity, Role
from garde.services.operator import OperatorService
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.services.replanning import replan_queues
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    audit,
    receive,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from pathlib import Path

H = timedelta(hours=1)
ALICE = Identity("alice", Role.OPERATOR)
POLYTRAUMA = {"description": "TDM polytraumatisme corps entier", "body_part": "WHOLEBODY"}
SOLVER = SolverSettings(time_limit_s=1.0, workers=1, seed=7)


def test_an_operator_pin_survives_handover_replan_escalation_and_claims(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [
        Shift("r01", T0 - H, T0 + H),  # neuro, body: every site; goes at midnight
        Shift("r05", T0 + timedelta(minutes=5), T0 + 9 * H),  # chest, body: every site
    ]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    operator = OperatorService(rt.uow, rt.dispatch.board)
    reading = ReadingService(rt.uow, rt.dispatch.board)
    try:
        uids = [receive(rt, tmp_path, "h02", T0, **POLYTRAUMA) for _ in range(4)]
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert {record(rt, u).assignee for u in uids} == {"r01"}  # alone on shift
        pinned, free = uids[:2], uids[2:]
        now = advance_to(rt, T0 + timedelta(minutes=6))
        for uid in pinned:  # "r01 knows these patients": kept where they are
            operator.assign(uid, "r01", by=ALICE, reason="r01 knows them", now=now, origin="t")
            assert record(rt, uid).pinned_by == "alice"

        # Re-plan: the idle r05 would take work from r01, but not the pinned studies.
        outcome = replan_queues(rt.dispatch, now, SOLVER)
        assert outcome is not None
        assert not set(outcome.moved) & set(pinned)
        # A colleague's claim does not take a pinned study either.
        with pytest.raises(ReadingRefusedError, match="by operator alice") as caught:
            reading.claim(pinned[0], "r05", now)
        assert caught.value.reason is Refusal.NOT_YOURS

        # Escalation (the emergency's 60 min: reassign at 45, breach at 60): notified only.
        tiers = [
            e
            for at in (T0 + timedelta(minutes=46), T0 + timedelta(minutes=61))
            for e in escalate_overdue(rt.dispatch, advance_to(rt, at))
            if e.study_uid in pinned
        ]
        assert {e.outcome for e in tiers} == {"pinned"}
        assert len(tiers) == 4  # two tiers for each pinned study

        # Handover: r01's shift ends; the pinned studies stay with them, the rest go.
        moved = hand_over(rt.dispatch, advance_to(rt, T0 + H))
        assert not set(moved) & set(pinned)
        assert all(record(rt, u).assignee == "r01" for u in pinned)
        assert all(record(rt, u).assignee == "r05" for u in free)

        # Unpinned, the next handover moves it; released, the pin ends with it.
        later = advance_to(rt, T0 + H + timedelta(minutes=1))
        assert operator.unpin(pinned[0], by=ALICE, now=later, origin="t") == "alice"
        assert hand_over(rt.dispatch, later) == {pinned[0]: "r05"}
        reading.release(pinned[1], "r01", later, "handing over after all")
        released = record(rt, pinned[1])
        assert (released.pinned_by, released.assignee) == (None, "r05")
        assert [e.action for e in audit(rt, pinned[0])].count("unpin") == 1
    finally:
        rt.close()


def test_refusals_name_the_rule_and_force_overrides_it(migrated_url: str, tmp_path: Path) -> None:
    shifts = [
        Shift("r01", T0 - H, T0 + 9 * H),
        Shift("r07", T0 + 22 * H, T0 + 30 * H),  # body, msk, paediatric: h03, h05, h06
    ]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    operator = OperatorService(rt.uow, rt.dispatch.board)
    try:
        vienne = receive(rt, tmp_path, "h03", T0, description="TDM cerebrale", body_part="HEAD")
        bourg = receive(rt, tmp_path, "h02", T0, **POLYTRAUMA)
        abdomen = receive(
            rt, tmp_path, "h03", T0, description="TDM abdomen aigu", body_part="ABDOMEN"
        )
        now = advance_to(rt, T0 + timedelta(minutes=2))
        rt.dispatch.sweep(now)

        def refused(uid: str, rid: str) -> str:
            with pytest.raises(ReadingRefusedError) as caught:
                operator.assign(uid, rid, by=ALICE, reason="test", now=now, origin="t")
            return str(caught.value)

        # In the user's words: the hospital's name, the skill, the shift in local time.
        assert refused(bourg, "r07").startswith("r07 is not credentialed for CH de Bourg-en-Bresse")
        assert refused(vienne, "r07").startswith("r07 lacks the skill neuro")
        assert refused(vienne, "r03").startswith("r03 is not on shift (no shift")
        assert refused(abdomen, "r07").startswith("r07 is not on shift until 21:00")  # Paris
        # Each refusal is audited with the study and the radiologist it aimed at.
        with rt.uow() as uow:
            tried = [
                (e.study_uid, e.radiologist_id, e.detail["outcome"])
                for e in uow.audit.for_actor("alice")
            ]
        assert (bourg, "r07", "refused") in tried
        assert (vienne, "r03", "refused") in tried

        forced = operator.assign(
            vienne,
            "r07",
            by=ALICE,
            reason="neuro reader called in",
            now=now,
            origin="t",
            force=True,
        )
        assert (forced.assignee, forced.state, forced.pinned_by) == (
            "r07",
            StudyState.ASSIGNED,
            "alice",
        )
        [event] = [
            e
            for e in audit(rt, vienne)
            if (e.actor, e.action, e.detail.get("outcome")) == ("alice", "assign", "ok")
        ]
        assert event.detail["forced"] == [
            "r07 lacks the skill neuro",
            "r07 is not on shift until 21:00",
        ]
        # The medical director may always be given a study, shift or not.
        director = operator.assign(bourg, "r00", by=ALICE, reason="for r00", now=now, origin="t")
        assert director.assignee == "r00"
    finally:
        rt.close()
