"""An uncovered hospital: nobody on shift is credentialed for it. Stroke, emergency and
urgent work goes to the fallback pool at once; routine work waits the configured delay
for a credentialed reader, then goes to the fallback pool; a reader coming on shift in
time takes it instead."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError, Refusal
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

DELAY = timedelta(minutes=30)


# The fallback reader's shift covers every site but h06 (Belley): nobody's shift covers
# Belley, so its work goes to the fallback pool (r08 holds the credential for it).
NOT_H06 = frozenset({"h01", "h02", "h03", "h04", "h05"})


def _region(migrated_url: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_url, tmp_path, uncovered_routine_delay_s=DELAY.seconds)


def test_urgent_work_goes_to_the_fallback_at_once_routine_after_the_delay(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [Shift("r02", T0 - h, T0 + 9 * h), Shift("r08", T0 - h, T0 + 9 * h, sites=NOT_H06)]
    rt = start_night(_region(migrated_url, tmp_path), shifts)
    try:
        stroke = receive(rt, tmp_path, "h06", T0, description="AVC alerte thrombolyse")
        urgent = receive(rt, tmp_path, "h06", T0, description="TDM abdomen", body_part="ABDOMEN")
        routine = receive(rt, tmp_path, "h06", T0, modality="CR", description="RADIO THORAX")
        covered = receive(rt, tmp_path, "h02", T0, modality="CR", description="RADIO THORAX")
        stable = advance_to(rt, T0 + timedelta(minutes=2))
        assert jobs.dispatch_stable_studies(rt) == 4
        for uid in (stroke, urgent):
            taken = record(rt, uid)
            assert (taken.assignee, taken.fallback, taken.state) == (
                "r08",
                True,
                StudyState.ASSIGNED,
            )
        assert record(rt, covered).assignee in {"r02", "r08"}
        assert not record(rt, covered).fallback
        waiting = record(rt, routine)
        assert (waiting.assignee, waiting.state) == (None, StudyState.PENDING)
        assert [e.action for e in audit(rt, routine)] == ["hold"]

        advance_to(rt, stable + DELAY - timedelta(seconds=1))
        jobs.dispatch_stable_studies(rt)
        assert record(rt, routine).assignee is None  # still waiting for coverage

        advance_to(rt, stable + DELAY)
        jobs.dispatch_stable_studies(rt)
        broadened = record(rt, routine)
        assert (broadened.assignee, broadened.fallback) == ("r08", True)
        assert [(e.actor, e.action) for e in audit(rt, routine)] == [
            ("router", "hold"),
            ("coverage", "reroute"),
        ]
    finally:
        rt.close()


def test_a_reader_coming_on_shift_takes_the_waiting_routine_work(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r08", T0 - h, T0 + 9 * h, sites=NOT_H06),
        Shift("r07", T0 + timedelta(minutes=20), T0 + 9 * h),  # h03, h05, h06
    ]
    rt = start_night(_region(migrated_url, tmp_path), shifts)
    try:
        routine = receive(rt, tmp_path, "h06", T0, modality="CR", description="RADIO THORAX")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert record(rt, routine).assignee is None
        advance_to(rt, T0 + timedelta(minutes=20))
        jobs.dispatch_stable_studies(rt)
        taken = record(rt, routine)
        assert (taken.assignee, taken.fallback) == ("r07", False)
    finally:
        rt.close()


def test_a_site_no_fallback_reader_is_credentialed_for_keeps_its_work_flagged(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    settings = _region(migrated_url, tmp_path)
    # The fallback reader lacks the credential for h06 here: a legal bar, never waived.
    radiologists = tuple(
        replace(r, sites=NOT_H06) if r.id in {"r08", "r00"} else r  # r00: medical director
        for r in settings.radiologists
    )
    rt = start_night(
        replace(settings, radiologists=radiologists), [Shift("r08", T0 - h, T0 + 9 * h)]
    )
    try:
        stroke = receive(rt, tmp_path, "h06", T0, description="AVC alerte thrombolyse")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        for at in (T0 + timedelta(minutes=3), T0 + timedelta(minutes=16)):
            rt.dispatch.sweep(advance_to(rt, at))
            jobs.watch_sla(rt)
            flagged = record(rt, stroke)
            assert (flagged.state, flagged.assignee, flagged.fallback) == (
                StudyState.PENDING,
                None,
                True,
            )
        with pytest.raises(ReadingRefusedError) as caught:
            ReadingService(rt.uow, rt.dispatch.board).next("r08", T0 + timedelta(minutes=17))
        assert caught.value.reason is Refusal.NOTHING_TO_READ
    finally:
        rt.close()
