"""The webhook outbox: notifications kept until delivered or given up.

Rows are leased before posting, so several processes on one database never post the
same notification at once; a lease left by a crashed process expires and the row is
posted again (at-least-once delivery: the receiver deduplicates on the row id, sent as
the ``Idempotency-Key`` header).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, case, delete, func, or_, select, update

from garde.store.models import WebhookOutboxRow
from garde.store.records import OutboxBacklog, OutboxEntry, OutboxMessage

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

_ERROR_CHARS = 200
WEBHOOK = "webhook"  # the channel of the webhook thread's rows


__all__ = ["WEBHOOK", "OutboxBacklog", "OutboxEntry", "OutboxMessage", "OutboxRepository"]


class OutboxRepository:
    """Adds, leases and settles webhook notifications."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        kind: str,
        body: str,
        at: datetime,
        *,
        study_uid: str | None = None,
        priority: str | None = None,
    ) -> int:
        """Keep a new notification, due at once; its id."""
        row = WebhookOutboxRow(
            kind=kind,
            body=body,
            created_at=at,
            next_attempt_at=at,
            study_uid=study_uid,
            priority=priority,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def lease_due(self, now: datetime, until: datetime, limit: int) -> list[OutboxMessage]:
        """Lease up to ``limit`` due notifications, oldest first, until ``until``.

        A row another process leased in the meantime is skipped (the guarded update
        touches no row), so two processes never hold the same one.
        """
        rows = self._session.execute(
            select(
                WebhookOutboxRow.id,
                WebhookOutboxRow.kind,
                WebhookOutboxRow.body,
                WebhookOutboxRow.attempts,
                WebhookOutboxRow.study_uid,
            )
            .where(_open(), WebhookOutboxRow.next_attempt_at <= now, _unleased(now))
            .order_by(WebhookOutboxRow.id)
            .limit(limit)
        ).all()
        leased = []
        for row in rows:
            result = self._session.execute(
                update(WebhookOutboxRow)
                .where(WebhookOutboxRow.id == row.id, _open(), _unleased(now))
                .values(leased_until=until)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                leased.append(
                    OutboxMessage(row.id, row.kind, row.body, row.attempts, row.study_uid)
                )
        return leased

    def delivered(self, message_id: int, at: datetime) -> None:
        """The receiver accepted it."""
        self._session.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.id == message_id)
            .values(delivered_at=at, leased_until=None)
        )

    def failed(
        self, message_id: int, error: str, at: datetime, *, retry_at: datetime | None
    ) -> None:
        """A try failed: due again at ``retry_at``, or given up if that is None."""
        values: dict[str, object] = {
            "attempts": WebhookOutboxRow.attempts + 1,
            "last_error": error[:_ERROR_CHARS],
            "leased_until": None,
        }
        if retry_at is None:
            values["dropped_at"] = at
        else:
            values["next_attempt_at"] = retry_at
        self._session.execute(
            update(WebhookOutboxRow).where(WebhookOutboxRow.id == message_id).values(**values)
        )

    def pending(self) -> int:
        """Notifications neither delivered nor given up."""
        query = select(func.count()).select_from(WebhookOutboxRow).where(_open())
        return int(self._session.scalar(query) or 0)

    def backlog(self, since: datetime) -> OutboxBacklog:
        """What waits (and since when) and what was given up at or after ``since``."""
        waiting, oldest = self._session.execute(
            select(func.count(), func.min(WebhookOutboxRow.created_at)).where(_open())
        ).one()
        dropped = self._session.scalar(
            select(func.count()).where(
                WebhookOutboxRow.dropped_at.is_not(None), WebhookOutboxRow.dropped_at >= since
            )
        )
        return OutboxBacklog(int(waiting or 0), oldest, int(dropped or 0))

    def purge_settled(self, before: datetime) -> int:
        """Delete notifications delivered or given up before ``before``; how many."""
        result = self._session.execute(
            delete(WebhookOutboxRow).where(
                or_(WebhookOutboxRow.delivered_at < before, WebhookOutboxRow.dropped_at < before)
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def due_count(self, now: datetime) -> int:
        """Pending notifications whose attempt is due at ``now``, leased or not (one
        being posted counts until it is settled)."""
        query = (
            select(func.count())
            .select_from(WebhookOutboxRow)
            .where(_open(), WebhookOutboxRow.next_attempt_at <= now)
        )
        return int(self._session.scalar(query) or 0)

    def next_due(self) -> datetime | None:
        """When the earliest pending notification may be leased: its next attempt, or
        the end of its lease if another process holds it longer (a row leased by a
        process that died is due when its lease runs out, not at once)."""
        lease = WebhookOutboxRow.leased_until
        due = case(
            (lease > WebhookOutboxRow.next_attempt_at, lease),
            else_=WebhookOutboxRow.next_attempt_at,
        )
        found: datetime | None = self._session.scalar(select(func.min(due)).where(_open()))
        return found

    # -- acknowledgement, listing, resending (issue 12) ----------------------------------
    def acknowledge_one(self, message_id: int, at: datetime, *, by: str) -> None:
        """The receiver's answer acknowledged it."""
        self._session.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.id == message_id, WebhookOutboxRow.acked_at.is_(None))
            .values(acked_at=at, acked_by=by[:64])
        )

    def acknowledge_study(self, study_uid: str, at: datetime, *, by: str) -> int:
        """``by`` (a reader, `garde ack`) acknowledges every notification of a study;
        returns how many were not acknowledged yet."""
        result = self._session.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.study_uid == study_uid, WebhookOutboxRow.acked_at.is_(None))
            .values(acked_at=at, acked_by=by[:64])
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def unacknowledged(
        self, created_before: datetime, priorities: Iterable[str]
    ) -> list[OutboxEntry]:
        """Notifications of these priorities created before ``created_before``, neither
        acknowledged nor escalated yet (delivered or not), oldest first."""
        query = (
            select(WebhookOutboxRow)
            .where(
                WebhookOutboxRow.study_uid.is_not(None),
                WebhookOutboxRow.priority.in_(list(priorities)),
                WebhookOutboxRow.acked_at.is_(None),
                WebhookOutboxRow.escalated_at.is_(None),
                WebhookOutboxRow.created_at <= created_before,
            )
            .order_by(WebhookOutboxRow.id)
        )
        return [_entry(row) for row in self._session.scalars(query)]

    def mark_escalated(self, message_id: int, at: datetime) -> bool:
        """Record that an unacknowledged notification escalated; False if another
        process did it first (the guarded update touches no row)."""
        result = self._session.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.id == message_id, WebhookOutboxRow.escalated_at.is_(None))
            .values(escalated_at=at)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def entries(
        self, *, study_uid: str | None = None, open_only: bool = False, limit: int = 100
    ) -> list[OutboxEntry]:
        """The newest notifications (of one study, or only those still waiting), newest
        first."""
        query = select(WebhookOutboxRow).order_by(WebhookOutboxRow.id.desc()).limit(limit)
        if study_uid is not None:
            query = query.where(WebhookOutboxRow.study_uid == study_uid)
        if open_only:
            query = query.where(_open())
        return [_entry(row) for row in self._session.scalars(query)]

    def get(self, message_id: int) -> OutboxEntry | None:
        """One notification, by id."""
        row = self._session.get(WebhookOutboxRow, message_id)
        return None if row is None else _entry(row)

    def resend(self, message_id: int, now: datetime) -> bool:
        """Post it again at once (given up, delivered or waiting), under the same
        Idempotency-Key; False if there is no such notification."""
        result = self._session.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.id == message_id)
            .values(
                delivered_at=None,
                dropped_at=None,
                leased_until=None,
                next_attempt_at=now,
                attempts=0,
            )
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]


def _entry(row: WebhookOutboxRow) -> OutboxEntry:
    if row.acked_at is not None:
        state = "acknowledged"
    elif row.delivered_at is not None:
        state = "delivered"
    elif row.dropped_at is not None:
        state = "given_up"
    else:
        state = "waiting"
    return OutboxEntry(
        id=row.id,
        kind=row.kind,
        study_uid=row.study_uid,
        priority=row.priority,
        created_at=row.created_at,
        attempts=row.attempts,
        state=state,
        last_error=row.last_error,
        acked_by=row.acked_by,
        escalated_at=row.escalated_at,
        body=row.body,
    )


def _open() -> ColumnElement[bool]:
    # Only webhook rows: report deliveries share the table but have their own sender
    # (`garde.store.repositories.deliveries`).
    return and_(
        WebhookOutboxRow.channel == WEBHOOK,
        WebhookOutboxRow.delivered_at.is_(None),
        WebhookOutboxRow.dropped_at.is_(None),
    )


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookOutboxRow.leased_until.is_(None), WebhookOutboxRow.leased_until < now)
