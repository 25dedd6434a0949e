"""The thread that sends reports out of the outbox, with retries, and alerts on those
that stay undelivered.

Each due row (a report object for one destination) is leased, sent, and settled:
delivered on the destination's receipt (C-STORE success, HL7 AA, a 2xx answer), else
due again after a backoff doubling from ``backoff_s`` up to ``backoff_max_s``. A report
is never given up: one still undelivered ``alert_after_min`` after it was signed alerts
the operator (log, webhook notification, `garde status`). The rows are in the store, so
a restart, a kill -9 or a destination down for hours loses nothing; a row sent but not
yet settled when the process died is sent again under the same SOP Instance UID or
message control id, which the destination keeps once.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from garde.reporting import dicom_send, mllp
from garde.reporting.errors import DeliveryError, RejectedError
from garde.reporting.oru import check_ack

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.config.reporting import Destination, ReportingSettings
    from garde.dispatch.ports import Notifier
    from garde.store.ports import UnitOfWork
    from garde.store.records import Delivery

logger = logging.getLogger(__name__)

_BATCH = 10
POLL_S = 0.2  # a CLI's `done` is picked up this fast (the median figure depends on it)
_ALERT_EVERY_S = 5.0


def _now() -> datetime:
    return datetime.now(tz=UTC)


class ReportDelivery:
    """Sends due report deliveries in a background thread (`start`), or in the caller's
    thread (`deliver_due`, for a simulated clock)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        settings: ReportingSettings,
        *,
        calling_ae: str,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._uow_factory = uow_factory
        self.settings = settings
        self.calling_ae = calling_ae
        self._notifier = notifier
        self._clock = clock
        self.delivered = 0
        self.failures = 0
        self.alerts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_alert_check: datetime | None = None

    def start(self) -> None:
        """Send from now on, in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="report-delivery", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the row in hand; the rest stay in the outbox."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
                self._maybe_alert()
            except Exception:  # a boundary: the thread keeps going
                logger.exception("report delivery: round failed")
                sent = 0
            if not sent:
                self._stop.wait(POLL_S)

    def deliver_due(self) -> int:
        """Send what is due now; how many rows were settled (delivered or failed)."""
        now = self._clock()
        until = now + timedelta(seconds=(self.settings.timeout_s + 1.0) * _BATCH + 5.0)
        with self._uow_factory() as uow:
            leased = uow.reports.lease_due(now, until, _BATCH)
            uow.commit()
        for delivery in leased:
            if self._stop.is_set():
                break
            self._deliver(delivery)
        return len(leased)

    def check_alerts(self) -> int:
        """Alert on reports undelivered for ``alert_after_min``; how many new alerts."""
        now = self._clock()
        before = now - timedelta(minutes=self.settings.alert_after_min)
        count = 0
        with self._uow_factory() as uow:
            repo = uow.reports
            for report in repo.undelivered_since(before):
                if not repo.mark_alerted(report.id, now):
                    continue
                open_rows = [
                    d
                    for d in repo.deliveries(report.study_uid, open_only=True)
                    if d.report_id == report.id
                ]
                errors = sorted({d.last_error for d in open_rows if d.last_error})
                logger.error(
                    "study %s: report %d undelivered for %.0f min (%s)",
                    report.study_uid,
                    report.number,
                    (now - (report.final_at or now)).total_seconds() / 60,
                    "; ".join(errors) or "no destination configured",
                )
                uow.audit.append(
                    at=now,
                    actor="garde",
                    action="report_undelivered",
                    study_uid=report.study_uid,
                    detail={"report": report.number, "errors": errors[:3]},
                )
                count += 1
                if self._notifier is not None:
                    self._notifier.notify(
                        "report_undelivered",
                        {
                            "study_uid": report.study_uid,
                            "report": report.number,
                            "destinations": sorted({d.destination for d in open_rows}),
                            "error": "; ".join(errors)[:200],
                        },
                    )
            uow.commit()
        self.alerts += count
        return count

    def _maybe_alert(self) -> None:
        now = self._clock()
        last = self._last_alert_check
        if last is None or (now - last).total_seconds() >= _ALERT_EVERY_S:
            self._last_alert_check = now
            self.check_alerts()

    def _deliver(self, delivery: Delivery) -> None:
        error: str | None = None
        try:
            self._send(delivery)
        except RejectedError as exc:
            error = str(exc)
            logger.error(  # noqa: TRY400 - the destination's answer, not our bug
                "report %s to %s refused: %s", delivery.dedupe_key, delivery.destination, error
            )
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a boundary: a row must never be lost to a bug here
            logger.exception("report %s to %s", delivery.dedupe_key, delivery.destination)
            error = f"{type(exc).__name__}: {exc}"
        at = self._clock()
        with self._uow_factory() as uow:
            repo = uow.reports
            if error is None:
                repo.delivered(delivery.id, at)
            else:
                delay = min(
                    self.settings.backoff_s * 2.0 ** min(delivery.attempts, 30),
                    self.settings.backoff_max_s,
                )
                repo.failed(delivery.id, error, at + timedelta(seconds=delay))
            uow.commit()
        if error is None:
            self.delivered += 1
            logger.info(
                "study %s: report %s delivered to %s",
                delivery.study_uid,
                delivery.dedupe_key,
                delivery.destination,
            )
        else:
            self.failures += 1
            logger.warning(
                "study %s: report to %s failed (attempt %d): %s",
                delivery.study_uid,
                delivery.destination,
                delivery.attempts + 1,
                error,
            )

    def _destination(self, key: str) -> Destination:
        for dest in self.settings.destinations:
            if dest.key == key:
                return dest
        raise DeliveryError(f"destination {key} is no longer configured")

    def _send(self, delivery: Delivery) -> None:
        dest = self._destination(delivery.destination)
        timeout = self.settings.timeout_s
        if delivery.channel == "dicom":
            path = Path(json.loads(delivery.body)["path"])
            dicom_send.store(path, dest, calling_ae=self.calling_ae, timeout_s=timeout)
        elif delivery.channel == "hl7":
            answer = mllp.send(dest.host, dest.port, delivery.body, timeout_s=timeout)
            check_ack(answer, delivery.dedupe_key)
        elif delivery.channel == "critical":
            _post(dest.url, delivery.body, delivery.dedupe_key, timeout)
        else:
            raise DeliveryError(f"unknown channel {delivery.channel!r}")


def _post(url: str, body: str, key: str, timeout: float) -> None:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the loader
        url,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise RejectedError(f"webhook HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}") from exc
    if not 200 <= status < 300:
        raise RejectedError(f"webhook HTTP {status}")
