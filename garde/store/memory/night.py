"""The read-side queries over studies in memory (`garde.store.repositories.night`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.model import StudyState
from garde.store.enums import PURGE_ACTION
from garde.store.memory.tables import utc

if TYPE_CHECKING:
    from datetime import datetime

    from garde.store.memory.tables import Transaction
    from garde.store.records import StudyRecord


class MemoryNight:
    """The night's arrivals and what retention may purge."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def received_since(self, since: datetime) -> list[StudyRecord]:
        """Studies whose first instance arrived at or after ``since``, oldest first."""
        cut = utc(since)
        found = [r for r in self._tx.all_studies() if r.first_received_at >= cut]
        return sorted(found, key=lambda r: r.first_received_at)  # stable: then id

    def purgeable(self, reported_before: datetime, limit: int = 500) -> list[StudyRecord]:
        """Read studies reported before ``reported_before`` whose pixels are not purged yet."""
        cut = utc(reported_before)
        purged = {e.study_uid for e in self._tx.audit_events() if e.action == PURGE_ACTION}
        found = [
            r
            for r in self._tx.in_states(StudyState.DONE)
            if r.done_at is not None and r.done_at <= cut and r.study_uid not in purged
        ]
        return sorted(found, key=lambda r: r.done_at or cut)[:limit]  # stable: then id
