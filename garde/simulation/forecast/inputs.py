"""What `garde forecast` gathers before replaying: the region from the config, the roster
from a file or the store, the arrival model from a scenario file or the store's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol

from garde.rosters.importer import import_roster
from garde.services.rostering import import_rules
from garde.simulation.forecast.history import learn, read_history
from garde.simulation.forecast.model import Region
from garde.simulation.forecast.replay import night_bounds
from garde.simulation.forecast.scenario_file import load_scenario
from garde.simulation.simulator import ServiceConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import date
    from pathlib import Path

    from garde.config.model import Settings
    from garde.dispatch.model import Shift
    from garde.simulation.forecast.model import ArrivalModel
    from garde.store.uow import SqlUnitOfWork


class HistoryStore(Protocol):
    """Where the forecast reads the roster and learns the arrivals: the SQL store (its
    history is read with SQL), as `garde.bootstrap.Runtime` gives it."""

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work."""
        ...


NIGHT_START = time(18, 0)


@dataclass(frozen=True, slots=True)
class Inputs:
    """The region, the roster's shifts over the period and the arrival model."""

    region: Region
    shifts: tuple[Shift, ...]
    model: ArrivalModel


def region_of(settings: Settings, night_start: time = NIGHT_START) -> Region:
    """The config's region: hospitals, readers, SLA, the roster's zone; a night runs from
    ``night_start`` (18:00, NIGHTS.md) to the morning handover."""
    return Region(
        sites=settings.sites,
        radiologists=settings.radiologists,
        sla=settings.sla,
        timezone=settings.rosters.timezone,
        night_start=night_start,
        night_end=settings.sla.morning_handover,
        services=ServiceConfig.from_settings(settings),
    )


def gather(
    settings: Settings,
    runtime: Callable[[], HistoryStore],
    *,
    first_night: date,
    nights: int,
    roster: Path | None = None,
    scenario: Path | None = None,
    history_weeks: int = 8,
    night_start: time = NIGHT_START,
    now: datetime | None = None,
) -> Inputs:
    """Everything a forecast replays; the store is opened only when needed.

    ``roster`` None: the stored roster; ``scenario`` None: the store's history of the
    ``history_weeks`` weeks before ``now``.
    """
    region = region_of(settings, night_start)
    start = night_bounds(region, first_night)[0]
    end = night_bounds(region, first_night + timedelta(days=nights - 1))[1]
    if roster is not None:
        shifts: Sequence[Shift] = import_roster(
            roster,
            radiologists=settings.radiologists,
            sites=settings.sites,
            timezone=region.timezone,
            rules=import_rules(settings.rosters),
        ).shifts
    else:
        with runtime().uow() as uow:
            shifts = uow.roster.shifts_between(start, end)
    if scenario is not None:
        model = load_scenario(scenario, settings.sites)
    else:
        until = now or datetime.now(tz=UTC)
        since = until - timedelta(weeks=history_weeks)
        with runtime().uow() as uow:
            past = read_history(uow.session, since, until)
        model = learn(past, since, until, region.timezone)
    return Inputs(region, tuple(s for s in shifts if s.start < end and s.end > start), model)
