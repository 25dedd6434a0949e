"""A released study is never given straight back to who released it: not by the coverage
sweep, the handover, the SLA watch, a re-plan's move, nor their own `next`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Shift, StudyState
from garde.services.escalation import escalate_overdue
from garde.services.handover import hand_over
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.store.enums import AssignedBy
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

    from garde.config.model import Settings

CHILD_XRAY = "RADIO THORAX ENFANT"  # paediatric: r03 and r07 may read it at h03


def _no_fallback_pool(migrated_url: str, tmp_path: Path) -> Settings:
    settings = settings_for(migrated_url, tmp_path)
    # Nobody to fall back on: no pool, and a medical director reached by phone only.
    radiologists = tuple(
        replace(r, fallback=False, medical_director=False) for r in settings.radiologists
    )
    return replace(settings, radiologists=radiologists)


def test_a_released_study_is_never_routed_back_to_who_released_it(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r03", T0 - h, T0 + 9 * h),  # neuro, paediatric: h01, h03, h05, h06
        Shift("r07", T0 + 3.5 * h, T0 + 4 * h),  # body, msk, paediatric: h03, h05, h06
    ]
    rt = start_night(_no_fallback_pool(migrated_url, tmp_path), shifts)
    try:
        reading = ReadingService(rt.uow, rt.dispatch.board)
        uid = receive(rt, tmp_path, "h03", T0, modality="CR", description=CHILD_XRAY)
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert record(rt, uid).assignee == "r03"

        released = reading.release(uid, "r03", T0 + timedelta(minutes=3), "conflict of interest")
        assert released.radiologist_id is None  # nobody else on shift may read it
        assert rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=4))) == []
        waiting = record(rt, uid)
        assert (waiting.state, waiting.assignee) == (StudyState.PENDING, None)
        with pytest.raises(ReadingRefusedError) as caught:
            reading.next("r03", T0 + timedelta(minutes=5))
        assert caught.value.reason is Refusal.NOTHING_TO_READ

        # The SLA watch's reassign tier (3 h of the 4 h target) does not give it back.
        tiers = escalate_overdue(rt.dispatch, advance_to(rt, T0 + 3 * h))
        assert [(e.tier.value, e.outcome) for e in tiers] == [("reassign", "unassigned")]

        # A reader coming on shift takes it.
        rt.dispatch.sweep(advance_to(rt, T0 + 3.5 * h))
        assert record(rt, uid).assignee == "r07"
        # A re-plan's move back to r03 is refused.
        assert not rt.dispatch.reassign(
            uid, "r03", T0 + 3.5 * h, by=AssignedBy.OPTIMIZER, actor="optimizer", action="replan"
        )
        # r07 leaves: neither the handover nor the breach tier gives it back to r03.
        assert hand_over(rt.dispatch, advance_to(rt, T0 + 4 * h)) == {}
        tiers = escalate_overdue(rt.dispatch, T0 + 4 * h)
        assert [(e.tier.value, e.outcome) for e in tiers] == [("supervisor", "kept")]
        assert record(rt, uid).assignee == "r07"
        assert [(e.action, e.radiologist_id) for e in audit(rt, uid)] == [
            ("assign", "r03"),
            ("release", "r03"),
            ("escalate", None),
            ("reroute", "r07"),
            ("escalate", "r07"),
        ]

        # A deliberate claim by who released it is still theirs to make.
        reading.claim(uid, "r03", T0 + 4 * h)
        assert record(rt, uid).assignee == "r03"
    finally:
        rt.close()
