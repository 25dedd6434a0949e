"""Use cases of the national directory: import its extract, list it, retire someone."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.directory.extract import ExtractFilter, read_extract

if TYPE_CHECKING:
    from pathlib import Path

    from garde.directory.extract import Extract
    from garde.services.platform import Platform
    from garde.store.records import ImportCounts, StoredProfessional

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DirectoryImported:
    """An import's outcome: the extract read, what changed, and the configured
    radiologists it names (``linked``) or does not (``unlinked``, by RPPS number)."""

    extract: Extract
    counts: ImportCounts
    linked: tuple[str, ...]
    unlinked: tuple[str, ...]


def import_directory(
    platform: Platform, path: Path, *, actor: str = "operator"
) -> DirectoryImported:
    """Import an extract (all or nothing), audit it, refresh the radiologists' names.

    Raises
    ------
    garde.directory.errors.DirectoryError
        The file is in another layout or has malformed rows: nothing is imported.
    """
    settings = platform.settings.directory
    extract = read_extract(path, ExtractFilter(settings.professions, settings.specialties))
    now = platform.clock.now()
    with platform.uow() as uow:
        counts = uow.professionals.import_all(extract.professionals, now)
        uow.audit.append(
            at=now,
            actor=actor,
            action="directory.import",
            detail={
                "file": path.name,
                "rows": extract.rows,
                "professionals": len(extract.professionals),
                "created": len(counts.created),
                "updated": list(counts.updated),
                "missing": list(counts.missing),
            },
        )
        uow.commit()
    platform.sync_directory()  # the display names of radiologists named by RPPS number
    found = {p.rpps for p in extract.professionals}
    configured = [rad for rad in platform.settings.radiologists if rad.rpps]
    logger.info(
        "directory import %s: %d professionals, %d created, %d updated, %d missing",
        path.name,
        len(extract.professionals),
        len(counts.created),
        len(counts.updated),
        len(counts.missing),
    )
    return DirectoryImported(
        extract=extract,
        counts=counts,
        linked=tuple(rad.id for rad in configured if rad.rpps in found),
        unlinked=tuple(rad.rpps for rad in configured if rad.rpps not in found),
    )


def list_directory(platform: Platform) -> list[StoredProfessional]:
    """The stored professionals, by RPPS number."""
    with platform.uow() as uow:
        return uow.professionals.all()


def retire_professional(platform: Platform, rpps: str, *, actor: str = "operator") -> bool:
    """Retire a professional an import flagged as missing (False: unknown number)."""
    now = platform.clock.now()
    with platform.uow() as uow:
        if not uow.professionals.retire(rpps, now):
            return False
        uow.audit.append(at=now, actor=actor, action="directory.retire", detail={"rpps": rpps})
        uow.commit()
    return True
