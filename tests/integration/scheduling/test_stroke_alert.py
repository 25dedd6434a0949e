"""A stroke arriving while every eligible reader is mid-read goes to the one whose read
in hand is least urgent, who is alerted to interrupt it (pre-emption), not queued behind
whoever finishes first."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift
from garde.scheduling import jobs
from garde.services.reading import ReadingService
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    audit,
    receive,
    record,
    settings_for,
    start_night,
)
from tests.integration.services.webhook_receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path

STROKE = "Scanner cérébral — alerte thrombolyse"
SAH = "TDM CEREBRALE SUSPICION HEMORRAGIE MENINGEE"
HEAD = "TDM CEREBRALE SANS INJECTION"
minute = timedelta(minutes=1)


def test_a_stroke_interrupts_the_least_urgent_read_in_hand(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    shifts = [Shift("r01", T0 - h, T0 + 8 * h), Shift("r03", T0 - h, T0 + 8 * h)]
    with Receiver() as receiver:
        settings = settings_for(migrated_url, tmp_path)
        settings = replace(settings, notify=replace(settings.notify, webhook_url=receiver.url))
        rt = start_night(settings, shifts, T0 - 10 * minute)
        rt.notifier.start_delivery()
        reading = ReadingService(rt.uow, rt.dispatch.board)
        try:
            # r01 (fast) reads an emergency, r03 an urgent head CT that ends later.
            sah = receive(rt, tmp_path, "h01", T0 - 10 * minute, description=SAH)
            assert jobs.dispatch_stable_studies(rt) == 0
            advance_to(rt, T0 - 9 * minute)
            jobs.dispatch_stable_studies(rt)
            assert record(rt, sah).assignee == "r01"
            reading.start(sah, "r01", T0 - 8 * minute)
            head = receive(rt, tmp_path, "h01", T0 - 8 * minute, description=HEAD)
            advance_to(rt, T0 - 7 * minute)
            jobs.dispatch_stable_studies(rt)
            assert record(rt, head).assignee == "r03"
            reading.start(head, "r03", T0 - 6 * minute)

            stroke = receive(rt, tmp_path, "h01", T0, description=STROKE)
            advance_to(rt, T0 + 61 * timedelta(seconds=1))
            assert jobs.dispatch_stable_studies(rt) == 1
            # r01 frees up first, but reads an emergency: r03's urgent read gives way.
            assert record(rt, stroke).assignee == "r03"
            [assign] = [e for e in audit(rt, stroke) if e.action == "assign"]
            assert assign.detail["interrupts"] == head
            with rt.uow() as uow:
                why = uow.studies.assignments(stroke)[-1].explanation
            # Told as it was: r01 eligible too (not "excluded by the caller"), r03's read named.
            assert (why["basis"], why["chosen"], why["interrupts"]) == ("preempt", "r03", head)
            assert why["eligible"] == 2
            assert "excluded" not in why["excluded"]
        finally:
            rt.close()  # posts what the outbox holds
    [alert] = [b["payload"] for b in receiver.accepted if b["kind"] == "stroke_alert"]
    assert (alert["study_uid"], alert["radiologist_id"], alert["interrupt_study_uid"]) == (
        stroke,
        "r03",
        head,
    )
    assert alert["wait_without_min"] > 0
