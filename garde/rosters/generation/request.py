"""What a roster generation is asked (`GenerationRequest`) and what it answers
(`RosterSolution`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from garde.rosters.errors import RosterGenerationError
from garde.rosters.oncall import OnCallHours

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dispatch.model import Radiologist, Shift, Site


@dataclass(frozen=True, slots=True)
class Availability:
    """One radiologist's constraints and wishes for the month.

    ``unavailable`` days block every slot that touches them; ``max_nights`` caps the
    nights (None: no cap of their own); ``fraction`` is the part-time fraction (0.5: half
    the share of nights, weekends and holidays); ``wished_nights`` are evenings they
    would like to start a night (a soft goal).
    """

    radiologist_id: str
    unavailable: frozenset[date] = frozenset()
    max_nights: int | None = None
    fraction: float = 1.0
    wished_nights: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(
                f"{self.radiologist_id}: part-time fraction must be in (0, 1], got {self.fraction}"
            )
        if self.max_nights is not None and self.max_nights < 0:
            raise ValueError(f"{self.radiologist_id}: max_nights must be >= 0")


@dataclass(frozen=True, slots=True)
class HardRules:
    """Rules no generated roster breaks.

    ``night_staff`` / ``day_staff``: exactly this many radiologists on each night and each
    weekend or holiday day; together they must cover every site (by credentials) and
    stroke (``stroke_skill`` or ``stroke_pool``). ``stroke_day_staff``: this many stroke
    readers on each weekday's daytime, so that stroke is covered around the clock (0:
    weekday stroke cover is rostered elsewhere).
    """

    night_staff: int = 2
    day_staff: int = 2
    stroke_day_staff: int = 1
    rest_after_night: timedelta = timedelta(hours=11)
    max_consecutive_nights: int = 3
    max_weekly_hours: float = 48.0
    stroke_skill: str = "neuro"
    stroke_pool: frozenset[str] = frozenset()
    # Per night (the evening it starts), the staff wanted instead of ``night_staff``:
    # the forecast's demands for the nights it found at risk (pairs, so that the rules
    # stay hashable).
    night_demands: tuple[tuple[date, int], ...] = ()

    def __post_init__(self) -> None:
        if self.night_staff < 1 or self.day_staff < 1:
            raise ValueError("night_staff and day_staff must be >= 1")
        if self.stroke_day_staff < 0:
            raise ValueError(f"stroke_day_staff must be >= 0, got {self.stroke_day_staff}")
        if self.max_consecutive_nights < 1:
            raise ValueError("max_consecutive_nights must be >= 1")
        if any(staff < 1 for _, staff in self.night_demands):
            raise ValueError("a night's demanded staff must be >= 1")

    def night_staff_on(self, day: date) -> int:
        """Radiologists wanted on the night starting on the evening of ``day``."""
        for night, staff in self.night_demands:
            if night == day:
                return staff
        return self.night_staff


@dataclass(frozen=True, slots=True)
class SoftWeights:
    """Weights of the soft goals (cost per unit; 0 turns a goal off).

    Fairness costs are per shift away from a radiologist's share (their band of
    floor/ceil of the fair share, scaled by part-time fraction and availability), and,
    for ``hours_fairness``, per weighted hour away from their share of all the hours
    (nights and weekend days weighing ``night_hours_weight`` / ``weekend_hours_weight``).
    """

    night_fairness: int = 10
    weekend_fairness: int = 10
    holiday_fairness: int = 10
    stroke_day_fairness: int = 10
    wished_night: int = 4
    isolated_night: int = 3
    hours_fairness: int = 1  # per weighted hour away from one's fair share of hours
    night_hours_weight: float = 1.5  # an hour of night weighs this much in the balance
    weekend_hours_weight: float = 1.5  # an hour of weekend or holiday day, likewise

    def __post_init__(self) -> None:
        for name in SoftWeights.__slots__:
            if getattr(self, name) < 0:
                raise ValueError(f"soft weight {name} must be >= 0")


@dataclass(frozen=True, slots=True)
class SolverSettings:
    """CP-SAT limits (from config): wall time, worker threads, seed, early stop gap, and
    patience: stop once no better roster has come for ``patience_s`` seconds (None: run
    to the limit or the proof)."""

    time_limit_s: float = 30.0
    workers: int = 2
    seed: int = 0
    relative_gap: float = 0.0  # stop when within this fraction of the bound (0: run on)
    patience_s: float | None = 5.0

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0 or self.workers < 1:
            raise ValueError("time_limit_s must be > 0 and workers >= 1")
        if self.patience_s is not None and not self.patience_s > 0:
            raise ValueError(f"patience_s must be > 0 (or None), got {self.patience_s}")


@dataclass(frozen=True, slots=True)
class Progress:
    """One improving solution, for a progress display."""

    solutions: int
    objective: float
    bound: float
    seconds: float


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A month (or any run of days) of nights and weekend/holiday days to staff.

    Days ``first_day`` .. ``first_day + days - 1`` each get a night (starting that
    evening) and, on weekends and French public holidays, a day shift, at the local
    times of ``hours``; other days get a daytime stroke shift (see `HardRules`).
    """

    radiologists: tuple[Radiologist, ...]
    sites: tuple[Site, ...]
    first_day: date
    days: int
    timezone: str = "Europe/Paris"
    hours: OnCallHours = field(default_factory=OnCallHours)
    availability: tuple[Availability, ...] = ()
    hard: HardRules = field(default_factory=HardRules)
    soft: SoftWeights = field(default_factory=SoftWeights)
    solver: SolverSettings = field(default_factory=SolverSettings)
    progress: Callable[[Progress], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.days < 1:
            raise RosterGenerationError(f"days must be >= 1, got {self.days}")
        if not self.radiologists or not self.sites:
            raise RosterGenerationError("a generation needs radiologists and sites")
        known = {r.id for r in self.radiologists}
        unknown = sorted({a.radiologist_id for a in self.availability} - known)
        if unknown:
            raise RosterGenerationError(f"availability for unknown radiologist(s): {unknown}")

    def availability_of(self, radiologist_id: str) -> Availability:
        """The radiologist's availability (everything allowed if none was given)."""
        for entry in self.availability:
            if entry.radiologist_id == radiologist_id:
                return entry
        return Availability(radiologist_id)


@dataclass(frozen=True, slots=True)
class RadiologistLoad:
    """What one radiologist got, next to their fair share of nights."""

    radiologist_id: str
    nights: int
    weekend_shifts: int
    holiday_shifts: int
    hours: float
    fair_nights: float
    stroke_days: int = 0  # weekday daytime stroke shifts
    weighted_hours: float = 0.0  # hours with nights and weekends weighted (the balance's)
    fair_weighted_hours: float = 0.0  # their fair share of the weighted hours


@dataclass(frozen=True, slots=True)
class PenaltyHit:
    """A soft goal missed in the solution: the structured name and its cost."""

    name: str
    cost: int


@dataclass(frozen=True, slots=True)
class RosterSolution:
    """The generator's answer.

    ``status`` is ``optimal``, ``feasible``, ``infeasible`` or ``unknown`` (no roster
    found in time). When not feasible, ``explanation`` says which sites or nights cannot
    be covered and why; an infeasible answer still holds the best partial roster in
    ``shifts``, every rule but staffing and cover kept, and ``unfilled`` lists its empty
    seats and uncovered sites. ``gap_pct`` is 100 * (objective - bound) / max(1, objective).
    """

    status: str
    shifts: tuple[Shift, ...]
    objective: float
    bound: float
    gap_pct: float
    seconds: float
    penalties: tuple[PenaltyHit, ...] = ()
    loads: tuple[RadiologistLoad, ...] = ()
    explanation: tuple[str, ...] = ()
    unfilled: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """True if a roster was found (optimal or not)."""
        return self.status in {"optimal", "feasible"}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (shifts are written with `write_csv` / `write_ics`)."""
        return {
            "status": self.status,
            "feasible": self.feasible,
            "objective": _number(self.objective),
            "bound": _number(self.bound),
            "gap_pct": _number(round(self.gap_pct, 3)),
            "seconds": round(self.seconds, 3),
            "shifts": len(self.shifts),
            "penalties": [{"name": p.name, "cost": p.cost} for p in self.penalties],
            "loads": [
                {
                    "radiologist": load.radiologist_id,
                    "nights": load.nights,
                    "weekend_shifts": load.weekend_shifts,
                    "holiday_shifts": load.holiday_shifts,
                    "stroke_days": load.stroke_days,
                    "hours": round(load.hours, 2),
                    "weighted_hours": round(load.weighted_hours, 2),
                    "fair_weighted_hours": round(load.fair_weighted_hours, 2),
                    "fair_nights": round(load.fair_nights, 2),
                }
                for load in self.loads
            ],
            "explanation": list(self.explanation),
            "unfilled": list(self.unfilled),
        }


def _number(value: float) -> float | None:
    """JSON has no NaN: an infeasible solution's objective, bound and gap become null."""
    return None if math.isnan(value) else value
