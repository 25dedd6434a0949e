"""What a forecast is given (`Region`, `ArrivalModel`) and what it answers (`Forecast`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from garde.dispatch.model import Priority, SlaPolicy

if TYPE_CHECKING:
    from datetime import date

    from garde.dispatch.model import Radiologist, Shift, Site
    from garde.simulation.scenario import ExamType
    from garde.simulation.simulator import ServiceConfig

HOURS_PER_WEEK = 168

TIMED = (Priority.STROKE, Priority.EMERGENCY, Priority.URGENT, Priority.ROUTINE)
"""The priorities a forecast reports, most urgent first."""


DEFAULT_REQUIRED = {
    Priority.STROKE: 95.0,
    Priority.EMERGENCY: 95.0,
    Priority.URGENT: 90.0,
    Priority.ROUTINE: 90.0,
}
"""The share (%) of each priority's reads within its SLA target a night needs."""


def hour_of_week(moment: datetime) -> int:
    """0 for Monday 00:00-01:00 of ``moment``'s own wall clock, up to 167."""
    return moment.weekday() * 24 + moment.hour


@dataclass(frozen=True, slots=True)
class ArrivalModel:
    """How studies arrive and how long they take, learned from history or a scenario.

    ``rates`` maps (site id, hour of week in the region's wall clock) to arrivals per
    hour; ``mix`` is the case mix (priority, skills, expected and true reading minutes);
    ``speeds`` overrides readers' speeds where the audit showed how fast they read.
    """

    rates: dict[tuple[str, int], float]
    mix: tuple[ExamType, ...]
    speeds: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        for (site, how), rate in self.rates.items():
            if not 0 <= how < HOURS_PER_WEEK:
                raise ValueError(f"arrival rate for {site}: hour of week {how} not in 0-167")
            if rate < 0:
                raise ValueError(f"arrival rate for {site} at hour {how} is negative: {rate}")
        if not any(e.share > 0 for e in self.mix):
            raise ValueError("the case mix needs at least one exam type with share > 0")

    def hourly(self, site_id: str, how: int) -> float:
        """Arrivals per hour at ``site_id`` in hour of week ``how``."""
        return self.rates.get((site_id, how), 0.0)

    def mean_minutes(self) -> float:
        """Mean true reading minutes of one study of the mix (nominal speed)."""
        total = sum(e.share for e in self.mix if e.share > 0)
        return sum(e.share * e.mean_minutes for e in self.mix if e.share > 0) / total


@dataclass(frozen=True, slots=True)
class Region:
    """The region a forecast replays: hospitals, readers, SLA, the night's hours."""

    sites: tuple[Site, ...]
    radiologists: tuple[Radiologist, ...]
    sla: SlaPolicy
    timezone: str = "Europe/Paris"
    night_start: time = time(18, 0)
    night_end: time = time(8, 30)
    # The services' settings the nights replay on (triage rules, reading times, the
    # jobs' periods); None: the example region's (`simulator.example_config`).
    services: ServiceConfig | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One forecast: the nights, the roster, the replications and the share required.

    ``required`` is the share of each priority's reads within its SLA target a night
    needs (percent); below it (the median over replications) the night is at risk.
    """

    first_night: date
    nights: int
    shifts: tuple[Shift, ...]
    replications: int = 20
    required: dict[Priority, float] = field(default_factory=lambda: dict(DEFAULT_REQUIRED))
    seed: int = 0
    workers: int = 2
    staffing: bool = True

    def __post_init__(self) -> None:
        if self.nights < 1 or self.replications < 1:
            raise ValueError("a forecast needs at least one night and one replication")


@dataclass(frozen=True, slots=True)
class Outlook:
    """One priority on one night: the predicted share within SLA over the replications.

    ``low`` and ``high`` bound the 90 % interval (5th and 95th percentiles); ``reads``
    is the mean number of studies of that priority per replication.
    """

    priority: Priority
    median: float
    low: float
    high: float
    reads: float
    required: float

    @property
    def at_risk(self) -> bool:
        """The median share is below the share required."""
        return self.median < self.required

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict."""
        return {
            "within_sla_pct": round(self.median, 2),
            "ci90_low": round(self.low, 2),
            "ci90_high": round(self.high, 2),
            "reads": round(self.reads, 1),
            "required_pct": self.required,
            "at_risk": self.at_risk,
        }


@dataclass(frozen=True, slots=True)
class Addition:
    """The smallest extra reader found to bring a night at risk to its targets.

    ``skill`` is the one skill the extra reader holds ("" when one with every skill of
    the region was needed); None ``hours``: nothing tried was enough.
    """

    start: datetime | None
    end: datetime | None
    skill: str
    outlooks: tuple[Outlook, ...] = ()

    @property
    def hours(self) -> float | None:
        """How many hours the extra reader works (None: nothing was enough)."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 3600

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict."""
        return {
            "start": None if self.start is None else self.start.astimezone(UTC).isoformat(),
            "end": None if self.end is None else self.end.astimezone(UTC).isoformat(),
            "hours": self.hours,
            "skill": self.skill,
            "with_addition": {o.priority.value: o.to_dict() for o in self.outlooks},
        }


@dataclass(frozen=True, slots=True)
class HourLoad:
    """One hour of a night: expected reading minutes arriving and reading minutes on shift."""

    start: datetime
    load_min: float
    capacity_min: float


@dataclass(frozen=True, slots=True)
class NightForecast:
    """One night: an outlook per priority, the hourly load, and the addition if at risk."""

    night: date
    start: datetime
    outlooks: tuple[Outlook, ...]
    hours: tuple[HourLoad, ...]
    readers: int
    addition: Addition | None = None

    @property
    def at_risk(self) -> bool:
        """Some priority's median share is below what it requires."""
        return any(o.at_risk for o in self.outlooks)

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict."""
        return {
            "night": self.night.isoformat(),
            "start": self.start.astimezone(UTC).isoformat(),
            "readers": self.readers,
            "at_risk": self.at_risk,
            "priorities": {o.priority.value: o.to_dict() for o in self.outlooks},
            "hourly": [
                {
                    "start": h.start.astimezone(UTC).isoformat(),
                    "load_min": round(h.load_min, 1),
                    "capacity_min": round(h.capacity_min, 1),
                }
                for h in self.hours
            ],
            "addition": None if self.addition is None else self.addition.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Forecast:
    """The whole period."""

    nights: tuple[NightForecast, ...]
    replications: int
    source: str
    seconds: float = 0.0

    @property
    def at_risk(self) -> tuple[NightForecast, ...]:
        """The nights at risk, in order."""
        return tuple(n for n in self.nights if n.at_risk)

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict (``garde forecast --json``)."""
        return {
            "nights": [n.to_dict() for n in self.nights],
            "nights_at_risk": [n.night.isoformat() for n in self.at_risk],
            "replications": self.replications,
            "arrival_model": self.source,
            "seconds": round(self.seconds, 2),
        }
