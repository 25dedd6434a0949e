"""Personal tokens and the change counters in memory, as their SQL repositories behave
(`garde.store.repositories.token`, `garde.store.repositories.generation`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from garde.store.enums import GenerationKind
from garde.store.memory.tables import TokenRow, utc
from garde.store.records import TokenHolder

if TYPE_CHECKING:
    from datetime import datetime

    from garde.store.memory.tables import Transaction


class MemoryTokens:
    """Token hashes; a new token revokes its subject's live ones."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def issue(
        self, token_hash: str, *, subject: str, role: str, at: datetime, issued_by: str
    ) -> int:
        """Store a new token hash for ``subject``; how many older ones were revoked."""
        revoked = self.revoke(subject, at)
        self._tx.write_tokens().append(TokenRow(token_hash, subject, role, utc(at), issued_by))
        return revoked

    def revoke(self, subject: str, at: datetime) -> int:
        """Revoke every live token of ``subject``; how many."""
        live = [
            i
            for i, row in enumerate(self._tx.token_rows())
            if row.subject == subject and row.revoked_at is None
        ]
        if live:
            rows = self._tx.write_tokens()
            for i in live:
                rows[i] = dataclasses.replace(rows[i], revoked_at=utc(at))
        return len(live)

    def holder(self, token_hash: str) -> TokenHolder | None:
        """The live token with this hash, or None (unknown or revoked)."""
        for row in self._tx.token_rows():
            if row.token_hash == token_hash and row.revoked_at is None:
                return TokenHolder(row.subject, row.role, row.issued_at)
        return None

    def count(self, role: str | None = None, *, live_only: bool = True) -> int:
        """How many tokens there are (live ones unless asked; of ``role``, if given)."""
        return sum(
            1
            for row in self._tx.token_rows()
            if (not live_only or row.revoked_at is None) and (role is None or row.role == role)
        )


class MemoryGenerations:
    """A counter per kind of change."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def bump(self, kind: GenerationKind | str, at: datetime) -> None:  # noqa: ARG002 - the SQL row keeps it; nothing reads it back
        """Count one change of ``kind``, committed with the unit of work."""
        counters = self._tx.write_generations()
        key = GenerationKind(kind)
        counters[key] += 1

    def current(self) -> dict[GenerationKind, int]:
        """Every kind's counter now."""
        return dict(self._tx.generation_rows())
