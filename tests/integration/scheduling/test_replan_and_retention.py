"""The CP-SAT re-plan job moves queued work to a reader who came on shift when that
beats the current plan; the retention job purges pixel data N days after the report and
keeps metadata and audit."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.services.reading import ReadingService
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

POLYTRAUMA = "TDM corps entier polytraumatisme"


def test_replan_moves_late_work_to_a_reader_who_came_on_shift(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r01", T0 - h, T0 + 9 * h),
        Shift("r05", T0 + timedelta(minutes=10), T0 + 9 * h),
    ]
    rt = start_night(settings_for(migrated_url, tmp_path, replan_time_limit_s=1.0), shifts)
    try:
        uids = [receive(rt, tmp_path, "h02", T0, description=POLYTRAUMA) for _ in range(3)]
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert {record(rt, u).assignee for u in uids} == {"r01"}  # alone: 3 x 39 min, late
        advance_to(rt, T0 + timedelta(minutes=10))
        assert jobs.hand_over_shifts(rt) == 0  # r01 is on shift: handover does not move it
        moved = jobs.replan(rt)
        assert moved >= 1
        owners = [record(rt, u).assignee for u in uids]
        assert owners.count("r05") == moved
        for uid in uids:
            if record(rt, uid).assignee == "r05":
                assert audit(rt, uid)[-1].action == "replan"
                with rt.uow() as uow:
                    assert uow.studies.assignments(uid)[-1].by is AssignedBy.OPTIMIZER
                assert rt.dispatch.board.owner(uid) == "r05"
        assert jobs.replan(rt) == 0  # the plan now stands
    finally:
        rt.close()


def test_retention_purges_pixels_after_the_report_and_keeps_metadata_and_audit(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(days=40))]
    rt = start_night(settings_for(migrated_url, tmp_path, retention_days=30), shifts)
    try:
        old = receive(rt, tmp_path, "h01", T0, count=3, description="TDM abdomen")
        recent = receive(rt, tmp_path, "h01", T0, count=3, description="TDM abdomen")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        reading = ReadingService(rt.uow, rt.dispatch.board)
        reading.start(old, "r01", T0 + timedelta(minutes=3))
        reading.finish(old, "r01", T0 + timedelta(minutes=20), "RPT-OLD")
        reading.start(recent, "r01", T0 + timedelta(days=29))
        reading.finish(recent, "r01", T0 + timedelta(days=29, minutes=15), "RPT-NEW")
        storage = rt.settings.gateway.storage_dir
        assert len(list((storage / old).rglob("*.dcm"))) == 3

        advance_to(rt, T0 + timedelta(days=30, minutes=19))
        assert jobs.purge_expired_pixels(rt) == 0  # not yet 30 days after the report
        advance_to(rt, T0 + timedelta(days=30, minutes=21))
        assert jobs.purge_expired_pixels(rt) == 1
        assert not (storage / old).exists()
        assert len(list((storage / recent).rglob("*.dcm"))) == 3
        kept = record(rt, old)
        assert (kept.state, kept.report_ref, kept.instance_count) == (StudyState.DONE, "RPT-OLD", 3)
        with rt.uow() as uow:
            assert len(uow.studies.series(old)) == 1
            assert uow.studies.assignments(old)
        actions = [e.action for e in audit(rt, old)]
        assert actions == ["assign", "start", "done", "purge_pixels"]
        assert audit(rt, old)[-1].detail["files"] == 3
        assert jobs.purge_expired_pixels(rt) == 0  # idempotent
    finally:
        rt.close()
