"""The national directory's professionals, as last imported (by RPPS number)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from garde.store.models import ProfessionalRow
from garde.store.records import ImportCounts, StoredProfessional

__all__ = ["ImportCounts", "ProfessionalRepository", "StoredProfessional"]

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from sqlalchemy.orm import Session

    from garde.directory.model import Professional


class ProfessionalRepository:
    """Upserts an extract's professionals; flags, never deletes, the ones it lacks."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def import_all(self, professionals: Iterable[Professional], now: datetime) -> ImportCounts:
        """Make the stored directory match a whole extract (``now``: when it is read)."""
        rows = {row.rpps: row for row in self._session.scalars(select(ProfessionalRow))}
        created: list[str] = []
        updated: list[str] = []
        unchanged = 0
        seen: set[str] = set()
        for pro in professionals:
            seen.add(pro.rpps)
            values = {
                "last_name": pro.last_name,
                "first_name": pro.first_name,
                "title": pro.title,
                "display_name": pro.display_name,
                "profession": pro.profession,
                "specialties": list(pro.specialties),
                "specialty_labels": list(pro.specialty_labels),
                "structures": list(pro.structures),
            }
            row = rows.get(pro.rpps)
            if row is None:
                row = ProfessionalRow(
                    rpps=pro.rpps, first_imported_at=now, updated_at=now, **values
                )
                self._session.add(row)
                created.append(pro.rpps)
            elif any(getattr(row, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
                updated.append(pro.rpps)
            elif row.missing_since is None:
                unchanged += 1
            else:
                updated.append(pro.rpps)  # back in the extract
            row.seen_at = now
            row.missing_since = None
        missing = []
        for rpps, row in sorted(rows.items()):
            if rpps not in seen and row.missing_since is None and row.retired_at is None:
                row.missing_since = now
                missing.append(rpps)
        self._session.flush()
        return ImportCounts(tuple(created), tuple(updated), unchanged, tuple(missing))

    def retire(self, rpps: str, now: datetime) -> bool:
        """An operator retires a professional (False: unknown RPPS number)."""
        row = self._session.get(ProfessionalRow, rpps)
        if row is None:
            return False
        row.retired_at = row.retired_at or now
        self._session.flush()
        return True

    def all(self) -> list[StoredProfessional]:
        """Every stored professional, by RPPS number."""
        query = select(ProfessionalRow).order_by(ProfessionalRow.rpps)
        return [_stored(row) for row in self._session.scalars(query)]

    def names(self) -> dict[str, str]:
        """RPPS number -> display name, of those not retired."""
        query = select(ProfessionalRow.rpps, ProfessionalRow.display_name).where(
            ProfessionalRow.retired_at.is_(None)
        )
        return {row.rpps: row.display_name for row in self._session.execute(query)}


def _stored(row: ProfessionalRow) -> StoredProfessional:
    return StoredProfessional(
        rpps=row.rpps,
        display_name=row.display_name,
        specialties=tuple(row.specialties),
        structures=tuple(row.structures),
        missing_since=row.missing_since,
        retired_at=row.retired_at,
    )
