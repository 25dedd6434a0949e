"""Generations: a counter per kind of change that every `garde serve` node watches.

A roster edit (import, add, remove, swap: `garde.services.rostering`) or `garde reload`
bumps its counter in the same transaction as the change; each node polls the counters
every few seconds and reloads what moved (`garde.services.store_watch`). The store is
the one thing every node shares, so this reaches nodes a signal cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from garde.store.enums import GenerationKind
from garde.store.errors import StoreUnavailableError
from garde.store.models import StoreGenerationRow

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session


__all__ = ["GenerationKind", "GenerationRepository"]


class GenerationRepository:
    """The counters in ``store_generations`` (seeded by the migration)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def bump(self, kind: GenerationKind | str, at: datetime) -> None:
        """Count one change of ``kind``, committed with the unit of work."""
        self._session.execute(
            update(StoreGenerationRow)
            .where(StoreGenerationRow.kind == GenerationKind(kind).value)
            .values(generation=StoreGenerationRow.generation + 1, changed_at=at)
        )

    def current(self) -> dict[GenerationKind, int]:
        """Every kind's counter now.

        Raises
        ------
        StoreUnavailableError
            If the database cannot be read (a watcher looks again later).
        """
        query = select(StoreGenerationRow.kind, StoreGenerationRow.generation)
        try:
            rows = self._session.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return {GenerationKind(kind): generation for kind, generation in rows}
