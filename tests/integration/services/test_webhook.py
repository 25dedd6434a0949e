"""The webhook notifier against a real HTTP receiver on loopback and a real store.

Notifications go through the store's outbox: what a receiver did not take survives the
notifier's stop (a restart, a crash after the hand-off) and is posted by the next
delivering process; CLI processes only keep them; two servers never post one twice.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from garde.services.webhook import WebhookNotifier
from garde.store.models import WebhookOutboxRow
from tests.helpers import free_port
from tests.integration.services.webhook_receiver import Receiver

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Row

    from garde.store.uow import SqlUnitOfWork

    UowFactory = Callable[[], SqlUnitOfWork]


def delivering(url: str, uow_factory: UowFactory, **options: float) -> WebhookNotifier:
    notifier = WebhookNotifier(url, uow_factory, **options)  # type: ignore[arg-type]
    notifier.start_delivery()
    return notifier


def outbox(uow_factory: UowFactory) -> list[Row[Any]]:
    """The outbox rows, oldest first, as plain rows (they outlive the session)."""
    table = WebhookOutboxRow.__table__
    with uow_factory() as uow:
        return list(uow.session.execute(select(table).order_by(table.c.id)).all())


def test_a_receiver_failing_twice_gets_the_notification_on_the_third_try(
    uow_factory: UowFactory,
) -> None:
    with Receiver(failures=2) as receiver:
        notifier = delivering(receiver.url, uow_factory, attempts=5, backoff_s=0.01)
        notifier.notify("escalation_alert", {"study_uid": "1.2.3", "tier": "alert"})
        assert notifier.flush(10)
        notifier.close()
    assert len(receiver.requests) == 3
    assert receiver.requests[0] == receiver.requests[2]  # the same body, re-sent
    [body] = receiver.accepted
    assert body["kind"] == "escalation_alert"
    assert body["payload"] == {"study_uid": "1.2.3", "tier": "alert"}
    assert (notifier.delivered, notifier.dropped) == (1, 0)
    [row] = outbox(uow_factory)
    assert (row.attempts, row.last_error, row.dropped_at) == (2, "HTTP 500", None)
    assert row.delivered_at is not None
    assert receiver.keys == [str(row.id)]


def test_notify_returns_while_the_receiver_is_still_answering(uow_factory: UowFactory) -> None:
    with Receiver() as receiver:
        receiver.gate.clear()  # the receiver hangs until the gate opens
        notifier = delivering(receiver.url, uow_factory, attempts=1, timeout_s=10)
        began = time.monotonic()
        for n in range(3):
            notifier.notify("assigned", {"n": n})  # returns at once: handed over
        # Waiting on the receiver would take 10 s a call; the bound leaves room for load.
        assert time.monotonic() - began < 5
        assert receiver.accepted == []
        assert notifier.pending() == 3
        receiver.gate.set()
        assert notifier.flush(10)
        notifier.close()
    assert [b["payload"]["n"] for b in receiver.accepted] == [0, 1, 2]  # oldest first


def test_a_receiver_that_never_answers_is_given_up_after_the_attempts(
    uow_factory: UowFactory,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody"
    notifier = delivering(url, uow_factory, attempts=3, backoff_s=0.01, timeout_s=1)
    notifier.notify("assigned", {"study_uid": "1.2.3"})
    assert notifier.flush(10)
    notifier.close()
    assert (notifier.delivered, notifier.dropped) == (0, 1)
    [row] = outbox(uow_factory)
    assert row.attempts == 3
    assert row.dropped_at is not None
    assert "URLError" in (row.last_error or "")


def test_what_a_receiver_down_at_stop_did_not_take_goes_out_after_the_restart(
    uow_factory: UowFactory,
) -> None:
    port = free_port()
    # Backoff 0.5 s: the next try stays within a few seconds however many tries a
    # loaded machine makes before the stop (at 0.01 s, doubling, it could be minutes).
    down = delivering(
        f"http://127.0.0.1:{port}/hook", uow_factory, attempts=50, backoff_s=0.5, timeout_s=1
    )
    down.notify("escalation_supervisor", {"study_uid": "1.2.3"})
    deadline = time.monotonic() + 10
    while not any(r.attempts for r in outbox(uow_factory)) and time.monotonic() < deadline:
        time.sleep(0.02)
    down.close(timeout=0.1)  # the receiver is still down: stop with it pending
    [kept] = outbox(uow_factory)
    assert kept.attempts >= 1
    assert kept.delivered_at is None
    assert kept.dropped_at is None

    with Receiver() as receiver:
        again = delivering(receiver.url, uow_factory, attempts=50, backoff_s=0.01)
        assert again.flush(10)
        again.close()
    assert receiver.kinds() == ["escalation_supervisor"]
    assert receiver.keys == [str(kept.id)]


def test_a_process_that_does_not_deliver_keeps_its_notifications_for_the_server(
    uow_factory: UowFactory,
) -> None:
    with Receiver() as receiver:
        cli = WebhookNotifier(receiver.url, uow_factory)  # a CLI command: no delivery
        cli.notify("assigned", {"n": 1})
        cli.notify("assigned", {"n": 2})
        cli.close()
        assert receiver.accepted == []
        assert [r.kind for r in outbox(uow_factory)] == ["assigned", "assigned"]

        server = delivering(receiver.url, uow_factory)
        assert server.flush(10)
        server.close()
    assert [b["payload"]["n"] for b in receiver.accepted] == [1, 2]


def test_two_delivering_processes_never_post_one_notification_twice(
    uow_factory: UowFactory,
) -> None:
    with Receiver() as receiver:
        first = WebhookNotifier(receiver.url, uow_factory)
        for n in range(40):
            first.notify("assigned", {"n": n})
        assert first.flush(10)  # all kept, none posted yet
        second = WebhookNotifier(receiver.url, uow_factory)
        first.start_delivery()
        second.start_delivery()
        assert first.flush(20)
        assert second.flush(20)
        first.close()
        second.close()
    assert sorted(b["payload"]["n"] for b in receiver.accepted) == list(range(40))
    assert len(set(receiver.keys)) == 40
    assert first.delivered + second.delivered == 40


def test_a_bad_url_is_refused(uow_factory: UowFactory) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookNotifier("ftp://example.invalid/", uow_factory)


def test_a_notification_leased_by_a_dead_process_waits_for_its_lease_without_spinning(
    uow_factory: UowFactory,
) -> None:
    # A server died holding a lease on one notification: the next server posts it when
    # the lease runs out. Before, next_due said "due now" for the leased row and the
    # delivery thread looped on the store until then (thousands of queries a second).
    now = datetime.now(tz=UTC)
    with uow_factory() as uow:
        uow.outbox.add("assigned", '{"kind": "assigned", "payload": {"n": 1}}', now)
        [leased] = uow.outbox.lease_due(now, now + timedelta(seconds=1.5), 10)
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.next_due() == now + timedelta(seconds=1.5)
    opened = 0

    def counting() -> SqlUnitOfWork:
        nonlocal opened
        opened += 1
        return uow_factory()

    with Receiver() as receiver:
        server = delivering(receiver.url, counting)
        time.sleep(1.0)  # within the dead process's lease
        during_lease = opened
        assert server.flush(10)
        server.close()
    assert during_lease < 20  # a few idle rounds, not a busy loop
    assert [b["payload"]["n"] for b in receiver.accepted] == [1]
    assert receiver.keys == [str(leased.id)]


def test_a_stop_does_not_wait_for_a_retry_that_is_not_due(uow_factory: UowFactory) -> None:
    # The receiver is down and the next try is a minute away: a stop keeps the
    # notification for the next start at once rather than waiting out its timeout.
    url = f"http://127.0.0.1:{free_port()}/nobody"
    notifier = delivering(url, uow_factory, attempts=5, backoff_s=60, timeout_s=1)
    notifier.notify("assigned", {"study_uid": "1.2.3"})
    deadline = time.monotonic() + 10
    while not any(r.attempts for r in outbox(uow_factory)) and time.monotonic() < deadline:
        time.sleep(0.02)
    began = time.monotonic()
    notifier.close(timeout=60)
    assert time.monotonic() - began < 30  # before: the whole 60 s
    [kept] = outbox(uow_factory)
    assert (kept.attempts, kept.delivered_at, kept.dropped_at) == (1, None, None)
