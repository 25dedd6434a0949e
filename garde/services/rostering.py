"""Roster service: import a planner's file (merged into the stored roster), edit one
shift, validate a roster and generate one, all under the ``[rosters]`` rules of the config.

Every write to the stored roster goes through `apply_roster_change`: one unit of work
reads the shifts that matter, computes the change (pure, `garde.rosters.edit`), writes
and audits it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from garde.config.model import SiteCover
from garde.rosters import (
    OnCallHours,
    day_range,
    import_roster,
    roster_zone,
    validate,
)
from garde.rosters._localtime import LocalTimeError, parse_datetime
from garde.rosters.edit import (
    RosterChange,
    RosterEditError,
    add_shift,
    describe,
    merge,
    remove_shift,
    swap_shifts,
)
from garde.rosters.importer import build_shift
from garde.rosters.matching import CellCode, ImportRules, match_radiologist
from garde.rosters.raw_shift import RawShift
from garde.rosters.validation import RosterReport, ValidationRules
from garde.store.enums import GenerationKind

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import date, datetime
    from pathlib import Path

    from garde.config.model import RosterSettings, Settings
    from garde.dispatch.model import Radiologist, Shift
    from garde.rosters import RosterImport
    from garde.rosters.generation import HardRules, Progress, RosterSolution, SolverSettings
    from garde.services.platform import Platform

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


def import_rules(settings: RosterSettings) -> ImportRules:
    """The import's rules from ``[rosters]``: roles and aliases, longest shift, grid codes."""
    return ImportRules(
        roles=settings.roles,
        role_aliases=settings.role_aliases,
        max_shift=timedelta(hours=settings.max_shift_hours),
        grid_codes={
            code: CellCode(grid.role, grid.start, grid.end)
            for code, grid in settings.grid_codes.items()
        },
        grid_off_codes=frozenset(settings.grid_off_codes),
    )


@dataclass(frozen=True, slots=True)
class RosterImported:
    """A file's shifts (`RosterImport`) and what merging them changed in the store."""

    imported: RosterImport
    change: RosterChange


def import_roster_file(
    platform: Platform,
    path: Path,
    *,
    timezone: str | None = None,
    first_day: date | None = None,
    days: int = 1,
    replace: tuple[date, date] | None = None,
) -> RosterImported:
    """Parse ``path`` (all or nothing) and merge its shifts into the stored roster, audited.

    Parameters
    ----------
    platform
        The settings, clock and store (`garde.bootstrap.Runtime` in the CLI and `serve`).
    path
        A .csv (list or grid), .ics or .xlsx (list or grid) roster.
    timezone
        Zone of the file's wall-clock times and of the days; default: ``[rosters]``.
    first_day, days
        The file's period: every shift must start in these local days (or be the night
        begun the evening before). Default: whatever the file holds.
    replace
        First and last local day (inclusive) to replace: stored shifts starting in them
        that the file does not hold are removed. Without it nothing is removed: the file's
        shifts are added, or update the stored shift of the same radiologist they overlap.

    Raises
    ------
    RosterError
        The file, the zone or the merge is rejected (every problem named); nothing is stored.
    """
    settings = platform.settings
    zone_name = timezone or settings.rosters.timezone
    tz = roster_zone(path, zone_name)  # an unknown zone names the file, like a bad row
    period = day_range(first_day, days, tz) if first_day is not None else None
    window = None
    if replace is not None:
        window = day_range(replace[0], (replace[1] - replace[0]).days + 1, tz)
        period = window if period is None else period
    imported = import_roster(
        path,
        radiologists=settings.radiologists,
        sites=settings.sites,
        timezone=zone_name,
        period=period,
        rules=import_rules(settings.rosters),
    )
    starts = [s.start for s in imported.shifts]
    ends = [s.end for s in imported.shifts]
    span = (
        min([*starts, *(window[:1] if window else [])]),
        max([*ends, *(window[1:] if window else [])]),
    )
    change = apply_roster_change(
        platform,
        span,
        lambda stored: merge(stored, imported.shifts, tz, replace_window=window),
        action="roster_import",
        detail={"file": path.name, "shifts": len(imported.shifts)}
        | ({"replace": [window[0].isoformat(), window[1].isoformat()]} if window else {}),
    )
    return RosterImported(imported=imported, change=change)


def apply_roster_change(
    platform: Platform,
    span: tuple[datetime, datetime],
    plan: Callable[[list[Shift]], RosterChange],
    *,
    action: str,
    detail: dict[str, Any],
) -> RosterChange:
    """The one place the stored roster is written: read the stored shifts overlapping
    ``span``, let ``plan`` compute the change, write it and audit it, in one unit of work.

    A change that changes nothing writes nothing (an import repeated is a no-op).
    """
    platform.sync_directory()  # shifts reference radiologists: the config's must be stored first
    with platform.uow() as uow:
        change = plan(uow.roster.shifts_between(*span))
        window = change.window()
        if window is None:
            return change
        # Rewrite exactly the shifts starting in the window (the store replaces by start).
        before = [s for s in uow.roster.shifts_between(*window) if window[0] <= s.start < window[1]]
        uow.roster.replace_shifts(*window, change.apply(before))
        # Every running serve node sees the change within `store_watch_s` (issue 12 item 4).
        uow.generations.bump(GenerationKind.ROSTER, platform.clock.now())
        uow.audit.append(
            at=platform.clock.now(),
            actor="planner",
            action=action,
            study_uid=None,
            radiologist_id=None,
            detail=detail
            | {
                "added": len(change.added),
                "changed": len(change.changed),
                "removed": len(change.removed),
            },
        )
        uow.commit()
    logger.info(
        "roster %s: %d added, %d changed, %d removed",
        action,
        len(change.added),
        len(change.changed),
        len(change.removed),
    )
    return change


def _instant(text: str, tz: ZoneInfo, what: str) -> datetime:
    try:
        return parse_datetime(text, tz)
    except LocalTimeError as exc:
        raise RosterEditError(f"{what}: {exc}") from None


def _radiologist(settings: Settings, text: str) -> Radiologist:
    try:
        return match_radiologist(text, settings.radiologists)
    except LookupError as exc:
        raise RosterEditError(str(exc.args[0])) from None


def add_one_shift(
    platform: Platform,
    radiologist: str,
    start: str,
    end: str,
    *,
    role: str = "oncall",
    sites: str = "",
) -> RosterChange:
    """Add one shift given as the planner writes it (local times, id or name, role alias).

    Raises
    ------
    RosterError
        A bad field (named), or an overlap with the radiologist's stored shift (both
        shifts in local time); nothing is stored.
    """
    settings = platform.settings
    tz = ZoneInfo(settings.rosters.timezone)
    problems: list[tuple[str, str]] = []
    raw = RawShift(where="", radiologist=radiologist, start=start, end=end, role=role, sites=sites)
    shift = build_shift(
        raw,
        radiologists=settings.radiologists,
        site_ids={s.id for s in settings.sites},
        tz=tz,
        rules=import_rules(settings.rosters),
        problems=problems,
    )
    if shift is None:
        raise RosterEditError("; ".join(reason for _, reason in problems))
    return apply_roster_change(
        platform,
        (shift.start, shift.end),
        lambda stored: add_shift(stored, shift, tz),
        action="roster_add",
        detail={"radiologist": shift.radiologist_id, "start": shift.start.isoformat()},
    )


def remove_one_shift(platform: Platform, radiologist: str, at: str) -> RosterChange:
    """Remove the radiologist's shift starting (or under way) at local time ``at``."""
    settings = platform.settings
    tz = ZoneInfo(settings.rosters.timezone)
    rid = _radiologist(settings, radiologist).id
    instant = _instant(at, tz, "time")
    return apply_roster_change(
        platform,
        _week_around(instant),
        lambda stored: remove_shift(stored, rid, instant, tz),
        action="roster_remove",
        detail={"radiologist": rid, "at": instant.isoformat()},
    )


def swap_one_shift(
    platform: Platform, giver: str, at: str, taker: str, taker_at: str | None = None
) -> RosterChange:
    """Give ``giver``'s shift at ``at`` to ``taker``, or exchange it for the taker's shift
    at ``taker_at``; credentials and overlaps are checked for both."""
    settings = platform.settings
    tz = ZoneInfo(settings.rosters.timezone)
    first = (_radiologist(settings, giver), _instant(at, tz, "time"))
    other_at = _instant(taker_at, tz, "other time") if taker_at is not None else None
    other = (_radiologist(settings, taker), other_at)
    spans = [_week_around(first[1]), *([_week_around(other_at)] if other_at else [])]
    return apply_roster_change(
        platform,
        (min(a for a, _ in spans), max(b for _, b in spans)),
        lambda stored: swap_shifts(stored, first, other, tz),
        action="roster_swap",
        detail={"from": first[0].id, "to": other[0].id, "at": first[1].isoformat()},
    )


def _week_around(at: datetime) -> tuple[datetime, datetime]:
    """Wide enough to hold the shift under way at ``at`` and the taker's overlapping ones."""
    return at - timedelta(days=7), at + timedelta(days=7)


def change_lines(change: RosterChange, tz: ZoneInfo) -> Sequence[str]:
    """One line per shift added, changed or removed, in local time (the CLI prints them)."""
    return [
        *(f"added    {describe(s, tz)}" for s in change.added),
        *(f"changed  {describe(a, tz)}  ->  {describe(b, tz)}" for a, b in change.changed),
        *(f"removed  {describe(s, tz)}" for s in change.removed),
    ]


def stored_shifts(platform: Platform, start: datetime, end: datetime) -> list[Shift]:
    """The shifts in the store overlapping [start, end)."""
    with platform.uow() as uow:
        return uow.roster.shifts_between(start, end)


def validate_period(
    platform: Platform,
    start: datetime | None,
    end: datetime | None,
    *,
    source: Path | None = None,
    site_cover: SiteCover | str | None = None,
) -> RosterReport:
    """Validate a roster file (or, without ``source``, the stored roster) over [start, end).

    With a file and no period, the period is the file's own: its earliest start to its
    latest end. The stored shifts before and after the file's own count too (the
    previous month's last night covers this month's first morning). The file's shifts
    starting outside the period are listed in the report (``outside``), but for the
    night begun the evening before the period. The rules are
    the config's ``[rosters]``; ``site_cover`` overrides when sites need cover (stroke is
    checked every hour).
    """
    settings = platform.settings
    rules = validation_rules(settings.rosters, site_cover=site_cover)
    file_shifts: list[Shift] = []
    if source is not None:
        file_shifts = list(
            import_roster(
                source,
                radiologists=settings.radiologists,
                sites=settings.sites,
                timezone=rules.timezone,
                rules=import_rules(settings.rosters),
            ).shifts
        )
        first, last = min(s.start for s in file_shifts), max(s.end for s in file_shifts)
        if start is None or end is None:
            start, end = first, last
        # The stored roster around the file: last month's final night covers this
        # month's first morning, and counts for the rest owed at the edges.
        around = stored_shifts(platform, start - timedelta(days=7), end + timedelta(days=1))
        shifts = [*file_shifts, *(s for s in around if s.end <= first or s.start >= last)]
    elif start is None or end is None:
        raise RosterEditError("give the period (--from) to validate the stored roster")
    else:
        shifts = stored_shifts(platform, start - timedelta(days=7), end + timedelta(days=1))
    return validate(
        shifts,
        radiologists=settings.radiologists,
        sites=settings.sites,
        start=start,
        end=end,
        rules=rules,
        file_shifts=file_shifts,
    )


def generate_roster(
    settings: Settings,
    *,
    first_day: date,
    days: int,
    solver: SolverSettings,
    availability: Path | None = None,
    demands: Path | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> RosterSolution:
    """Generate ``days`` days of roster from ``first_day`` under the ``[rosters]`` rules.

    ``demands`` (a CSV, `garde.rosters.demands`) sets the staff of given nights, e.g. the
    nights `garde forecast` found at risk.

    Raises
    ------
    RosterError
        The availability file is rejected, or the request is malformed (an infeasible
        request is not an error: the solution explains it and holds the best partial
        roster, its unfilled seats listed).
    """
    # ortools on demand: importing it costs half a second that import/validate never pay.
    from garde.rosters.availability import read_availability  # noqa: PLC0415
    from garde.rosters.demands import read_demands  # noqa: PLC0415
    from garde.rosters.generation import GenerationRequest, SoftWeights, generate  # noqa: PLC0415

    wishes = (
        read_availability(availability, {r.id for r in settings.radiologists})
        if availability is not None
        else ()
    )
    # The medical director is the region's last resort, reached whatever the roster says:
    # putting them on the night's shifts would leave nobody behind the on-call readers.
    rostered = tuple(r for r in settings.radiologists if not r.medical_director)
    return generate(
        GenerationRequest(
            radiologists=rostered,
            sites=settings.sites,
            first_day=first_day,
            days=days,
            timezone=settings.rosters.timezone,
            availability=wishes,
            hard=replace(
                hard_rules(settings.rosters),
                night_demands=tuple(sorted(read_demands(demands).items())) if demands else (),
            ),
            soft=SoftWeights(
                hours_fairness=settings.rosters.hours_fairness,
                night_hours_weight=settings.rosters.night_hours_weight,
                weekend_hours_weight=settings.rosters.weekend_hours_weight,
            ),
            solver=solver,
            progress=progress,
        )
    )
