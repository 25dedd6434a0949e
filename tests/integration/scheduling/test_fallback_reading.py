"""What the router gives the fallback pool, the fallback reader may read: one permission
rule for the router and the reading actions (a site credential always, a skill unless
the study was routed to the pool because nobody eligible may read it)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Shift, StudyState
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    receive,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from pathlib import Path

CHILD_XRAY = "RADIO THORAX ENFANT"  # paediatric: r03, r07 only; r08 (fallback) lacks it


def test_the_fallback_reader_may_start_next_and_finish_what_the_router_gave_them(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r02", T0 - h, T0 + 9 * h),  # body, chest: h01-h04
        Shift("r08", T0 - h, T0 + 9 * h),  # the fallback pool: every site, no paediatric
    ]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    try:
        reading = ReadingService(rt.uow, rt.dispatch.board)
        first, second = (
            receive(rt, tmp_path, "h02", T0, modality="CR", description=CHILD_XRAY)
            for _ in range(2)
        )
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        for uid in (first, second):
            routed = record(rt, uid)
            assert (routed.assignee, routed.fallback) == ("r08", True)

        now = T0 + timedelta(minutes=3)
        # Eligible readers may not take it from the pool without the skill.
        with pytest.raises(ReadingRefusedError) as caught:
            reading.claim(first, "r02", now)
        assert caught.value.reason is Refusal.NO_CREDENTIAL
        assert reading.start(first, "r08", now).state is StudyState.IN_PROGRESS
        assert reading.finish(first, "r08", now + timedelta(minutes=5)).state is StudyState.DONE
        taken = reading.next("r08", now + timedelta(minutes=6))
        assert (taken.study_uid, taken.state) == (second, StudyState.IN_PROGRESS)
        reading.finish(second, "r08", now + timedelta(minutes=10))
    finally:
        rt.close()


def test_a_study_released_to_the_fallback_pool_is_readable_there(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r03", T0 - h, T0 + 9 * h),  # neuro, paediatric: h01, h03, h05, h06
        Shift("r08", T0 - h, T0 + 9 * h),
    ]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    try:
        reading = ReadingService(rt.uow, rt.dispatch.board)
        uid = receive(rt, tmp_path, "h01", T0, modality="CR", description=CHILD_XRAY)
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert (record(rt, uid).assignee, record(rt, uid).fallback) == ("r03", False)
        released = reading.release(uid, "r03", T0 + timedelta(minutes=3), "knows the family")
        assert (released.radiologist_id, released.fallback) == ("r08", True)
        assert record(rt, uid).fallback
        with rt.uow() as uow:  # the history keeps it too, with who gave it back
            last = uow.studies.assignments(uid)[-1]
            releasers = uow.studies.releasers([uid])
        assert (last.radiologist_id, last.fallback) == ("r08", True)
        assert releasers == {uid: "r03"}
        started = reading.start(uid, "r08", T0 + timedelta(minutes=4))
        assert (started.state, started.assignee) == (StudyState.IN_PROGRESS, "r08")
    finally:
        rt.close()
