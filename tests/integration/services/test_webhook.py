"""The webhook notifier against a real HTTP receiver on loopback."""

from __future__ import annotations

import pytest

from garde.services.webhook import WebhookNotifier
from tests.helpers import free_port
from tests.integration.services.webhook_receiver import Receiver


def test_a_receiver_failing_twice_gets_the_notification_on_the_third_try() -> None:
    with Receiver(failures=2) as receiver:
        notifier = WebhookNotifier(receiver.url, attempts=5, backoff_s=0.01, timeout_s=5)
        notifier.notify("escalation_alert", {"study_uid": "1.2.3", "tier": "alert"})
        assert notifier.flush(10)
        notifier.close()
    assert len(receiver.requests) == 3
    assert receiver.requests[0] == receiver.requests[2]  # the same body, re-sent
    [body] = receiver.accepted
    assert body["kind"] == "escalation_alert"
    assert body["payload"] == {"study_uid": "1.2.3", "tier": "alert"}
    assert (notifier.delivered, notifier.dropped) == (1, 0)


def test_notify_returns_while_the_receiver_is_still_answering() -> None:
    with Receiver() as receiver:
        receiver.gate.clear()  # the receiver hangs until the gate opens
        notifier = WebhookNotifier(receiver.url, attempts=1, timeout_s=10)
        for n in range(3):
            notifier.notify("assigned", {"n": n})  # returns at once: queued
        assert receiver.accepted == []
        assert notifier.pending() >= 2
        receiver.gate.set()
        assert notifier.flush(10)
        notifier.close()
    assert [b["payload"]["n"] for b in receiver.accepted] == [0, 1, 2]


def test_a_receiver_that_never_answers_is_given_up_after_the_attempts() -> None:
    notifier = WebhookNotifier(
        f"http://127.0.0.1:{free_port()}/nobody", attempts=3, backoff_s=0.01, timeout_s=1
    )
    notifier.notify("assigned", {"study_uid": "1.2.3"})
    assert notifier.flush(10)
    notifier.close()
    assert (notifier.delivered, notifier.dropped) == (0, 1)


def test_a_bad_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookNotifier("ftp://example.invalid/")
