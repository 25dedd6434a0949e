"""Read-side queries of the service runtime: the night's studies, what retention may purge.

Additive to the other repositories (it only reads): ``uow.night``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from garde.dispatch.model import StudyState
from garde.store.enums import PURGE_ACTION
from garde.store.models import AuditEventRow, StudyRow
from garde.store.repositories.study import study_record

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from garde.store.records import StudyRecord

__all__ = ["PURGE_ACTION", "NightQueries"]


class NightQueries:
    """Queries over studies for `garde status` and the retention job."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def received_since(self, since: datetime) -> list[StudyRecord]:
        """Studies whose first instance arrived at or after ``since``, oldest first."""
        query = (
            select(StudyRow)
            .where(StudyRow.first_received_at >= since)
            .order_by(StudyRow.first_received_at, StudyRow.id)
        )
        return [study_record(row) for row in self._session.scalars(query)]

    def purgeable(self, reported_before: datetime, limit: int = 500) -> list[StudyRecord]:
        """Read studies reported before ``reported_before`` whose pixels are not purged yet."""
        purged = exists().where(
            AuditEventRow.study_uid == StudyRow.study_uid,
            AuditEventRow.action == PURGE_ACTION,
        )
        query = (
            select(StudyRow)
            .where(
                StudyRow.state == StudyState.DONE,
                StudyRow.done_at <= reported_before,
                ~purged,
            )
            .order_by(StudyRow.done_at, StudyRow.id)
            .limit(limit)
        )
        return [study_record(row) for row in self._session.scalars(query)]
