"""Notifiers: structured log lines, and a fan-out to webhooks behind the same port."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.config.model import NotifySettings
    from garde.dispatch.ports import Notifier
    from garde.store.ports import UnitOfWork

logger = logging.getLogger(__name__)


class LogNotifier:
    """Writes each notification as one structured log line (ids and UIDs only)."""

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Log ``kind`` with its JSON payload; never raises."""
        try:
            # Escalations need a human's eye in the log; routine assignments do not.
            level = logging.WARNING if kind.startswith("escalat") else logging.INFO
            logger.log(
                level, "notify %s %s", kind, json.dumps(payload, sort_keys=True, default=str)
            )
        except Exception:  # a notification must never break dispatch
            logger.exception("notification %s could not be logged", kind)


class FanoutNotifier:
    """Sends each notification to several notifiers (the log, a webhook); never raises."""

    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Pass ``kind`` and its payload to every notifier in turn."""
        for notifier in self.notifiers:
            try:
                notifier.notify(kind, payload)
            except Exception:  # one broken notifier must not silence the others
                logger.exception("notifier %s failed on %s", type(notifier).__name__, kind)

    def start_delivery(self) -> None:
        """Start posting (the serving process); other processes only keep notifications."""
        for notifier in self.notifiers:
            start = getattr(notifier, "start_delivery", None)
            if start is not None:
                start()

    def close(self, timeout: float = 5.0) -> None:
        """Flush and stop the notifiers that queue (webhooks)."""
        for notifier in self.notifiers:
            close = getattr(notifier, "close", None)
            if close is not None:
                close(timeout)


def build_notifier(
    settings: NotifySettings,
    uow_factory: Callable[[], UnitOfWork],
    *,
    backoff_max_s: float = 60.0,
) -> FanoutNotifier:
    """The log notifier, plus a webhook (its outbox in the store of ``uow_factory``)
    when ``[notify] webhook_url`` is set."""
    from garde.services.webhook import WebhookNotifier  # noqa: PLC0415 - urllib on demand

    webhook = WebhookNotifier.from_settings(settings, uow_factory, backoff_max_s=backoff_max_s)
    return FanoutNotifier(LogNotifier(), *([webhook] if webhook is not None else []))
