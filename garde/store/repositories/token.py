"""Personal CLI tokens: only their SHA-256 is stored; a new token revokes the old ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from garde.store.models import AccessTokenRow
from garde.store.records import TokenHolder

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session


__all__ = ["TokenHolder", "TokenRepository"]


class TokenRepository:
    """Issues, looks up and revokes token hashes (never the tokens themselves)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def issue(
        self, token_hash: str, *, subject: str, role: str, at: datetime, issued_by: str
    ) -> int:
        """Store a new token hash for ``subject``; returns how many older ones were revoked."""
        revoked = self.revoke(subject, at)
        self._session.add(
            AccessTokenRow(
                token_hash=token_hash, subject=subject, role=role, issued_at=at, issued_by=issued_by
            )
        )
        self._session.flush()
        return revoked

    def revoke(self, subject: str, at: datetime) -> int:
        """Revoke every live token of ``subject``; returns how many."""
        result = self._session.execute(
            update(AccessTokenRow)
            .where(AccessTokenRow.subject == subject, AccessTokenRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def holder(self, token_hash: str) -> TokenHolder | None:
        """The live token with this hash, or None (unknown or revoked)."""
        row = self._session.scalars(
            select(AccessTokenRow).where(
                AccessTokenRow.token_hash == token_hash, AccessTokenRow.revoked_at.is_(None)
            )
        ).first()
        return None if row is None else TokenHolder(row.subject, row.role, row.issued_at)

    def count(self, role: str | None = None, *, live_only: bool = True) -> int:
        """How many tokens there are (live ones unless asked; of ``role``, if given)."""
        query = select(func.count()).select_from(AccessTokenRow)
        if live_only:
            query = query.where(AccessTokenRow.revoked_at.is_(None))
        if role is not None:
            query = query.where(AccessTokenRow.role == role)
        return int(self._session.scalar(query) or 0)
