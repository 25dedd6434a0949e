"""The shifts to staff ("slots") of a request, and who may take each one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from garde.rosters._localtime import zone
from garde.rosters.holidays import is_french_holiday

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from garde.dispatch.model import Radiologist
    from garde.rosters.generation.request import GenerationRequest, HardRules

NIGHT = "night"
DAY = "day"
STROKE = "stroke"  # weekday daytime stroke cover: the sites are read by their hospitals
_LABELS = {NIGHT: "night", DAY: "day", STROKE: "stroke day"}
SATURDAY = 5
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Slot:
    """One shift to staff, with its UTC bounds: a night, a weekend/holiday day, or a
    weekday's daytime stroke cover."""

    index: int
    kind: str  # NIGHT, DAY or STROKE (also the generated shift's role)
    day: date  # local date it starts on
    start: datetime
    end: datetime
    weekend: bool
    holiday: bool

    @property
    def hours(self) -> float:
        """Length in hours (a DST night is 11 or 13 h for a 12 h template)."""
        return (self.end - self.start) / HOUR

    @property
    def label(self) -> str:
        """``night of Sat 2025-11-08`` / ``day of Sun 2025-11-09`` / ``stroke day of ...``."""
        return f"{_LABELS[self.kind]} of {self.day:%a %Y-%m-%d}"


def build_slots(request: GenerationRequest) -> list[Slot]:
    """Every slot of the request in time order (a day's day shift before its night).

    Stroke cover is needed around the clock, so a weekday's daytime, which needs no site
    cover, still gets a stroke slot (unless ``stroke_day_staff`` is 0).
    """
    tz = zone(request.timezone)
    hours = request.hours
    slots: list[Slot] = []
    for offset in range(request.days):
        day = request.first_day + timedelta(days=offset)
        weekend = day.weekday() >= SATURDAY
        holiday = hours.public_holidays and is_french_holiday(day)
        if hours.is_day_covered(day):
            start, end = hours.day(day, tz)
            slots.append(Slot(len(slots), DAY, day, start, end, weekend, holiday))
        elif request.hard.stroke_day_staff > 0:
            start, end = hours.day(day, tz)
            slots.append(Slot(len(slots), STROKE, day, start, end, weekend, holiday))
        start, end = hours.night(day, tz)
        slots.append(Slot(len(slots), NIGHT, day, start, end, weekend, holiday))
    return slots


def local_days(slot: Slot, tz: ZoneInfo) -> set[date]:
    """The local dates a slot touches (a night touches two)."""
    first = slot.start.astimezone(tz).date()
    last = (slot.end - timedelta(microseconds=1)).astimezone(tz).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def blocked_by_leave(request: GenerationRequest, slots: list[Slot]) -> dict[str, set[int]]:
    """Per radiologist, the slots they cannot take because they touch an unavailable day."""
    tz = zone(request.timezone)
    touching = {slot.index: local_days(slot, tz) for slot in slots}
    return {
        r.id: {
            i for i, days in touching.items() if days & request.availability_of(r.id).unavailable
        }
        for r in request.radiologists
    }


def staff_of(slot: Slot, hard: HardRules) -> int:
    """How many radiologists the slot takes."""
    if slot.kind == NIGHT:
        return hard.night_staff_on(slot.day)
    return hard.stroke_day_staff if slot.kind == STROKE else hard.day_staff


def can_read_stroke(radiologist: Radiologist, request: GenerationRequest) -> bool:
    """True if the radiologist counts toward stroke cover."""
    hard = request.hard
    return hard.stroke_skill in radiologist.skills or radiologist.id in hard.stroke_pool
