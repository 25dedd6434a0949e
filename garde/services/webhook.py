"""Webhook notifications: an HTTP POST of JSON per notification, kept until delivered.

`WebhookNotifier.notify` only hands the notification to a background thread and
returns: dispatch never waits on the store or the network for it. That thread first
writes it to the store's outbox (`garde.store.repositories.outbox`), then, in the
process that delivers (`garde serve`, after `start_delivery`), posts what is due with
the standard library (`urllib`), oldest first. A failure (connection refused, timeout,
any non-2xx answer) is retried with exponential backoff, capped at ``backoff_max_s``.
A notification about an open study (its payload's ``study_uid``) is retried for as long
as the study is open: a stroke's is never given up after seconds. One about no open
study still failing after ``attempts`` tries is logged and given up. Until then it stays
in the outbox: a crash, a restart or a receiver down for the night loses nothing, and a
CLI command's notifications are posted by the running server.

A 2xx answer whose JSON body says ``{"ack": true}`` acknowledges the notification (a
pager that a person answered, say); otherwise the reader acknowledges with `garde ack`.
A stroke or emergency notification left unacknowledged escalates (`night_watch`).

The body is ``{"kind": ..., "at": ..., "payload": {...}}``; payloads carry ids and UIDs
only, never patient names, IDs or birth dates. The outbox row id goes in the
``Idempotency-Key`` header: delivery is at least once (a crash between the receiver's
answer and our record of it re-sends), so receivers deduplicate on it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from garde.dispatch.retry import keeps_trying, next_attempt

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.config.model import NotifySettings
    from garde.store.ports import UnitOfWork
    from garde.store.records import OutboxMessage

logger = logging.getLogger(__name__)

USER_AGENT = "garde-webhook/1"
_BATCH = 20  # notifications leased per round
_IDLE_S = 1.0  # the longest the thread sleeps with nothing due (a CLI may have added rows)
_STORE_RETRY_S = 2.0  # after a store error (database locked, disk full)


@dataclass(frozen=True, slots=True)
class _Message:
    kind: str
    body: str
    at: datetime
    study_uid: str | None = None
    priority: str | None = None


def _now() -> datetime:
    # Wall time by default: backoff is about the receiver, in real seconds. A simulated
    # night passes its own clock (the receiver's outage then lasts simulated minutes).
    return datetime.now(tz=UTC)


ACK_BYTES = 4096  # the most of a receiver's answer read for an acknowledgement


class WebhookNotifier:
    """Keeps notifications in the store's outbox and posts them to ``url``, with retries.

    Parameters
    ----------
    url
        The receiver (http:// or https://).
    uow_factory
        Units of work on the store holding the outbox.
    timeout_s
        Per-request timeout.
    attempts
        Tries per notification (>= 1).
    backoff_s
        Delay before the first retry; doubled at each further retry.
    backoff_max_s
        The longest delay between two retries.
    clock
        What "now" is (wall time by default).
    """

    def __init__(
        self,
        url: str,
        uow_factory: Callable[[], UnitOfWork],
        *,
        timeout_s: float = 5.0,
        attempts: int = 5,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must be http:// or https://, got {url!r}")
        if attempts < 1:
            raise ValueError(f"webhook attempts must be >= 1, got {attempts}")
        self.url = url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = max(backoff_max_s, backoff_s)
        self._clock = clock
        self.delivered = 0
        self.dropped = 0
        self._uow_factory = uow_factory
        self._incoming: queue.SimpleQueue[_Message] = queue.SimpleQueue()
        self._unsaved: list[_Message] = []  # taken off the queue, not yet in the store
        self._moving = threading.Lock()  # a message is always in the queue or in _unsaved
        self._saving = threading.Lock()  # one saver at a time (the thread, `deliver_due`)
        self._wake = threading.Event()
        self._delivering = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(
        cls,
        settings: NotifySettings,
        uow_factory: Callable[[], UnitOfWork],
        *,
        backoff_max_s: float = 60.0,
        clock: Callable[[], datetime] = _now,
    ) -> WebhookNotifier | None:
        """The notifier configured by ``[notify]``, or None without a webhook URL."""
        if not settings.webhook_url:
            return None
        return cls(
            settings.webhook_url,
            uow_factory,
            timeout_s=settings.webhook_timeout_s,
            attempts=settings.webhook_attempts,
            backoff_s=settings.webhook_backoff_s,
            backoff_max_s=backoff_max_s,
            clock=clock,
        )

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Hand ``kind`` with its payload to the thread; returns at once, never raises."""
        try:
            at = self._clock()
            body = json.dumps(
                {"kind": kind, "at": at.isoformat(), "payload": payload},
                sort_keys=True,
                default=str,
            )
            uid, priority = payload.get("study_uid"), payload.get("priority")
            self._incoming.put(
                _Message(
                    kind,
                    body,
                    at,
                    uid if isinstance(uid, str) else None,
                    priority if isinstance(priority, str) else None,
                )
            )
            self._wake.set()
        except Exception:  # a notification must never break dispatch
            logger.exception("webhook notification %s could not be queued", kind)

    def start_delivery(self) -> None:
        """Post notifications from now on (the serving process); until then they are
        only kept in the outbox."""
        self._delivering.set()
        self._wake.set()

    def pending(self) -> int:
        """Notifications neither delivered nor given up (in memory and in the store)."""
        # Not while a save moves them from memory to the store: counted before the save
        # in neither place (the store read first), or after it in both.
        with self._saving:
            in_memory = self._incoming.qsize() + len(self._unsaved)
            with self._uow_factory() as uow:
                return in_memory + uow.outbox.pending()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until every notification is in the store and, when
        delivering, posted or given up; True if so."""
        return self._wait(timeout, self._settled)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is due (up to ``timeout`` s), keep the rest in the store, stop.

        Notifications waiting for a retry later are not waited for: with the receiver
        down, a stop would otherwise always take the whole ``timeout``.
        """
        if self._stopping.is_set():
            return
        self._wait(timeout, self._nothing_due)
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=max(1.0, self.timeout_s + 1.0))
        if not self._thread.is_alive():  # else it still saves them itself: never twice
            self._save_incoming()  # anything notified while stopping
        left = self._count_pending()
        if left > 0 and self._delivering.is_set():
            logger.warning("webhook: %d notifications kept in the outbox for the next start", left)

    def _wait(self, timeout: float, done: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self._wake.set()
            if done():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            wait = _IDLE_S
            if not self._save_incoming():
                wait = _STORE_RETRY_S
            elif self._delivering.is_set():
                wait = self._deliver_due()
            self._wake.wait(wait)
            self._wake.clear()

    def _save_incoming(self) -> bool:
        """Move notifications from memory to the outbox; False on a store error (they
        stay in memory and are tried again)."""
        with self._saving:
            return self._save_unsaved()

    def _save_unsaved(self) -> bool:
        with self._moving:
            while True:
                try:
                    self._unsaved.append(self._incoming.get_nowait())
                except queue.Empty:
                    break
        if not self._unsaved:
            return True
        try:
            with self._uow_factory() as uow:
                for message in self._unsaved:
                    uow.outbox.add(
                        message.kind,
                        message.body,
                        message.at,
                        study_uid=message.study_uid,
                        priority=message.priority,
                    )
                uow.commit()
        except Exception:
            logger.exception("webhook: %d notifications not yet kept (store)", len(self._unsaved))
            return False
        self._unsaved.clear()
        return True

    def deliver_due(self) -> int:
        """Save what was notified and post what is due now, in the caller's thread (a
        simulated night drives delivery by its clock); returns how many were settled."""
        self._save_incoming()
        before = self.delivered + self.dropped
        self._deliver_due()
        return self.delivered + self.dropped - before

    def _deliver_due(self) -> float:
        """Post what is due; seconds until the next notification is due."""
        try:
            now = self._clock()
            lease = now + timedelta(seconds=self.timeout_s * _BATCH + 30.0)
            with self._uow_factory() as uow:
                leased = uow.outbox.lease_due(now, lease, _BATCH)
                uow.commit()
            for message in leased:
                if self._stopping.is_set():
                    return 0.0  # the rest keep their lease until it expires, then go out
                self._deliver(message)
            if len(leased) == _BATCH:
                return 0.0
            with self._uow_factory() as uow:
                due = uow.outbox.next_due()
        except Exception:
            logger.exception("webhook: could not read the outbox")
            return _STORE_RETRY_S
        if due is None:
            return _IDLE_S
        return min(_IDLE_S, max(0.0, (due - self._clock()).total_seconds()))

    def _deliver(self, message: OutboxMessage) -> None:
        error, acked = self._post(message)
        at = self._clock()
        tries = message.attempts + 1
        retry_at = None
        with self._uow_factory() as uow:
            if error is not None:
                retry_at = next_attempt(
                    tries,
                    at,
                    attempts=self.attempts,
                    study_open=self._study_open(uow, message),
                    backoff_s=self.backoff_s,
                    backoff_max_s=self.backoff_max_s,
                )
            if error is None:
                uow.outbox.delivered(message.id, at)
                if acked:
                    uow.outbox.acknowledge_one(message.id, at, by="receiver")
            else:
                uow.outbox.failed(message.id, error, at, retry_at=retry_at)
            uow.commit()
        if error is None:
            self.delivered += 1
            logger.debug("webhook %s delivered (attempt %d)", message.kind, tries)
        elif retry_at is not None:
            logger.info(
                "webhook %s failed (%s), attempt %d; retrying in %.1f s",
                message.kind,
                error,
                tries,
                (retry_at - at).total_seconds(),
            )
        else:
            self.dropped += 1
            logger.error("webhook %s dropped after %d attempts: %s", message.kind, tries, error)

    @staticmethod
    def _study_open(uow: UnitOfWork, message: OutboxMessage) -> bool:
        """Whether the notification is about a study still open (retried without end)."""
        if message.study_uid is None:
            return False
        record = uow.studies.get(message.study_uid)
        return keeps_trying(None if record is None else record.state)

    def _post(self, message: OutboxMessage) -> tuple[str | None, bool]:
        """POST once; (None, acknowledged) on a 2xx answer, else (what went wrong, False)."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=message.body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Idempotency-Key": str(message.id),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                status = int(response.status)
                answer = response.read(ACK_BYTES)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}", False
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = type(exc).__name__ + (f": {exc.reason}" if hasattr(exc, "reason") else "")
            return reason, False
        if not 200 <= status < 300:
            return f"HTTP {status}", False
        return None, _acknowledges(answer)

    # -- helpers ------------------------------------------------------------------------
    def _saved(self) -> bool:
        with self._moving:
            return self._incoming.empty() and not self._unsaved

    def _settled(self) -> bool:
        """Everything kept and, when delivering, posted or given up."""
        if not self._saved():
            return False
        return not self._delivering.is_set() or self._count_pending() == 0

    def _nothing_due(self) -> bool:
        """Everything kept and, when delivering, nothing due now (retries may wait)."""
        if not self._saved():
            return False
        if not self._delivering.is_set():
            return True
        try:
            with self._uow_factory() as uow:
                return uow.outbox.due_count(self._clock()) == 0
        except Exception:
            logger.exception("webhook: could not read the outbox")
            return True  # nothing more this process can do before it stops

    def _count_pending(self) -> int:
        try:
            with self._uow_factory() as uow:
                return uow.outbox.pending()
        except Exception:
            logger.exception("webhook: could not count the outbox")
            return -1


def _acknowledges(answer: bytes) -> bool:
    """Whether a receiver's answer is a JSON object with ``"ack": true``."""
    try:
        parsed = json.loads(answer or b"null")
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(parsed, dict) and parsed.get("ack") is True
