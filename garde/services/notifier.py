"""Notifiers: structured log lines now; webhooks plug in behind the same port."""

from __future__ import annotations

import json
import logging

logger = logging.getLogger(__name__)


class LogNotifier:
    """Writes each notification as one structured log line (ids and UIDs only)."""

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Log ``kind`` with its JSON payload; never raises."""
        try:
            # Escalations need a human's eye in the log; routine assignments do not.
            level = logging.WARNING if kind.startswith("escalat") else logging.INFO
            logger.log(level, "notify %s %s", kind, json.dumps(payload, sort_keys=True, default=str))
        except Exception:  # a notification must never break dispatch
            logger.exception("notification %s could not be logged", kind)
