"""Webhook notifications: an HTTP POST of JSON per notification, off the dispatch path.

`WebhookNotifier.notify` only puts the notification on a queue and returns; one
background thread posts each in turn with the standard library (`urllib`), retrying a
failure (connection refused, timeout, any non-2xx answer) with exponential backoff. A
notification still failing after ``attempts`` tries is logged and dropped: dispatch is
never blocked and never fails because a receiver is down.

The body is ``{"kind": ..., "at": ..., "payload": {...}}``; payloads carry ids and UIDs
only, never patient names, IDs or birth dates.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from garde.config.model import NotifySettings

logger = logging.getLogger(__name__)

USER_AGENT = "garde-webhook/1"


@dataclass(frozen=True, slots=True)
class _Message:
    kind: str
    body: bytes


class WebhookNotifier:
    """Posts notifications to ``url`` from a background thread, with retries.

    Parameters
    ----------
    url
        The receiver (http:// or https://).
    timeout_s
        Per-request timeout.
    attempts
        Tries per notification (>= 1).
    backoff_s
        Delay before the first retry; doubled at each further retry.
    """

    def __init__(
        self, url: str, *, timeout_s: float = 5.0, attempts: int = 5, backoff_s: float = 1.0
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must be http:// or https://, got {url!r}")
        if attempts < 1:
            raise ValueError(f"webhook attempts must be >= 1, got {attempts}")
        self.url = url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.delivered = 0
        self.dropped = 0
        self._queue: queue.Queue[_Message | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> WebhookNotifier | None:
        """The notifier configured by ``[notify]``, or None without a webhook URL."""
        if not settings.webhook_url:
            return None
        return cls(
            settings.webhook_url,
            timeout_s=settings.webhook_timeout_s,
            attempts=settings.webhook_attempts,
            backoff_s=settings.webhook_backoff_s,
        )

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Queue ``kind`` with its payload for posting; returns at once, never raises."""
        try:
            body = json.dumps(
                {"kind": kind, "at": datetime.now(tz=UTC).isoformat(), "payload": payload},
                sort_keys=True,
                default=str,
            ).encode()
            self._queue.put(_Message(kind, body))
        except Exception:  # a notification must never break dispatch
            logger.exception("webhook notification %s could not be queued", kind)

    def pending(self) -> int:
        """Notifications queued and not yet delivered or dropped (approximate)."""
        return self._queue.unfinished_tasks

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to drain; True if it did."""
        done = threading.Event()

        def _wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=_wait, name="webhook-flush", daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` s), then stop the thread (idempotent)."""
        if self._stopping.is_set():
            return
        if not self.flush(timeout):
            logger.warning("webhook: %d notifications not delivered at stop", self.pending())
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=max(0.1, self.timeout_s))

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            try:
                if message is None:
                    return
                self._deliver(message)
            finally:
                self._queue.task_done()

    def _deliver(self, message: _Message) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            error = self._post(message.body)
            if error is None:
                self.delivered += 1
                logger.debug("webhook %s delivered (attempt %d)", message.kind, attempt)
                return
            if attempt == self.attempts:
                break
            logger.info(
                "webhook %s failed (%s), attempt %d/%d; retrying in %.1f s",
                message.kind,
                error,
                attempt,
                self.attempts,
                delay,
            )
            # Waiting on the stop event lets a stop cut the backoff short.
            if self._stopping.wait(delay):
                break
            delay *= 2
        self.dropped += 1
        logger.error("webhook %s dropped after %d attempts: %s", message.kind, self.attempts, error)

    def _post(self, body: bytes) -> str | None:
        """POST once; None on a 2xx answer, else what went wrong."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return type(exc).__name__ + (f": {exc.reason}" if hasattr(exc, "reason") else "")
        return None if 200 <= status < 300 else f"HTTP {status}"
