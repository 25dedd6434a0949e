"""Replaying forecast nights: each night drawn from the arrival model N times and run
through the product's services on a simulated clock (`garde.simulation.simulator`:
stability sweep, dispatch, late binding, stroke alerts, escalation, handover), with the
region's SLA policy.

Replications of one night share nothing but the roster; the k-th replication of a night
always draws the same arrivals (its seed is the night's date and k), so a what-if
addition is compared on the same nights (common random numbers).
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from garde.dispatch.model import Priority, Shift
from garde.simulation.forecast.model import TIMED, HourLoad, Outlook, hour_of_week
from garde.simulation.scenario import NightScenario, RateBand, SyntheticArrival
from garde.simulation.simulator import example_config, simulate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import date

    from garde.simulation.forecast.model import ArrivalModel, Region
    from garde.simulation.scenario import ExamType
    from garde.simulation.simulator import ServiceConfig

_LOW_PCT, _HIGH_PCT = 5.0, 95.0  # the 90 % interval


def night_bounds(region: Region, night: date) -> tuple[datetime, datetime]:
    """The night starting on the evening of ``night`` (local start and end, in UTC)."""
    zone = ZoneInfo(region.timezone)
    start = datetime.combine(night, region.night_start, tzinfo=zone)
    end_day = night + timedelta(days=1) if region.night_end <= region.night_start else night
    end = datetime.combine(end_day, region.night_end, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def night_scenario(
    region: Region, model: ArrivalModel, night: date, shifts: Iterable[Shift]
) -> NightScenario:
    """The night of ``night`` as the simulator takes it: the roster's shifts clipped to
    it, the readers' learned speeds, hourly rate bands (the whole region's, for the load
    chart: arrivals are drawn per hospital by `draw_arrivals`)."""
    start, end = night_bounds(region, night)
    clipped = tuple(
        Shift(s.radiologist_id, max(s.start, start), min(s.end, end), s.role, s.sites)
        for s in shifts
        if s.start < end and s.end > start
    )
    on = {s.radiologist_id for s in clipped}
    readers = tuple(
        replace(r, speed=model.speeds.get(r.id, r.speed)) for r in region.radiologists if r.id in on
    )
    known = {r.id for r in readers}
    duration = (end - start).total_seconds() / 60
    return NightScenario(
        name=f"forecast {night.isoformat()}",
        start=start,
        duration_min=duration,
        sites=region.sites,
        radiologists=readers,
        shifts=tuple(s for s in clipped if s.radiologist_id in known),
        rates=_bands(region, model, start, duration),
        exam_types=model.mix,
        sla=region.sla,
    )


def _hours(duration: float) -> list[tuple[float, float]]:
    """The night's hour bands, in minutes after its start (the last one may be short)."""
    return [
        (60.0 * k, min(60.0 * (k + 1), duration)) for k in range(math.ceil(duration / 60 - 1e-9))
    ]


def _bands(
    region: Region, model: ArrivalModel, start: datetime, duration: float
) -> tuple[RateBand, ...]:
    zone = ZoneInfo(region.timezone)
    bands = []
    for low, high in _hours(duration):
        how = hour_of_week((start + timedelta(minutes=low)).astimezone(zone))
        rate = sum(model.hourly(site.id, how) for site in region.sites)
        bands.append(RateBand(low, high, rate))
    return tuple(bands)


def _seed(night: date, replication: int, seed: int) -> int:
    digest = hashlib.sha256(f"garde-forecast:{seed}:{night}:{replication}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draw_arrivals(
    scenario: NightScenario, model: ArrivalModel, zone: str, seed: int
) -> list[SyntheticArrival]:
    """One replication's arrivals: Poisson per hospital and hour of the week, exam from
    the case mix, log-normal true reading minutes around the mix's means."""
    rng = np.random.default_rng(seed)
    mix = [e for e in model.mix if e.share > 0]
    weights = np.array([e.share for e in mix], dtype=float)
    weights /= weights.sum()
    local = ZoneInfo(zone)
    drafts: list[tuple[float, ExamType, str]] = []
    for low, high in _hours(scenario.duration_min):
        how = hour_of_week((scenario.start + timedelta(minutes=low)).astimezone(local))
        for site in scenario.sites:
            rate = model.hourly(site.id, how)
            if rate <= 0:
                continue
            count = int(rng.poisson(rate * (high - low) / 60.0))
            for offset in rng.uniform(low, high, size=count).tolist():
                exam = mix[int(rng.choice(len(mix), p=weights))]
                drafts.append((offset, exam, site.id))
    drafts.sort(key=lambda d: d[0])
    arrivals = []
    for index, (offset, exam, site_id) in enumerate(drafts):
        arrived = scenario.at(offset)
        mu = math.log(exam.mean_minutes) - exam.sigma * exam.sigma / 2.0
        arrivals.append(
            SyntheticArrival(
                study_uid=f"2.25.{seed % 10**20}.{index}",
                offset_min=offset,
                arrived_at=arrived,
                site_id=site_id,
                modality=exam.modality,
                body_part=exam.body_part,
                description=exam.descriptions[0],
                requested_priority=exam.requested_priority,
                patient_key=f"{seed}-{index}",
                exam=exam.key,
                priority=exam.priority,
                skills=exam.skills,
                preferred_skill=exam.preferred_skill,
                expected_minutes=exam.triage_minutes,
                true_minutes=max(0.5, float(rng.lognormal(mu, exam.sigma))),
                deadline=scenario.deadline(exam.priority, arrived),
            )
        )
    return arrivals


@dataclass(frozen=True, slots=True)
class _Job:
    """One night's replications, sent to a worker process."""

    night: date
    scenario: NightScenario
    model: ArrivalModel
    zone: str
    seeds: tuple[int, ...]
    services: ServiceConfig | None = None


def _run(job: _Job) -> tuple[date, list[dict[Priority, tuple[int, int]]]]:
    """Per replication, per priority: (reads within the SLA target, reads)."""
    out = []
    # The region's services and targets (the example region's when none are given).
    config = replace(job.services or example_config(), sla=job.scenario.sla)
    for seed in job.seeds:
        arrivals = draw_arrivals(job.scenario, job.model, job.zone, seed)
        result = simulate(job.scenario, arrivals, "garde", config)
        counts: dict[Priority, list[int]] = {p: [0, 0] for p in TIMED}
        for read in result.reads:
            tally = counts[Priority(read.priority)]
            tally[1] += 1
            tally[0] += read.finished <= read.deadline + 1e-9
        for priority in result.unread_priorities:  # never read: a miss
            counts[Priority(priority)][1] += 1
        out.append({p: (c[0], c[1]) for p, c in counts.items()})
    return job.night, out


def outlooks(
    replications: Sequence[dict[Priority, tuple[int, int]]], required: dict[Priority, float]
) -> tuple[Outlook, ...]:
    """Median and 90 % interval of each priority's share within SLA over replications (a
    replication without a study of that priority says nothing about it)."""
    result = []
    for priority in TIMED:
        shares = [100.0 * w / n for w, n in (r[priority] for r in replications) if n]
        reads = sum(r[priority][1] for r in replications) / len(replications)
        if not shares:
            shares = [100.0]
        low, mid, high = np.percentile(shares, [_LOW_PCT, 50.0, _HIGH_PCT]).tolist()
        result.append(Outlook(priority, mid, low, high, reads, required.get(priority, 0.0)))
    return tuple(result)


def replay_nights(
    jobs: Sequence[_Job],
    workers: int,
    progress: Callable[[date], None] | None = None,
) -> dict[date, list[dict[Priority, tuple[int, int]]]]:
    """Every job's replications, on ``workers`` processes (1: in this process)."""
    done: dict[date, list[dict[Priority, tuple[int, int]]]] = {}
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            night, counts = _run(job)
            done[night] = counts
            if progress is not None:
                progress(night)
        return done
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for night, counts in pool.map(_run, jobs):
            done[night] = counts
            if progress is not None:
                progress(night)
    return done


def job(
    region: Region,
    model: ArrivalModel,
    night: date,
    scenario: NightScenario,
    seeds: Sequence[int],
) -> _Job:
    """The replications of one night as a unit of work for `replay_nights`."""
    return _Job(night, scenario, model, region.timezone, tuple(seeds), region.services)


def seeds_for(night: date, replications: int, seed: int) -> list[int]:
    """The k-th replication of a night always draws the same arrivals."""
    return [_seed(night, k, seed) for k in range(replications)]


def hourly_load(scenario: NightScenario, model: ArrivalModel, zone: str) -> tuple[HourLoad, ...]:
    """Expected reading minutes arriving per hour (at nominal speed) against the reading
    minutes of the readers on shift in that hour (their speed counted)."""
    mean = model.mean_minutes()
    local = ZoneInfo(zone)
    hours = []
    for low, high in _hours(scenario.duration_min):
        begin = scenario.start + timedelta(minutes=low)
        how = hour_of_week(begin.astimezone(local))
        load = sum(model.hourly(s.id, how) for s in scenario.sites) * mean * (high - low) / 60
        end = scenario.start + timedelta(minutes=high)
        capacity = 0.0
        for shift in scenario.shifts:
            overlap = (min(shift.end, end) - max(shift.start, begin)).total_seconds() / 60
            if overlap > 0:
                reader = next(r for r in scenario.radiologists if r.id == shift.radiologist_id)
                capacity += overlap * reader.speed
        hours.append(HourLoad(begin, load, capacity))
    return tuple(hours)
