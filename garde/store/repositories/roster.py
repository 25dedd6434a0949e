"""Shifts: the on-call roster, re-importable range by range."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from garde.dispatch.model import Shift
from garde.store.models import ShiftRow

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from sqlalchemy.orm import Session


class RosterRepository:
    """Stored shifts."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def replace_shifts(self, start: datetime, end: datetime, shifts: Iterable[Shift]) -> int:
        """Replace every shift starting in [start, end) with ``shifts``.

        Importing the same roster twice leaves the same shifts (idempotent); shifts
        outside the range are kept. Returns how many shifts were stored.

        Raises
        ------
        ValueError
            If one of ``shifts`` starts outside [start, end): it would survive the next
            import of that range and be duplicated.
        """
        if end <= start:
            raise ValueError(f"empty range: {start.isoformat()} to {end.isoformat()}")
        rows = []
        for shift in shifts:
            if not start <= shift.start < end:
                raise ValueError(
                    f"shift of {shift.radiologist_id!r} at {shift.start.isoformat()} starts "
                    f"outside the imported range {start.isoformat()} to {end.isoformat()}"
                )
            rows.append(
                ShiftRow(
                    radiologist_id=shift.radiologist_id,
                    starts_at=shift.start,
                    ends_at=shift.end,
                    role=shift.role,
                    sites=None if shift.sites is None else sorted(shift.sites),
                )
            )
        self._session.execute(
            delete(ShiftRow).where(ShiftRow.starts_at >= start, ShiftRow.starts_at < end)
        )
        self._session.add_all(rows)
        self._session.flush()
        return len(rows)

    def shifts_between(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts overlapping [start, end), by start then radiologist."""
        query = (
            select(ShiftRow)
            .where(ShiftRow.starts_at < end, ShiftRow.ends_at > start)
            .order_by(ShiftRow.starts_at, ShiftRow.radiologist_id, ShiftRow.id)
        )
        return [
            Shift(
                radiologist_id=row.radiologist_id,
                start=row.starts_at,
                end=row.ends_at,
                role=row.role,
                sites=None if row.sites is None else frozenset(row.sites),
            )
            for row in self._session.scalars(query)
        ]
