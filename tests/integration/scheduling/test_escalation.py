"""SLA watch, tier by tier, over injected time: alert, reassign to the next best eligible
reader, supervisor at breach; a study being read stays with its reader; every escalation
is posted to a real webhook receiver on loopback, and a restart resumes the tiers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.bootstrap import build_runtime
from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.services.clock import FrozenClock
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
from tests.integration.services.webhook_receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path

STROKE = "Scanner cérébral — alerte thrombolyse"
POLYTRAUMA = "TDM corps entier polytraumatisme"


def test_each_tier_in_turn(migrated_url: str, tmp_path: Path) -> None:
    h = timedelta(hours=1)
    with Receiver() as receiver:
        settings = settings_for(migrated_url, tmp_path)
        settings = replace(
            settings,
            notify=replace(settings.notify, webhook_url=receiver.url, webhook_backoff_s=0.01),
        )
        shifts = [
            Shift("r01", T0 - 4 * h, T0 + 8 * h),  # neuro + body, every site, fast
            Shift("r03", T0 + timedelta(minutes=12), T0 + 8 * h),  # neuro, comes at 22:12
            Shift("r08", T0 + timedelta(minutes=18), T0 + 8 * h),  # supervisor, at 22:18
        ]
        rt = start_night(settings, shifts, T0 - timedelta(minutes=5))
        rt.notifier.start_delivery()  # as `garde serve` does
        reading = ReadingService(rt.uow, rt.dispatch.board)
        # r01 is reading a polytrauma (39 min) when the stroke comes in.
        trauma = receive(rt, tmp_path, "h01", T0 - timedelta(minutes=5), description=POLYTRAUMA)
        rt.dispatch.sweep(advance_to(rt, T0 - timedelta(minutes=3)))
        reading.start(trauma, "r01", T0 - timedelta(minutes=3))
        stroke = receive(rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(seconds=61)))
        assert record(rt, stroke).assignee == "r01"  # the only neuro reader on shift

        advance_to(rt, T0 + timedelta(minutes=9))
        assert jobs.watch_sla(rt) == 0  # under half of the 20 min target

        advance_to(rt, T0 + timedelta(minutes=10))  # alert: 0.5 of the target
        assert jobs.watch_sla(rt) == 1
        assert record(rt, stroke).escalation_tier == 1
        assert record(rt, stroke).assignee == "r01"
        assert jobs.watch_sla(rt) == 0  # idempotent: the tier is stored

        advance_to(rt, T0 + timedelta(minutes=15))  # reassign: 0.75
        assert jobs.watch_sla(rt) == 1
        moved = record(rt, stroke)
        assert (moved.assignee, moved.escalation_tier) == ("r03", 2)  # idle, reads it sooner

        advance_to(rt, T0 + timedelta(minutes=20))  # breach: the supervisor takes it
        assert jobs.watch_sla(rt) == 1
        final = record(rt, stroke)
        assert (final.assignee, final.escalation_tier, final.state) == (
            "r08",
            3,
            StudyState.ASSIGNED,
        )
        with rt.uow() as uow:
            history = uow.studies.assignments(stroke)
        assert [(a.radiologist_id, a.by) for a in history] == [
            ("r01", AssignedBy.ROUTER),
            ("r03", AssignedBy.ESCALATION),
            ("r08", AssignedBy.ESCALATION),
        ]
        escalations = [e.detail for e in audit(rt, stroke) if e.action == "escalate"]
        assert [(d["tier"], d["outcome"], d["to"]) for d in escalations] == [
            ("alert", "notified", None),
            ("reassign", "reassigned", "r03"),
            ("supervisor", "reassigned", "r08"),
        ]

        # The polytrauma breaches at 60 min while being read: it stays with its reader.
        advance_to(rt, T0 + timedelta(minutes=58))
        jobs.watch_sla(rt)
        trauma_record = record(rt, trauma)
        assert trauma_record.assignee == "r01"
        assert trauma_record.state is StudyState.IN_PROGRESS
        assert trauma_record.escalation_tier == 3
        outcomes = {e.detail["outcome"] for e in audit(rt, trauma) if e.action == "escalate"}
        assert outcomes == {"in_progress"}
        rt.close()  # posts what the webhook outbox holds

        kinds = receiver.kinds()
        assert kinds.count("escalation_alert") == 1
        assert kinds.count("escalation_reassign") == 1
        supervisor = [
            b["payload"] for b in receiver.accepted if b["kind"] == "escalation_supervisor"
        ]
        assert {p["study_uid"] for p in supervisor} == {stroke, trauma}
        assert next(p for p in supervisor if p["study_uid"] == stroke)["supervisors"] == ["r08"]
        assigned = [b["payload"] for b in receiver.accepted if b["kind"] == "assigned"]
        assert {p["priority"] for p in assigned} == {"stroke", "emergency"}

    # A restart resumes where the night was: no tier is escalated twice.
    again = build_runtime(settings_for(migrated_url, tmp_path), clock=FrozenClock(T0))
    try:
        again.dispatch.restore(advance_to(again, T0 + timedelta(minutes=58)))
        assert jobs.watch_sla(again) == 0
        assert again.dispatch.board.owner(stroke) == "r08"
        assert again.dispatch.board.is_started(trauma)
    finally:
        again.close()


def test_a_study_with_no_reader_goes_to_whoever_may_take_it_at_the_reassign_tier(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    # Routine X-ray from a site only the (off-shift) fallback could read: held for coverage.
    settings = settings_for(migrated_url, tmp_path, uncovered_routine_delay_s=24 * 3600)
    rt = start_night(settings, [Shift("r02", T0 - h, T0 + 12 * h)])  # h01-h04 only
    try:
        xray = receive(rt, tmp_path, "h06", T0, modality="CR", description="RADIO THORAX")
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        held = record(rt, xray)
        assert (held.state, held.assignee) == (StudyState.PENDING, None)
        assert held.deadline is not None
        span = held.deadline - held.first_received_at
        advance_to(rt, held.first_received_at + span * 0.76)
        jobs.watch_sla(rt)
        taken = record(rt, xray)
        # Never the fallback reader off shift: the medical director, who is always reached.
        assert taken.assignee == "r00"
        assert taken.fallback
    finally:
        rt.close()
