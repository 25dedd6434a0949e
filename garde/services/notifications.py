"""What people do with notifications: acknowledge them, list them, send one again.

A reader acknowledges the notifications of a study with `garde ack` (a stroke or
emergency notification nobody acknowledges escalates: `night_watch`); operators list
the outbox and resend a notification (under the same Idempotency-Key, so a receiver
that had it already ignores it). Every call is audited once, refusals included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.escalation import may_acknowledge
from garde.services.identity import IdentityError, PermissionDeniedError
from garde.services.refusals import ReadingRefusedError, Refusal, record_refused

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.services.identity import Identity
    from garde.store.ports import UnitOfWork
    from garde.store.records import OutboxEntry


@dataclass
class NotificationService:
    """Acknowledge, list and resend notifications (the store's outbox)."""

    uow_factory: Callable[[], UnitOfWork]

    def ack(self, study_uid: str, *, by: Identity, now: datetime, origin: str) -> int:
        """``by`` acknowledges every notification of ``study_uid``; returns how many
        were not acknowledged yet.

        Allowed to its reader, to a supervisor or the medical director, and to
        operators.

        Raises
        ------
        ReadingRefusedError
            Unknown study, or a study that is someone else's.
        """
        try:
            count = self._ack(study_uid, by, now, origin)
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory, by, "ack", now=now, origin=origin, exc=exc, study_uid=study_uid
            )
            raise
        return count

    def _ack(self, study_uid: str, by: Identity, now: datetime, origin: str) -> int:
        with self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None:
                raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
            reader = {r.id: r for r in uow.directory.radiologists()}.get(by.subject)
            if not may_acknowledge(
                by.subject, record.assignee, operator=by.is_operator, reader=reader
            ):
                raise ReadingRefusedError(
                    f"study {study_uid} is not yours to acknowledge "
                    f"(it is {record.assignee or 'nobody'}'s)",
                    Refusal.NOT_YOURS,
                )
            count = uow.outbox.acknowledge_study(study_uid, now, by=by.subject)
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="ack",
                study_uid=study_uid,
                radiologist_id=None if by.is_operator else by.subject,
                origin=origin,
                detail={"outcome": "ok", "notifications": count},
            )
            uow.commit()
        return count

    def entries(
        self,
        *,
        by: Identity,
        now: datetime,
        origin: str,
        study_uid: str | None = None,
        open_only: bool = False,
        limit: int = 100,
    ) -> list[OutboxEntry]:
        """The newest notifications, newest first (operators); audited."""
        try:
            _require_operator(by, "list notifications")
        except IdentityError as exc:
            record_refused(self.uow_factory, by, "notify_list", now=now, origin=origin, exc=exc)
            raise
        with self.uow_factory() as uow:
            found = uow.outbox.entries(study_uid=study_uid, open_only=open_only, limit=limit)
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="notify_list",
                study_uid=study_uid,
                origin=origin,
                detail={"outcome": "ok", "rows": len(found)},
            )
            uow.commit()
        return found

    def resend(self, message_id: int, *, by: Identity, now: datetime, origin: str) -> OutboxEntry:
        """Post notification ``message_id`` again at once (operators); the running
        `serve` posts it.

        Raises
        ------
        LookupError
            No such notification.
        """
        try:
            _require_operator(by, "resend notifications")
            entry = self._resend(message_id, by, now, origin)
        except (IdentityError, LookupError) as exc:
            record_refused(self.uow_factory, by, "notify_resend", now=now, origin=origin, exc=exc)
            raise
        return entry

    def _resend(self, message_id: int, by: Identity, now: datetime, origin: str) -> OutboxEntry:
        with self.uow_factory() as uow:
            entry = uow.outbox.get(message_id)
            if entry is None or not uow.outbox.resend(message_id, now):
                raise LookupError(f"no notification {message_id} (see `garde notify list`)")
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="notify_resend",
                study_uid=entry.study_uid,
                origin=origin,
                detail={"outcome": "ok", "notification": message_id, "was": entry.state},
            )
            uow.commit()
        return entry


def _require_operator(by: Identity, what: str) -> None:
    if not by.is_operator:
        raise PermissionDeniedError(f"{by.subject} may not {what}: operators only")
