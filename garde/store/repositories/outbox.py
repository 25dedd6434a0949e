"""The webhook outbox: notifications kept until delivered or given up.

Rows are leased before posting, so several processes on one database never post the
same notification at once; a lease left by a crashed process expires and the row is
posted again (at-least-once delivery: the receiver deduplicates on the row id, sent as
the ``Idempotency-Key`` header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, delete, func, or_, select, update

from garde.store.models import WebhookOutboxRow

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

_ERROR_CHARS = 200


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One notification to post."""

    id: int
    kind: str
    body: str
    attempts: int  # failed tries so far


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The outbox at a glance, for `garde status`."""

    waiting: int
    oldest_waiting_since: datetime | None
    given_up: int


class OutboxRepository:
    """Adds, leases and settles webhook notifications."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, kind: str, body: str, at: datetime) -> int:
        """Keep a new notification, due at once; its id."""
        row = WebhookOutboxRow(kind=kind, body=body, created_at=at, next_attempt_at=at)
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
                leased.append(OutboxMessage(row.id, row.kind, row.body, row.attempts))
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


def _open() -> ColumnElement[bool]:
    return and_(WebhookOutboxRow.delivered_at.is_(None), WebhookOutboxRow.dropped_at.is_(None))


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookOutboxRow.leased_until.is_(None), WebhookOutboxRow.leased_until < now)
