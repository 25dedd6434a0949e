"""Issue 12, "notifications that outlast an outage": a real HTTP receiver on loopback,
down for ten minutes of simulated time, a real store (SQLite and PostgreSQL).

Delivery is driven by the night's clock (`WebhookNotifier.deliver_due`), so ten
minutes of outage take a second.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift
from garde.scheduling import jobs
from garde.services.identity import Identity, Role
from garde.services.night_watch import escalate_unacknowledged
from garde.services.notifications import NotificationService
from garde.services.webhook import WebhookNotifier
from tests.helpers import free_port
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    receive,
    record,
    settings_for,
    start_night,
)
from tests.integration.services.webhook_receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path

    from garde.bootstrap import Runtime

H = timedelta(hours=1)
STROKE = {"description": "AVC alerte thrombolyse", "body_part": "HEAD"}
POLYTRAUMA = {"description": "TDM polytraumatisme corps entier", "body_part": "WHOLEBODY"}
ROUTINE = {"modality": "CR", "description": "RADIO THORAX"}
SHIFTS = [Shift("r01", T0 - H, T0 + 9 * H)]  # neuro, body, every site; r08 is off shift


def _webhook(rt: Runtime, url: str) -> WebhookNotifier:
    """The night's notifier on the night's clock, driven by the test (no delivery thread)."""
    webhook = WebhookNotifier(
        url,
        rt.uow,
        attempts=5,
        backoff_s=1.0,
        backoff_max_s=60.0,
        timeout_s=2.0,
        clock=rt.clock.now,
    )
    rt.dispatch.notifier = webhook
    return webhook


def _run(rt: Runtime, webhook: WebhookNotifier, until: object, step_s: float = 5.0) -> None:
    """Advance the night's clock to ``until``, delivering at every step."""
    at = rt.clock.now()
    while at < until:  # type: ignore[operator]
        at = advance_to(rt, at + timedelta(seconds=step_s))
        webhook.deliver_due()


def test_a_receiver_down_ten_minutes_gets_every_urgent_notification_once_after(
    migrated_url: str, tmp_path: Path
) -> None:
    port = free_port()
    rt = start_night(settings_for(migrated_url, tmp_path), SHIFTS)
    webhook = _webhook(rt, f"http://127.0.0.1:{port}/hook")
    try:
        strokes = [receive(rt, tmp_path, "h01", T0, **STROKE) for _ in range(2)]
        trauma = receive(rt, tmp_path, "h02", T0, **POLYTRAUMA)
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert {record(rt, u).assignee for u in [*strokes, trauma]} == {"r01"}
        # The receiver is down for ten minutes: tried again and again, never given up.
        _run(rt, webhook, T0 + timedelta(minutes=12))
        with rt.uow() as uow:
            waiting = uow.outbox.entries(open_only=True)
        assert waiting
        assert all(e.state == "waiting" for e in waiting)
        assert max(e.attempts for e in waiting) > webhook.attempts  # past the old limit
        assert webhook.dropped == 0
        with Receiver(port=port) as receiver:
            _run(rt, webhook, T0 + timedelta(minutes=14))  # one capped backoff later
        with rt.uow() as uow:
            assert uow.outbox.entries(open_only=True) == []
    finally:
        webhook.close(timeout=1)
        rt.close()
    urgent = [
        (b["kind"], b["payload"]["study_uid"])
        for b in receiver.accepted
        if b["payload"].get("priority") in {"stroke", "emergency"}
    ]
    assert sorted(urgent) == sorted(("assigned", u) for u in [*strokes, trauma])
    assert all(n == 1 for n in Counter(receiver.keys).values())  # once per Idempotency-Key


def test_an_unacknowledged_stroke_escalates_past_an_empty_tier_to_the_medical_director(
    migrated_url: str, tmp_path: Path
) -> None:
    rt = start_night(settings_for(migrated_url, tmp_path), SHIFTS)
    try:
        with Receiver() as receiver:
            webhook = _webhook(rt, receiver.url)
            stroke, other = (receive(rt, tmp_path, "h01", T0, **STROKE) for _ in range(2))
            rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
            _run(rt, webhook, T0 + timedelta(minutes=3))
            # The reader acknowledges one; nobody acknowledges the other.
            acks = NotificationService(rt.uow)
            r01 = Identity("r01", Role.RADIOLOGIST)
            assert acks.ack(other, by=r01, now=rt.clock.now(), origin="t") == 1
            watch = jobs.night_watch_of(rt)  # ack within 5 minutes by default
            assert escalate_unacknowledged(rt.dispatch, watch, T0 + timedelta(minutes=4)) == 0
            now = advance_to(rt, T0 + timedelta(minutes=8))
            assert escalate_unacknowledged(rt.dispatch, watch, now) == 1
            assert escalate_unacknowledged(rt.dispatch, watch, now) == 0  # once
            _run(rt, webhook, now + timedelta(seconds=10))
            # Unacknowledged again: the director is told again, never silence.
            now = advance_to(rt, now + timedelta(minutes=6))
            assert escalate_unacknowledged(rt.dispatch, watch, now) == 1
            _run(rt, webhook, now + timedelta(seconds=10))
        webhook.close(timeout=1)
    finally:
        rt.close()
    escalations = [b["payload"] for b in receiver.accepted if b["kind"] == "unacknowledged"]
    assert [p["study_uid"] for p in escalations] == [stroke, stroke]
    # r08, the only supervisor, is off shift: that tier is nobody, so it falls through.
    assert [(p["tier"], p["recipients"]) for p in escalations] == [
        ("medical_director", ["r00"]),
        ("medical_director", ["r00"]),
    ]
    assert escalations[0]["unacknowledged_kind"] == "assigned"


def test_a_receiver_answer_with_an_ack_acknowledges(migrated_url: str, tmp_path: Path) -> None:
    rt = start_night(settings_for(migrated_url, tmp_path), SHIFTS)
    try:
        with Receiver(answer=b'{"ack": true}') as receiver:
            webhook = _webhook(rt, receiver.url)
            stroke = receive(rt, tmp_path, "h01", T0, **STROKE)
            rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
            _run(rt, webhook, T0 + timedelta(minutes=3))
            watch = jobs.night_watch_of(rt)
            assert escalate_unacknowledged(rt.dispatch, watch, T0 + timedelta(hours=1)) == 0
        webhook.close(timeout=1)
        with rt.uow() as uow:
            [entry] = uow.outbox.entries(study_uid=stroke)
        assert (entry.state, entry.acked_by) == ("acknowledged", "receiver")
        assert json.loads(entry.body)["kind"] == "assigned"
        assert receiver.keys == [str(entry.id)]
    finally:
        rt.close()


def test_notify_resend_posts_a_given_up_notification_again(
    migrated_url: str, tmp_path: Path
) -> None:
    port = free_port()
    rt = start_night(settings_for(migrated_url, tmp_path), SHIFTS)
    webhook = _webhook(rt, f"http://127.0.0.1:{port}/hook")
    try:
        webhook.notify("maintenance", {"note": "about no study: given up after 5 tries"})
        _run(rt, webhook, T0 + timedelta(minutes=2), step_s=1)
        with rt.uow() as uow:
            [entry] = uow.outbox.entries()
        assert (entry.state, entry.attempts) == ("given_up", 5)
        service = NotificationService(rt.uow)
        alice = Identity("alice", Role.OPERATOR)
        r01 = Identity("r01", Role.RADIOLOGIST)
        refused = _refusal(lambda: service.resend(entry.id, by=r01, now=T0, origin="t"))
        assert "operators only" in refused
        missing = _refusal(lambda: service.resend(9999, by=alice, now=T0, origin="t"))
        assert "no notification 9999" in missing
        with Receiver(port=port) as receiver:
            service.resend(entry.id, by=alice, now=rt.clock.now(), origin="t")
            webhook.deliver_due()
        assert receiver.keys == [str(entry.id)]
        with rt.uow() as uow:
            trail = uow.audit.for_actor("alice")
        assert [(e.action, e.detail["outcome"]) for e in trail] == [
            ("notify_resend", "refused"),
            ("notify_resend", "ok"),
        ]
    finally:
        webhook.close(timeout=1)
        rt.close()


def _refusal(action: object) -> str:
    try:
        action()  # type: ignore[operator]
    except Exception as exc:
        return str(exc)
    raise AssertionError("not refused")
