"""Roster service: import a planner's file and store its shifts (a range is replaced),
validate a roster and generate one, all under the ``[rosters]`` rules of the config."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from garde.config.model import SiteCover
from garde.rosters import (
    OnCallHours,
    day_range,
    import_roster,
    roster_zone,
    validate,
)
from garde.rosters.validation import RosterReport, ValidationRules

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date, datetime
    from pathlib import Path

    from garde.bootstrap import Runtime
    from garde.config.model import RosterSettings, Settings
    from garde.dispatch.model import Shift
    from garde.rosters import RosterImport
    from garde.rosters.generation import HardRules, Progress, RosterSolution, SolverSettings

logger = logging.getLogger(__name__)


def validation_rules(
    settings: RosterSettings, *, site_cover: SiteCover | str | None = None
) -> ValidationRules:
    """The validator's rules from ``[rosters]``; ``site_cover`` overrides the config's.

    Stroke is checked every hour whatever ``site_cover`` says.
    """
    cover = settings.site_cover if site_cover is None else SiteCover(site_cover)
    return ValidationRules(
        timezone=settings.timezone,
        cover=OnCallHours() if cover is SiteCover.ON_CALL else None,
        stroke_cover=None,
        stroke_pool=settings.stroke_pool,
        rest_after_night=timedelta(hours=settings.rest_after_night_h),
        max_consecutive_nights=settings.max_consecutive_nights,
        max_weekly_hours=settings.max_weekly_hours,
    )


def hard_rules(settings: RosterSettings) -> HardRules:
    """The generator's hard rules from ``[rosters]`` (the validator's, plus staffing)."""
    from garde.rosters.generation import HardRules  # noqa: PLC0415 - ortools on demand

    return HardRules(
        night_staff=settings.night_staff,
        day_staff=settings.day_staff,
        stroke_day_staff=settings.stroke_day_staff,
        rest_after_night=timedelta(hours=settings.rest_after_night_h),
        max_consecutive_nights=settings.max_consecutive_nights,
        max_weekly_hours=settings.max_weekly_hours,
        stroke_pool=settings.stroke_pool,
    )


def roster_days(settings: Settings, first_day: date, days: int) -> tuple[datetime, datetime]:
    """The UTC bounds of ``days`` local days from ``first_day`` in the ``[rosters]`` zone
    (checked when the config was loaded)."""
    return day_range(first_day, days, ZoneInfo(settings.rosters.timezone))


def import_roster_file(
    runtime: Runtime,
    path: Path,
    *,
    timezone: str | None = None,
    first_day: date | None = None,
    days: int = 1,
) -> RosterImport:
    """Parse ``path`` (all or nothing), then replace its range, audited.

    Parameters
    ----------
    runtime
        The composition root's runtime (settings, store).
    path
        A .csv, .ics or .xlsx roster.
    timezone
        Zone of the file's wall-clock times and of ``first_day``; default: ``[rosters]``.
    first_day, days
        Replace these local days whole (every shift must start in them); default: the
        file's own range, earliest start to latest end.

    Raises
    ------
    RosterError
        The file, or the zone, is rejected; nothing is stored.
    """
    settings = runtime.settings
    zone_name = timezone or settings.rosters.timezone
    tz = roster_zone(path, zone_name)  # an unknown zone names the file, like a bad row
    period = day_range(first_day, days, tz) if first_day is not None else None
    imported = import_roster(
        path,
        radiologists=settings.radiologists,
        sites=settings.sites,
        timezone=zone_name,
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
    runtime: Runtime,
    start: datetime,
    end: datetime,
    *,
    source: Path | None = None,
    site_cover: SiteCover | str | None = None,
) -> RosterReport:
    """Validate a roster file (or, without ``source``, the stored roster) over [start, end).

    The rules are the config's ``[rosters]``; ``site_cover`` overrides when sites need
    cover (stroke is checked every hour).
    """
    settings = runtime.settings
    rules = validation_rules(settings.rosters, site_cover=site_cover)
    if source is not None:
        shifts: list[Shift] = list(
            import_roster(
                source,
                radiologists=settings.radiologists,
                sites=settings.sites,
                timezone=rules.timezone,
            ).shifts
        )
    else:
        shifts = stored_shifts(runtime, start - timedelta(days=7), end + timedelta(days=1))
    return validate(
        shifts,
        radiologists=settings.radiologists,
        sites=settings.sites,
        start=start,
        end=end,
        rules=rules,
    )


def generate_roster(
    settings: Settings,
    *,
    first_day: date,
    days: int,
    solver: SolverSettings,
    availability: Path | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> RosterSolution:
    """Generate ``days`` days of roster from ``first_day`` under the ``[rosters]`` rules.

    Raises
    ------
    RosterError
        The availability file is rejected, or the request is malformed (an infeasible
        request is not an error: the solution explains it).
    """
    # ortools on demand: importing it costs half a second that import/validate never pay.
    from garde.rosters.availability import read_availability  # noqa: PLC0415
    from garde.rosters.generation import GenerationRequest, generate  # noqa: PLC0415

    wishes = (
        read_availability(availability, {r.id for r in settings.radiologists})
        if availability is not None
        else ()
    )
    return generate(
        GenerationRequest(
            radiologists=settings.radiologists,
            sites=settings.sites,
            first_day=first_day,
            days=days,
            timezone=settings.rosters.timezone,
            availability=wishes,
            hard=hard_rules(settings.rosters),
            solver=solver,
            progress=progress,
        )
    )
