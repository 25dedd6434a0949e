"""Worklist service: what a radiologist has to read, most urgent first."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from garde.store.records import WorklistRow
    from garde.store.uow import SqlUnitOfWork


class UnknownRadiologistError(LookupError):
    """No radiologist with that id is configured."""


@dataclass
class WorklistService:
    """Reads worklists and audits every view."""

    uow_factory: Callable[[], SqlUnitOfWork]
    previews_dir: Path

    def worklist(self, radiologist_id: str, *, now: datetime, origin: str) -> list[WorklistRow]:
        """The radiologist's open studies, most urgent first (audited); preview paths absolute."""
        with self.uow_factory() as uow:
            if radiologist_id not in {r.id for r in uow.directory.radiologists()}:
                raise UnknownRadiologistError(radiologist_id)
            rows = uow.studies.worklist(radiologist_id)
            uow.audit.append(
                at=now,
                actor=radiologist_id,
                action="view_worklist",
                study_uid=None,
                radiologist_id=radiologist_id,
                detail={"rows": len(rows), "origin": origin},
            )
            uow.commit()
        return [
            replace(row, preview_path=str(self.previews_dir / row.preview_path))
            if row.preview_path
            else row
            for row in rows
        ]
