"""Personal tokens, the change counters and the national directory's professionals in
memory, as their SQL repositories behave (`garde.store.repositories.token`,
`.generation`, `.professionals`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from garde.store.enums import GenerationKind
from garde.store.memory.tables import ProfessionalEntry, TokenRow, utc
from garde.store.records import ImportCounts, StoredProfessional, TokenHolder

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from garde.directory.model import Professional
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


_VALUES = (
    "last_name",
    "first_name",
    "title",
    "display_name",
    "profession",
    "specialties",
    "specialty_labels",
    "structures",
)
"""What an import compares: a change of any of these updates the row."""


def _entry(pro: Professional, at: datetime) -> ProfessionalEntry:
    return ProfessionalEntry(
        rpps=pro.rpps,
        last_name=pro.last_name,
        first_name=pro.first_name,
        title=pro.title,
        display_name=pro.display_name,
        profession=pro.profession,
        specialties=tuple(pro.specialties),
        specialty_labels=tuple(pro.specialty_labels),
        structures=tuple(pro.structures),
        first_imported_at=at,
        updated_at=at,
        seen_at=at,
    )


class MemoryProfessionals:
    """The national directory's professionals; an import flags, never deletes, the ones
    its extract lacks (`garde.store.repositories.professionals`)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def import_all(self, professionals: Iterable[Professional], now: datetime) -> ImportCounts:
        """Make the stored directory match a whole extract (``now``: when it is read)."""
        at = utc(now)
        rows = self._tx.write_professionals()
        before = dict(rows)
        created: list[str] = []
        updated: list[str] = []
        unchanged = 0
        seen: set[str] = set()
        for pro in professionals:
            seen.add(pro.rpps)
            fresh = _entry(pro, at)
            row = rows.get(pro.rpps)
            if row is None:
                row = fresh
                created.append(pro.rpps)
            elif any(getattr(row, key) != getattr(fresh, key) for key in _VALUES):
                row = dataclasses.replace(
                    fresh,
                    first_imported_at=row.first_imported_at,
                    missing_since=row.missing_since,
                    retired_at=row.retired_at,
                )
                updated.append(pro.rpps)
            elif row.missing_since is None:
                unchanged += 1
            else:
                updated.append(pro.rpps)  # back in the extract
            rows[pro.rpps] = dataclasses.replace(row, seen_at=at, missing_since=None)
        missing = []
        for rpps, row in sorted(before.items()):
            if rpps not in seen and row.missing_since is None and row.retired_at is None:
                rows[rpps] = dataclasses.replace(row, missing_since=at)
                missing.append(rpps)
        return ImportCounts(tuple(created), tuple(updated), unchanged, tuple(missing))

    def retire(self, rpps: str, now: datetime) -> bool:
        """An operator retires a professional (False: unknown RPPS number)."""
        row = self._tx.professional_rows().get(rpps)
        if row is None:
            return False
        self._tx.write_professionals()[rpps] = dataclasses.replace(
            row, retired_at=row.retired_at or utc(now)
        )
        return True

    def all(self) -> list[StoredProfessional]:
        """Every stored professional, by RPPS number."""
        rows = self._tx.professional_rows()
        return [
            StoredProfessional(
                rpps=r.rpps,
                display_name=r.display_name,
                specialties=r.specialties,
                structures=r.structures,
                missing_since=r.missing_since,
                retired_at=r.retired_at,
            )
            for _, r in sorted(rows.items())
        ]

    def names(self) -> dict[str, str]:
        """RPPS number -> display name, of those not retired."""
        rows = self._tx.professional_rows()
        return {r.rpps: r.display_name for r in rows.values() if r.retired_at is None}
