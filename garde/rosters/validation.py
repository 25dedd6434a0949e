"""Roster validation: coverage gaps by site and for stroke, and French rest rules.

Coverage is computed exactly, on the elementary intervals between shift boundaries (not
by sampling), so a gap is reported to the minute; the report also keeps, per hour, the
fewest credentialed radiologists on shift for each site (the heat map's data).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from garde.rosters._localtime import zone
from garde.rosters.oncall import OnCallHours, merge_intervals

if TYPE_CHECKING:
    from collections.abc import Sequence
    from zoneinfo import ZoneInfo

    from garde.dispatch.model import Radiologist, Shift, Site

STROKE = "stroke"  # the pseudo-site of stroke cover in gaps and in the heat map
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """What a roster must satisfy.

    ``cover`` says when every site needs cover, ``stroke_cover`` when stroke does (None:
    around the clock over the whole period). Stroke is an emergency at any hour, so its
    default is every hour; sites default to the on-call hours, since on weekday daytime
    each hospital's own radiologists read. Stroke cover needs someone with
    ``stroke_skill`` or in ``stroke_pool``. A shift that covers ``night_marker`` (local
    time) is a night on call: it is owed ``rest_after_night`` (repos de sécurité) before
    the next shift, and counts toward consecutive nights.
    Weekly hours are counted per local calendar week (Monday to Sunday).
    """

    timezone: str = "Europe/Paris"
    cover: OnCallHours | None = field(default_factory=OnCallHours)
    stroke_cover: OnCallHours | None = None
    stroke_skill: str = "neuro"
    stroke_pool: frozenset[str] = frozenset()
    rest_after_night: timedelta = timedelta(hours=11)
    max_consecutive_nights: int = 3
    max_weekly_hours: float = 48.0
    night_marker: time = time(3, 0)

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.max_consecutive_nights < 1:
            raise ValueError("max_consecutive_nights must be >= 1")
        if not self.max_weekly_hours > 0:
            raise ValueError("max_weekly_hours must be > 0")


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch [start, end) (UTC) when ``site`` (or ``"stroke"``) had no valid cover.

    ``on_shift`` are the radiologists on shift at some time during it (none of them
    credentialed for the site, or none able to read a stroke): the why of the gap.
    """

    site: str
    start: datetime
    end: datetime
    on_shift: tuple[str, ...] = ()

    @property
    def hours(self) -> float:
        """Length of the gap in hours."""
        return (self.end - self.start) / HOUR


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: ``rule`` is ``rest``, ``consecutive_nights``, ``weekly_hours`` or
    ``unknown_radiologist``; ``at`` is when it happens (UTC)."""

    rule: str
    radiologist_id: str
    at: datetime
    detail: str


@dataclass(frozen=True, slots=True)
class RosterReport:
    """The result of `validate`.

    ``hours`` are the UTC starts of each hour of the period; ``coverage[site][i]`` is the
    fewest credentialed radiologists on shift during hour i (``stroke`` included as a
    row), and ``required[site][i]`` whether any part of hour i needs that row's cover.
    """

    start: datetime
    end: datetime
    timezone: str
    sites: tuple[str, ...]
    gaps: tuple[Gap, ...]
    violations: tuple[Violation, ...]
    hours: tuple[datetime, ...] = ()
    coverage: dict[str, tuple[int, ...]] = field(default_factory=dict)
    required: dict[str, tuple[bool, ...]] = field(default_factory=dict)
    site_names: dict[str, str] = field(default_factory=dict)
    outside: tuple[Shift, ...] = ()  # a file's shifts starting outside the period

    @property
    def ok(self) -> bool:
        """True if there is no gap and no violation."""
        return not self.gaps and not self.violations

    def to_dict(self, *, include_coverage: bool = False) -> dict[str, Any]:
        """A JSON-safe dict (for ``--json``); times in UTC ISO and local ISO."""
        tz = zone(self.timezone)
        data: dict[str, Any] = {
            "ok": self.ok,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "gaps": [
                {
                    "site": g.site,
                    "start": g.start.isoformat(),
                    "end": g.end.isoformat(),
                    "start_local": g.start.astimezone(tz).isoformat(),
                    "end_local": g.end.astimezone(tz).isoformat(),
                    "hours": round(g.hours, 2),
                    "on_shift": list(g.on_shift),
                }
                for g in self.gaps
            ],
            "violations": [
                {
                    "rule": v.rule,
                    "radiologist": v.radiologist_id,
                    "at": v.at.isoformat(),
                    "at_local": v.at.astimezone(tz).isoformat(),
                    "detail": v.detail,
                }
                for v in self.violations
            ],
            "outside": [
                {
                    "radiologist": s.radiologist_id,
                    "start": s.start.isoformat(),
                    "start_local": s.start.astimezone(tz).isoformat(),
                    "end_local": s.end.astimezone(tz).isoformat(),
                    "role": s.role,
                }
                for s in self.outside
            ],
        }
        if include_coverage:
            data["hours"] = [h.isoformat() for h in self.hours]
            data["required"] = {row: list(needed) for row, needed in self.required.items()}
            data["coverage"] = {site: list(row) for site, row in self.coverage.items()}
        return data


def validate(
    shifts: Sequence[Shift],
    *,
    radiologists: Sequence[Radiologist],
    sites: Sequence[Site],
    start: datetime,
    end: datetime,
    rules: ValidationRules | None = None,
    file_shifts: Sequence[Shift] = (),
) -> RosterReport:
    """Check a roster over [start, end) (UTC).

    Parameters
    ----------
    shifts
        The roster (any order); shifts outside the period are ignored for cover but
        count for rest and weekly hours at its edges.
    radiologists, sites
        The registry: credentials and skills come from it.
    start, end
        The period to check, timezone-aware.
    rules
        What to check; default `ValidationRules()`.
    file_shifts
        The shifts of a file being validated (``shifts`` may add the stored roster
        around it): those starting outside the period are listed in the report, but
        for the night begun the evening before the period, which belongs to it.

    Returns
    -------
    RosterReport
        Gaps (site or stroke, exact start and end) and violations, sorted by time.
    """
    rules = rules or ValidationRules()
    if end <= start:
        raise ValueError(f"period end {end.isoformat()} is not after start {start.isoformat()}")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    tz = zone(rules.timezone)
    by_id = {r.id: r for r in radiologists}
    site_ids = tuple(s.id for s in sites)
    reach = {id(s): _reach(s, by_id, rules) for s in shifts}
    site_windows = _windows(rules.cover, start, end, tz)
    stroke_windows = _windows(rules.stroke_cover, start, end, tz)
    rows = (*site_ids, STROKE)
    gaps = [
        *_gaps(shifts, reach, site_windows, site_ids),
        *_gaps(shifts, reach, stroke_windows, (STROKE,)),
    ]
    gaps.sort(key=lambda g: (g.start, rows.index(g.site)))
    hours, coverage = _hourly(shifts, reach=reach, rows=rows, start=start, end=end)
    required = {
        row: _required(hours, stroke_windows if row == STROKE else site_windows, end)
        for row in rows
    }
    violations = [
        *_unknown(shifts, by_id),
        *_rest(shifts, rules, tz),
        *_consecutive_nights(shifts, rules, tz),
        *_weekly_hours(shifts, rules, tz, start, end),
    ]
    violations.sort(key=lambda v: (v.at, v.radiologist_id, v.rule))
    return RosterReport(
        start=start,
        end=end,
        timezone=rules.timezone,
        sites=site_ids,
        gaps=tuple(gaps),
        violations=tuple(violations),
        hours=hours,
        coverage=coverage,
        required=required,
        site_names={s.id: s.name for s in sites},
        outside=tuple(
            s
            for s in sorted(file_shifts, key=lambda s: (s.start, s.radiologist_id))
            if not (start <= s.start < end or start - DAY <= s.start < start < s.end)
        ),
    )


def _reach(shift: Shift, by_id: dict[str, Radiologist], rules: ValidationRules) -> frozenset[str]:
    """The rows (site ids, and "stroke") a shift covers: credentials always apply."""
    radiologist = by_id.get(shift.radiologist_id)
    if radiologist is None:
        return frozenset()
    covered = radiologist.sites if shift.sites is None else shift.sites & radiologist.sites
    stroke = rules.stroke_skill in radiologist.skills or radiologist.id in rules.stroke_pool
    return covered | {STROKE} if stroke else covered


def _windows(
    hours: OnCallHours | None, start: datetime, end: datetime, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """When cover is needed within [start, end): the on-call hours, or all of it."""
    return hours.windows(start, end, tz) if hours else [(start, end)]


def _gaps(
    shifts: Sequence[Shift],
    reach: dict[int, frozenset[str]],
    windows: list[tuple[datetime, datetime]],
    rows: tuple[str, ...],
) -> list[Gap]:
    """Gaps per row, on the elementary intervals cut by every shift boundary."""
    found: list[Gap] = []
    for w_start, w_end in windows:
        cuts = sorted(
            {w_start, w_end} | {t for s in shifts for t in (s.start, s.end) if w_start < t < w_end}
        )
        open_gaps: dict[str, Gap] = {}
        for a, b in itertools.pairwise(cuts):
            active = [s for s in shifts if s.start <= a and s.end >= b]
            covered = frozenset().union(*(reach[id(s)] for s in active))
            for row in rows:
                gap = open_gaps.get(row)
                if row in covered:
                    if gap is not None:
                        found.append(open_gaps.pop(row))
                elif gap is None:
                    on_shift = tuple(sorted({s.radiologist_id for s in active}))
                    open_gaps[row] = Gap(site=row, start=a, end=b, on_shift=on_shift)
                else:
                    on_shift = tuple(sorted({*gap.on_shift, *(s.radiologist_id for s in active)}))
                    open_gaps[row] = Gap(site=row, start=gap.start, end=b, on_shift=on_shift)
        found.extend(open_gaps.values())
    return found


def _required(
    hours: tuple[datetime, ...], windows: list[tuple[datetime, datetime]], end: datetime
) -> tuple[bool, ...]:
    """Per hour: whether any part of it needs cover."""
    return tuple(any(a < min(h + HOUR, end) and b > h for a, b in windows) for h in hours)


def _hourly(
    shifts: Sequence[Shift],
    *,
    reach: dict[int, frozenset[str]],
    rows: tuple[str, ...],
    start: datetime,
    end: datetime,
) -> tuple[tuple[datetime, ...], dict[str, tuple[int, ...]]]:
    """The hours of the period, and per hour the fewest covering people per row."""
    hours: list[datetime] = []
    at = start
    while at < end:
        hours.append(at)
        at += HOUR
    coverage: dict[str, list[int]] = {row: [] for row in rows}
    for h in hours:
        h_end = min(h + HOUR, end)
        touching = [s for s in shifts if s.start < h_end and s.end > h]
        cuts = sorted({h, h_end} | {t for s in touching for t in (s.start, s.end) if h < t < h_end})
        fewest = dict.fromkeys(rows, len(shifts) + 1)
        for a, b in itertools.pairwise(cuts):
            active = [s for s in touching if s.start <= a and s.end >= b]
            for row in rows:
                count = sum(1 for s in active if row in reach[id(s)])
                fewest[row] = min(fewest[row], count)
        for row in rows:
            coverage[row].append(fewest[row])
    return tuple(hours), {row: tuple(v) for row, v in coverage.items()}


def _unknown(shifts: Sequence[Shift], by_id: dict[str, Radiologist]) -> list[Violation]:
    return [
        Violation("unknown_radiologist", s.radiologist_id, s.start, "not in the registry")
        for s in shifts
        if s.radiologist_id not in by_id
    ]


def _by_person(shifts: Sequence[Shift]) -> dict[str, list[Shift]]:
    people: dict[str, list[Shift]] = {}
    for shift in sorted(shifts, key=lambda s: s.start):
        people.setdefault(shift.radiologist_id, []).append(shift)
    return people


def is_night(shift: Shift, marker: time, tz: ZoneInfo) -> bool:
    """True if the shift covers the local time ``marker`` (03:00) on some day."""
    day = shift.start.astimezone(tz).date()
    last = shift.end.astimezone(tz).date()
    while day <= last:
        instant = datetime.combine(day, marker, tzinfo=tz)
        if shift.covers(instant):
            return True
        day += timedelta(days=1)
    return False


def _rest(shifts: Sequence[Shift], rules: ValidationRules, tz: ZoneInfo) -> list[Violation]:
    found: list[Violation] = []
    for rid, own in _by_person(shifts).items():
        for before, after in itertools.pairwise(own):
            if not is_night(before, rules.night_marker, tz):
                continue
            rest = after.start - before.end
            if rest < rules.rest_after_night:
                found.append(
                    Violation(
                        "rest",
                        rid,
                        after.start,
                        f"only {rest / HOUR:.1f} h rest after the night ending "
                        f"{before.end.astimezone(tz):%Y-%m-%d %H:%M} "
                        f"(repos de sécurité: {rules.rest_after_night / HOUR:g} h)",
                    )
                )
    return found


def _consecutive_nights(
    shifts: Sequence[Shift], rules: ValidationRules, tz: ZoneInfo
) -> list[Violation]:
    found: list[Violation] = []
    for rid, own in _by_person(shifts).items():
        nights = sorted(
            {
                s.start.astimezone(tz).date(): s for s in own if is_night(s, rules.night_marker, tz)
            }.items()
        )
        run = 0
        previous = None
        for day, shift in nights:
            run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
            previous = day
            if run == rules.max_consecutive_nights + 1:
                found.append(
                    Violation(
                        "consecutive_nights",
                        rid,
                        shift.start,
                        f"night {run} in a row on {day:%Y-%m-%d} "
                        f"(at most {rules.max_consecutive_nights})",
                    )
                )
    return found


def _weekly_hours(
    shifts: Sequence[Shift], rules: ValidationRules, tz: ZoneInfo, start: datetime, end: datetime
) -> list[Violation]:
    found: list[Violation] = []
    for rid, own in _by_person(shifts).items():
        weeks: dict[datetime, float] = {}
        for shift in own:
            for w_start, w_end, hours in _split_by_week(shift, tz):
                if w_start < end and w_end > start:
                    weeks[w_start] = weeks.get(w_start, 0.0) + hours
        for w_start, hours in sorted(weeks.items()):
            if hours > rules.max_weekly_hours + 1e-9:
                found.append(
                    Violation(
                        "weekly_hours",
                        rid,
                        w_start.astimezone(UTC),
                        f"{hours:g} h in the week of {w_start:%Y-%m-%d} "
                        f"(at most {rules.max_weekly_hours:g} h)",
                    )
                )
    return found


def _split_by_week(shift: Shift, tz: ZoneInfo) -> list[tuple[datetime, datetime, float]]:
    """(local Monday 00:00, next Monday 00:00, hours of the shift within) per week touched."""
    parts: list[tuple[datetime, datetime, float]] = []
    local = shift.start.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).date()
    while True:
        w_start = datetime.combine(monday, time(), tzinfo=tz)
        w_end = datetime.combine(monday + timedelta(days=7), time(), tzinfo=tz)
        overlap = min(shift.end, w_end) - max(shift.start, w_start)
        if overlap > timedelta(0):
            parts.append((w_start, w_end, overlap / HOUR))
        if w_end >= shift.end:
            return parts
        monday += timedelta(days=7)


def merged_gap_hours(report: RosterReport) -> float:
    """Total hours with at least one gap (any site or stroke)."""
    merged = merge_intervals([(g.start, g.end) for g in report.gaps])
    return sum((b - a) / HOUR for a, b in merged)
