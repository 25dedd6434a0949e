"""Study assembly around dispatch: a stroke study is dispatched at its first complete
series (quiet for `stroke_stable_age_s`, a few seconds), not when the whole study (head CT, then a CT angiography still streaming in) has
stopped arriving; what arrives after dispatch gets its previews once it is quiet again;
previews a crash left undone are rendered at start."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Priority, Shift, StudyState
from garde.scheduling import jobs
from garde.scheduling.scheduler import build_scheduler
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

STROKE = "Scanner cérébral — alerte thrombolyse"
s = timedelta(seconds=1)


def test_a_stroke_goes_at_its_first_complete_series_and_previews_follow_the_rest(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)  # stable age: 60 s
    rt.dispatch.previews = rt.previews
    rt.previews.start()
    try:
        stroke = receive(rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
        abdomen = receive(rt, tmp_path, "h01", T0, description="TDM abdomen", body_part="ABDOMEN")
        # A second series of each is still arriving 50 s later.
        for uid in (stroke, abdomen):
            receive(rt, tmp_path, "h01", T0 + 50 * s, study_uid=uid, description="ANGIO")

        advance_to(rt, T0 + 61 * s)  # the first series is complete, the studies are not
        assert jobs.dispatch_stable_studies(rt) == 1
        early = record(rt, stroke)
        assert (early.state, early.assignee, early.priority) == (
            StudyState.ASSIGNED,
            "r01",
            Priority.STROKE,
        )
        [assign] = [e for e in audit(rt, stroke) if e.action == "assign"]
        assert assign.detail["first_series"] is True
        assert record(rt, abdomen).state is StudyState.RECEIVING  # urgent: waits for all of it

        receive(rt, tmp_path, "h01", T0 + 100 * s, study_uid=stroke, description="PERFUSION")
        advance_to(rt, T0 + 130 * s)  # still arriving: nothing to do yet
        assert jobs.dispatch_stable_studies(rt) == 1  # the abdomen, now quiet
        assert not [e for e in audit(rt, stroke) if e.action == "grown"]

        advance_to(rt, T0 + 161 * s)  # quiet again: the previews cover every series
        jobs.dispatch_stable_studies(rt)
        assert rt.previews.wait_idle(30)
        [grown] = [e for e in audit(rt, stroke) if e.action == "grown"]
        assert grown.detail == {"series": 3, "instances": 6}
        assert record(rt, stroke).stable_at == T0 + 161 * s
        with rt.uow() as uow:
            previews = uow.studies.previews(stroke)
        assert len({p.series_uid for p in previews if p.series_uid}) == 3

        advance_to(rt, T0 + 200 * s)
        jobs.dispatch_stable_studies(rt)
        assert len([e for e in audit(rt, stroke) if e.action == "grown"]) == 1  # once
        assert record(rt, stroke).assignee == "r01"  # the plan stands
    finally:
        rt.close()


def test_studies_left_without_previews_by_a_crash_get_them_at_start(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)  # dispatch renders nothing
    try:
        uid = receive(rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
        advance_to(rt, T0 + 61 * s)
        assert jobs.dispatch_stable_studies(rt) == 1
        with rt.uow() as uow:
            assert uow.studies.previews(uid) == []  # as if serve died before rendering
        assert rt.previews.catch_up() == 1  # what `garde serve` does at start
        with rt.uow() as uow:
            assert uow.studies.previews(uid)
        assert rt.previews.catch_up() == 0
    finally:
        rt.close()


def test_a_stroke_that_arrived_in_seconds_goes_after_its_quiet_window_not_the_minute(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)  # stroke window: 3 s
    try:
        stroke = receive(rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
        receive(rt, tmp_path, "h01", T0 + 2 * s, study_uid=stroke, description=STROKE)
        abdomen = receive(rt, tmp_path, "h01", T0, description="TDM abdomen", body_part="ABDOMEN")
        advance_to(rt, T0 + 4 * s)  # 2.5 s of arrival, then quiet: the whole study is here
        assert jobs.dispatch_stable_studies(rt) == 1
        early = record(rt, stroke)
        assert (early.state, early.priority) == (StudyState.ASSIGNED, Priority.STROKE)
        assert early.deadline == T0 + timedelta(minutes=20)  # counted from arrival
        assert record(rt, abdomen).state is StudyState.RECEIVING  # waits for its minute
    finally:
        rt.close()


def test_the_sweep_is_brought_forward_to_when_a_study_becomes_stable(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)  # stable age: 60 s
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)  # its jobs are looked at, never run here
    try:
        job = scheduler.get_job("dispatch_stable_studies")
        periodic = job.next_run_time
        head = receive(rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
        advance_to(rt, T0 + 1 * s)
        # The arrival watch (every second) sees it: its first series is quiet at T0 + 3 s,
        # the sweep runs then, not a period later.
        assert jobs.watch_arrivals(rt) == 1
        assert job.next_run_time == T0 + 3 * s < periodic
        assert jobs.dispatch_stable_studies(rt) == 0
        advance_to(rt, T0 + 3 * s)
        assert jobs.dispatch_stable_studies(rt) == 1  # the stroke, at its first series
        assert record(rt, head).state is StudyState.ASSIGNED
        assert job.next_run_time == T0 + 3 * s  # nothing later is due: kept as it was
    finally:
        scheduler.shutdown(wait=False)
        rt.close()


def test_a_series_quiet_long_ago_does_not_hide_a_strokes_first_series(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)
    try:
        # An abdomen whose first series was complete long ago, still receiving at T0 + 30 s.
        abdomen = receive(rt, tmp_path, "h01", T0 - 200 * s, description="TDM abdomen")
        receive(rt, tmp_path, "h01", T0 + 30 * s, study_uid=abdomen, description="PORTAL")
        # A stroke at the same hospital: its first series is quiet at T0 + 37 s.
        receive(rt, tmp_path, "h01", T0 + 34 * s, description=STROKE, body_part="HEAD")
        advance_to(rt, T0 + 35 * s)
        jobs.dispatch_stable_studies(rt)
        assert scheduler.get_job("dispatch_stable_studies").next_run_time == T0 + 37 * s
    finally:
        scheduler.shutdown(wait=False)
        rt.close()


def test_a_stroke_series_holding_what_it_declares_goes_at_once(
    migrated_url: str, tmp_path: Path
) -> None:
    shifts = [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts)  # stroke window: 3 s
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)
    try:
        # Two of the two images the series declares (Images in Acquisition): complete.
        whole = receive(
            rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD", images_in_acquisition=2
        )
        # Two of five declared: the count is never reached, its quiet window decides.
        short = receive(
            rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD", images_in_acquisition=5
        )
        advance_to(rt, T0 + s / 2)
        assert jobs.watch_arrivals(rt) == 1  # the sweep is woken now, not at T0 + 3 s
        assert scheduler.get_job("dispatch_stable_studies").next_run_time == T0 + s / 2
        assert jobs.dispatch_stable_studies(rt) == 1
        assert record(rt, whole).state is StudyState.ASSIGNED
        assert record(rt, short).state is StudyState.RECEIVING
        advance_to(rt, T0 + 3 * s)
        assert jobs.dispatch_stable_studies(rt) == 1
        assert record(rt, short).state is StudyState.ASSIGNED
    finally:
        scheduler.shutdown(wait=False)
        rt.close()
