"""The arrival model learned from the store's history.

- **Arrivals**: per hospital and hour of the week (the region's wall clock), the studies
  received in the window divided by how many times that hour of the week occurred in it.
- **Case mix**: one exam type per (priority, required skills) seen, its share of the
  studies, triage's expected minutes and the true reading minutes read off the audit
  (start to done), each read scaled to nominal speed by its reader's speed.
- **Readers' speeds**: a reader with enough reads has the median of triage's expected
  minutes over the minutes they took (1.2: a fifth faster than expected).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from garde.dispatch.model import Priority
from garde.simulation.forecast.errors import NoHistoryError
from garde.simulation.forecast.model import ArrivalModel, hour_of_week
from garde.simulation.scenario import ExamType
from garde.store.models import StudyRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

MIN_STUDIES = 50
"""Fewer studies in the window than this teach nothing: a scenario file is asked for."""
MIN_READS_FOR_SPEED = 5
SPEED_RANGE = (0.4, 2.5)
SIGMA_RANGE = (0.2, 0.8)
DEFAULT_SIGMA = 0.45


@dataclass(frozen=True, slots=True)
class PastStudy:
    """What the model needs of one stored study."""

    site_id: str
    received_at: datetime
    priority: Priority
    skills: frozenset[str]
    expected_minutes: float
    reader: str | None = None
    read_minutes: float | None = None  # start to done, when it was read


def read_history(session: Session, since: datetime, until: datetime) -> list[PastStudy]:
    """The triaged studies received in [since, until)."""
    rows = session.execute(
        select(
            StudyRow.site_id,
            StudyRow.first_received_at,
            StudyRow.priority,
            StudyRow.skills,
            StudyRow.reading_minutes,
            StudyRow.assignee,
            StudyRow.started_at,
            StudyRow.done_at,
        ).where(
            StudyRow.first_received_at >= since,
            StudyRow.first_received_at < until,
            StudyRow.priority.is_not(None),
        )
    ).all()
    past = []
    for site, received, priority, skills, expected, reader, started, done in rows:
        minutes = None
        if started is not None and done is not None and done > started:
            minutes = (done - started).total_seconds() / 60
        past.append(
            PastStudy(
                site,
                received,
                Priority(str(priority)),
                frozenset(skills or ()),
                float(expected or 15.0),
                reader if minutes is not None else None,
                minutes,
            )
        )
    return past


def learn(
    past: Sequence[PastStudy], since: datetime, until: datetime, timezone: str
) -> ArrivalModel:
    """The arrival model of ``past`` (studies received in [since, until))."""
    if len(past) < MIN_STUDIES:
        raise NoHistoryError(
            f"the store holds {len(past)} triaged studies received between "
            f"{since:%Y-%m-%d} and {until:%Y-%m-%d} (at least {MIN_STUDIES} are needed "
            "to learn arrivals): give a scenario file (--scenario)"
        )
    zone = ZoneInfo(timezone)
    occurrences = _hour_occurrences(since, until, zone)
    counts: dict[tuple[str, int], int] = {}
    for study in past:
        key = (study.site_id, hour_of_week(study.received_at.astimezone(zone)))
        counts[key] = counts.get(key, 0) + 1
    rates = {key: n / max(1, occurrences.get(key[1], 0)) for key, n in counts.items()}
    speeds = _speeds(past)
    weeks = (until - since).total_seconds() / (7 * 86400)
    return ArrivalModel(
        rates=rates,
        mix=_mix(past, speeds),
        speeds=speeds,
        source=f"history: {len(past)} studies over {weeks:.1f} weeks",
    )


def _hour_occurrences(since: datetime, until: datetime, zone: ZoneInfo) -> dict[int, int]:
    """How many times each hour of the week began in [since, until)."""
    seen: dict[int, int] = {}
    at = since.replace(minute=0, second=0, microsecond=0)
    if at < since:
        at += timedelta(hours=1)
    while at < until:
        how = hour_of_week(at.astimezone(zone))
        seen[how] = seen.get(how, 0) + 1
        at += timedelta(hours=1)
    return seen


def _speeds(past: Sequence[PastStudy]) -> dict[str, float]:
    ratios: dict[str, list[float]] = {}
    for study in past:
        if study.reader is not None and study.read_minutes:
            ratios.setdefault(study.reader, []).append(study.expected_minutes / study.read_minutes)
    low, high = SPEED_RANGE
    return {
        reader: min(high, max(low, statistics.median(values)))
        for reader, values in ratios.items()
        if len(values) >= MIN_READS_FOR_SPEED
    }


def _mix(past: Sequence[PastStudy], speeds: dict[str, float]) -> tuple[ExamType, ...]:
    groups: dict[tuple[Priority, frozenset[str]], list[PastStudy]] = {}
    for study in past:
        groups.setdefault((study.priority, study.skills), []).append(study)
    mix = []
    for (priority, skills), studies in sorted(
        groups.items(), key=lambda g: (g[0][0].rank, sorted(g[0][1]))
    ):
        expected = statistics.fmean(s.expected_minutes for s in studies)
        nominal = [
            s.read_minutes * speeds.get(s.reader or "", 1.0)
            for s in studies
            if s.read_minutes is not None
        ]
        mean = statistics.fmean(nominal) if nominal else expected
        sigma = DEFAULT_SIGMA
        if len(nominal) >= MIN_READS_FOR_SPEED:
            spread = statistics.pstdev(math.log(m) for m in nominal)
            sigma = min(SIGMA_RANGE[1], max(SIGMA_RANGE[0], spread))
        name = f"{priority.value}:{'+'.join(sorted(skills)) or 'any'}"
        mix.append(
            ExamType(
                key=name,
                modality="",
                body_part="",
                descriptions=(name,),
                priority=priority,
                share=len(studies) / len(past),
                mean_minutes=max(0.5, mean),
                sigma=sigma,
                skills=skills,
                expected_minutes=expected,
            )
        )
    return tuple(mix)
