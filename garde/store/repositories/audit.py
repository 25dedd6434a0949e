"""The append-only audit trail: who did what to which study, when, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from garde.store.models import AuditEventRow
from garde.store.records import AuditEvent

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from sqlalchemy.orm import Session


class AuditRepository:
    """Appends and reads audit events; there is no update and no delete."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        study_uid: str | None = None,
        radiologist_id: str | None = None,
        origin: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one event.

        Parameters
        ----------
        at
            When it happened (aware UTC).
        actor
            Who did it: ``router``, ``optimizer``, ``sla``, a radiologist id, ``cli``...
        action
            What: ``assign``, ``start``, ``finish``, ``escalate``...
        study_uid, radiologist_id
            What it concerns, when it concerns a study or a reader.
        origin
            Where the request came from (host, AE title, job id), if useful.
        detail
            JSON-safe details; never patient names, IDs or birth dates.
        """
        self._session.add(
            AuditEventRow(
                at=at,
                actor=actor,
                action=action,
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                origin=origin,
                detail=dict(detail or {}),
            )
        )
        self._session.flush()

    def for_study(self, study_uid: str) -> list[AuditEvent]:
        """A study's events, oldest first."""
        query = select(AuditEventRow).where(AuditEventRow.study_uid == study_uid)
        return self._events(query)

    def for_radiologist(self, radiologist_id: str) -> list[AuditEvent]:
        """A radiologist's events, oldest first."""
        query = select(AuditEventRow).where(AuditEventRow.radiologist_id == radiologist_id)
        return self._events(query)

    def for_actor(self, actor: str) -> list[AuditEvent]:
        """What one actor (an operator, a radiologist, ``router``, ``sla``...) did or
        was refused, oldest first."""
        query = select(AuditEventRow).where(AuditEventRow.actor == actor)
        return self._events(query)

    def _events(self, query: Any) -> list[AuditEvent]:
        rows = self._session.scalars(query.order_by(AuditEventRow.at, AuditEventRow.id))
        return [
            AuditEvent(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                study_uid=row.study_uid,
                radiologist_id=row.radiologist_id,
                origin=row.origin,
                detail=row.detail,
            )
            for row in rows
        ]
