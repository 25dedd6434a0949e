"""Roster service: import a planner's file and store its shifts (a range is replaced)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from garde.rosters import import_roster
from garde.rosters.validation import RosterReport, ValidationRules, validate

if TYPE_CHECKING:
    from pathlib import Path

    from garde.bootstrap import Runtime
    from garde.dispatch.model import Shift
    from garde.rosters import RosterImport

logger = logging.getLogger(__name__)


def import_roster_file(
    runtime: Runtime,
    path: Path,
    *,
    timezone: str = "Europe/Paris",
    period: tuple[datetime, datetime] | None = None,
) -> RosterImport:
    """Parse ``path`` (all or nothing), then replace its range (or ``period``), audited."""
    settings = runtime.settings
    imported = import_roster(
        path,
        radiologists=settings.radiologists,
        sites=settings.sites,
        timezone=timezone,
        period=period,
    )
    runtime.sync_directory()  # shifts reference radiologists: the config's must be stored first
    with runtime.uow() as uow:
        uow.roster.replace_shifts(imported.start, imported.end, imported.shifts)
        uow.audit.append(
            at=runtime.clock.now(),
            actor="planner",
            action="roster_import",
            study_uid=None,
            radiologist_id=None,
            detail={
                "file": path.name,
                "shifts": len(imported.shifts),
                "start": imported.start.isoformat(),
                "end": imported.end.isoformat(),
            },
        )
        uow.commit()
    logger.info("roster %s imported: %d shifts", path.name, len(imported.shifts))
    return imported


def stored_shifts(runtime: Runtime, start: datetime, end: datetime) -> list[Shift]:
    """The shifts in the store overlapping [start, end)."""
    with runtime.uow() as uow:
        return uow.roster.shifts_between(start, end)


def validate_period(
    runtime: Runtime, start: datetime, end: datetime, *, source: Path | None = None
) -> RosterReport:
    """Validate a roster file (or, without ``source``, the stored roster) over [start, end)."""
    settings = runtime.settings
    if source is not None:
        shifts: list[Shift] = list(
            import_roster(source, radiologists=settings.radiologists, sites=settings.sites).shifts
        )
    else:
        shifts = stored_shifts(runtime, start - timedelta(days=7), end + timedelta(days=1))
    return validate(
        shifts,
        radiologists=settings.radiologists,
        sites=settings.sites,
        start=start,
        end=end,
        rules=ValidationRules(),
    )
