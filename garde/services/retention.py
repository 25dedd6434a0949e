"""Retention: pixel data is purged a set time after the report; metadata and audit stay.

For each study read (DONE) more than ``retention_days`` ago and not purged yet, its
instance files and rendered previews are deleted from disk; the study, series, instance
and assignment rows and the whole audit trail are kept, and one ``purge_pixels`` audit
event records the purge (it is also what marks the study as purged, so a run is
idempotent and a crashed one resumes). A file already gone counts as purged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.store.enums import PURGE_ACTION

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from garde.store.ports import UnitOfWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one retention run removed."""

    studies: int
    files: int
    bytes: int


def purge_pixels(
    uow_factory: Callable[[], UnitOfWork],
    *,
    storage_dir: Path,
    previews_dir: Path,
    now: datetime,
    retention_days: float,
    limit: int = 500,
) -> PurgeReport:
    """Purge the pixel data of studies reported more than ``retention_days`` before ``now``."""
    cutoff = now - timedelta(days=retention_days)
    with uow_factory() as uow:
        due = uow.night.purgeable(cutoff, limit)
    studies = files = size = 0
    for record in due:
        with uow_factory() as uow:
            paths = [
                storage_dir / p
                for series in uow.studies.series(record.study_uid)
                for p in uow.studies.instance_paths(series.series_uid)
            ]
            paths += [previews_dir / p.path for p in uow.studies.previews(record.study_uid)]
            removed, removed_bytes = _remove(paths, roots=(storage_dir, previews_dir))
            uow.audit.append(
                at=now,
                actor="retention",
                action=PURGE_ACTION,
                study_uid=record.study_uid,
                detail={
                    "files": removed,
                    "bytes": removed_bytes,
                    "reported_at": record.done_at.isoformat() if record.done_at else None,
                    "retention_days": retention_days,
                },
            )
            uow.commit()
        studies += 1
        files += removed
        size += removed_bytes
        logger.info("study %s: pixel data purged (%d files)", record.study_uid, removed)
    with uow_factory() as uow:  # the webhook outbox keeps settled rows as long
        notifications = uow.outbox.purge_settled(cutoff)
        uow.commit()
    if notifications:
        logger.info("%d settled webhook notifications purged", notifications)
    return PurgeReport(studies, files, size)


def _remove(paths: list[Path], roots: tuple[Path, ...]) -> tuple[int, int]:
    """Delete ``paths`` and the directories they leave empty (up to the roots)."""
    removed = size = 0
    parents = set()
    for path in paths:
        try:
            size += path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
        parents.add(path.parent)
    resolved_roots = {r.resolve() for r in roots}
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        folder = parent
        while any(root in folder.resolve().parents for root in resolved_roots):
            try:
                folder.rmdir()  # only if empty
            except OSError:
                break
            folder = folder.parent
    return removed, size
