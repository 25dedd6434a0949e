"""Shift handover with work in progress: at the end of a shift the unstarted studies are
re-dispatched to the reader coming on, the one being read stays with its reader."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.services.escalation import escalate_overdue
from garde.services.handover import hand_over
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


def test_unstarted_studies_move_at_shift_end_and_the_read_in_hand_stays(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r02", T0 - 4 * h, T0 + h),  # body/chest, h01-h04: leaves at 23:00
        Shift("r05", T0 + h, T0 + 10 * h),  # chest/body, every site: comes at 23:00
    ]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    try:
        uids = [
            receive(
                rt,
                tmp_path,
                "h02",
                T0 + timedelta(minutes=i),
                description="TDM abdomen",
                body_part="ABDOMEN",
            )
            for i in range(3)
        ]
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=5)))
        assert {record(rt, u).assignee for u in uids} == {"r02"}
        reading = ReadingService(rt.uow, rt.dispatch.board)
        reading.start(uids[0], "r02", advance_to(rt, T0 + timedelta(minutes=50)))

        advance_to(rt, T0 + h - timedelta(seconds=1))
        assert jobs.hand_over_shifts(rt) == 0  # still on shift

        advance_to(rt, T0 + h)
        assert jobs.hand_over_shifts(rt) == 2
        in_hand = record(rt, uids[0])
        assert (in_hand.assignee, in_hand.state) == ("r02", StudyState.IN_PROGRESS)
        for uid in uids[1:]:
            moved = record(rt, uid)
            assert (moved.assignee, moved.state) == ("r05", StudyState.ASSIGNED)
            assert [e.action for e in audit(rt, uid)] == ["assign", "handover"]
            with rt.uow() as uow:
                assert uow.studies.assignments(uid)[-1].by is AssignedBy.HANDOVER
        assert jobs.hand_over_shifts(rt) == 0  # nothing left to move

        # The leaving reader still finishes the study they had started.
        reading.finish(uids[0], "r02", advance_to(rt, T0 + h + timedelta(minutes=10)), "RPT-1")
        assert record(rt, uids[0]).state is StudyState.DONE
        assert rt.dispatch.board.queue("r05") == tuple(rt.dispatch.board.get(u) for u in uids[1:])
    finally:
        rt.close()


def test_a_roster_imported_by_another_process_is_picked_up_at_the_next_run(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    rt = start_night(settings_for(migrated_url, tmp_path), [Shift("r02", T0 - h, T0 + h)])
    try:
        uid = receive(rt, tmp_path, "h02", T0, description="TDM abdomen", body_part="ABDOMEN")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert record(rt, uid).assignee == "r02"
        with rt.uow() as uow:  # as `garde roster import` would, from another process
            uow.roster.replace_shifts(
                T0 - timedelta(days=1),
                T0 + timedelta(days=1),
                [Shift("r02", T0 - h, T0 + timedelta(minutes=10)), Shift("r05", T0, T0 + 9 * h)],
            )
            uow.commit()
        advance_to(rt, T0 + timedelta(minutes=11))
        assert jobs.hand_over_shifts(rt) == 1
        assert record(rt, uid).assignee == "r05"
    finally:
        rt.close()


def test_work_of_a_reader_gone_from_an_uncovered_hospital_goes_to_the_fallback_pool(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r02", T0 - 4 * h, T0 + h),  # the only reader for h02 tonight
        Shift("r08", T0 + 5 * h, T0 + 12 * h),  # fallback and supervisor, on call from home
    ]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    try:
        uid = receive(rt, tmp_path, "h02", T0, description="TDM abdomen", body_part="ABDOMEN")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert record(rt, uid).assignee == "r02"

        # Urgent: at r02's shift end it goes to the medical director, never to the
        # fallback reader while the roster has them off shift.
        assert hand_over(rt.dispatch, advance_to(rt, T0 + h)) == {uid: "r00"}
        moved = record(rt, uid)
        assert (moved.assignee, moved.fallback, moved.state) == ("r00", True, StudyState.ASSIGNED)
        assert [e.action for e in audit(rt, uid)] == ["assign", "handover", "unassigned_notice"]
        assert hand_over(rt.dispatch, advance_to(rt, T0 + 2 * h)) == {}  # no ping-pong
        # Once r08 is on call, the handover gives it to them; they may read it.
        assert hand_over(rt.dispatch, advance_to(rt, T0 + 5 * h)) == {uid: "r08"}
        reading = ReadingService(rt.uow, rt.dispatch.board)
        assert reading.start(uid, "r08", T0 + 5 * h).state is StudyState.IN_PROGRESS
    finally:
        rt.close()


def test_at_breach_a_study_left_with_a_reader_gone_goes_to_the_fallback_pool(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    # Routine work waits a day for coverage here: the handover keeps it with r02.
    settings = settings_for(migrated_url, tmp_path, uncovered_routine_delay_s=24 * 3600)
    shifts = [Shift("r02", T0 - 4 * h, T0 + h), Shift("r08", T0 + 10 * h, T0 + 20 * h)]
    rt = start_night(settings, shifts)
    try:
        xray = receive(rt, tmp_path, "h02", T0, modality="CR", description="RADIO THORAX")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert record(rt, xray).assignee == "r02"
        assert hand_over(rt.dispatch, advance_to(rt, T0 + h)) == {}
        deadline = record(rt, xray).deadline
        assert deadline is not None
        outcomes = [
            (e.tier.value, e.outcome, e.to_radiologist)
            for at in (deadline - 2 * h, deadline)
            for e in escalate_overdue(rt.dispatch, advance_to(rt, at))
        ]
        assert outcomes == [("reassign", "kept", None), ("supervisor", "reassigned", "r00")]
        breached = record(rt, xray)
        assert (breached.assignee, breached.fallback) == ("r00", True)  # the medical director
    finally:
        rt.close()
