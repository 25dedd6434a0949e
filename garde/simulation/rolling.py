"""How far an online policy gets on the offline reference's nights (issue 16 item 4).

The reference (`garde.simulation.offline`) knows the whole night: every arrival and every
read's true minutes. An online policy knows the studies routable so far and, at best,
estimates of their reading minutes. To tell which of the two the ratio's gap comes
from, `rolling_night` replays a night with the reference's own model re-solved at every
decision on what is known then: whenever a reader is free and a study waits, CP-SAT
plans the known backlog (the reference's tiers: stroke misses, weighted misses,
weighted lateness) and each free reader starts what the plan gives them first.

- ``durations="true"``: the plan knows each routable study's true minutes (more than
  any product can know);
- ``durations="estimated"``: the triage's estimate at the reader's speed (what Garde
  knows); a busy reader is expected free at the estimate of the read in hand, and at
  least a minute from now.
- ``strokes=False`` leaves the strokes out of the night, their reading work too: a
  relaxation in the online policy's favour.

Reads are not interrupted (a stroke, when kept, waits for a free reader like any study).
A yardstick, not a proof: a better online policy may exist, but one that re-optimises
the backlog at every decision with the reference's own model is a strong one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from garde.dispatch.model import Priority
from garde.simulation.offline import (
    Job,
    OfflineNight,
    OfflineRead,
    Release,
    Targets,
    edf_plan,
    jobs_of,
    solve_jobs,
    units_up,
)
from garde.simulation.simulator import example_config

if TYPE_CHECKING:
    from collections.abc import Sequence

    from garde.simulation.scenario import NightScenario, SyntheticArrival

Durations = Literal["true", "estimated"]

DEFAULT_WORK = 0.05
"""CP-SAT deterministic time per decision (the backlog is tens of studies)."""

_EPS = 1e-9


def rolling_night(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    *,
    durations: Durations = "estimated",
    strokes: bool = True,
    work: float = DEFAULT_WORK,
    release: Release | None = None,
) -> OfflineNight:
    """One night decided online by re-solving the known backlog (see the module).

    Returns the reads with their true times and the studies left unread (of those kept:
    without strokes, the strokes are neither read nor unread).
    """
    rule = release or Release.of(example_config())
    jobs = jobs_of(scenario, arrivals, Targets.of(scenario), rule)
    if not strokes:
        jobs = [j for j in jobs if j.arrival.priority is not Priority.STROKE]
    speed = {r.id: r.speed for r in scenario.radiologists}
    readers = sorted({o.reader for j in jobs for o in j.options})
    free = dict.fromkeys(readers, 0.0)  # when each is truly done
    expected = dict.fromkeys(readers, 0.0)  # when the plan expects them done
    events = {j.release for j in jobs} | {o.shift_start for j in jobs for o in j.options}
    left = set(range(len(jobs)))
    reads: dict[int, OfflineRead] = {}
    now = 0.0
    while left:
        known = [i for i in sorted(left) if jobs[i].release <= now + _EPS]
        idle = [r for r in readers if free[r] <= now + _EPS]
        if known and idle:
            state = _State(now, free, expected, speed, durations, work)
            for i, reader, minutes in _decide(jobs, known, idle, state):
                job = jobs[i]
                free[reader] = now + minutes
                expected[reader] = now + job.arrival.expected_minutes / speed[reader]
                events.add(free[reader])
                left.discard(i)
                reads[i] = OfflineRead(
                    job.arrival.study_uid,
                    job.arrival.priority.value,
                    reader,
                    job.arrival.offset_min,
                    job.deadline,
                    now,
                    free[reader],
                )
        later = [t for t in events if t > now + _EPS]
        if not later:
            break
        now = min(later)
    unread = tuple(jobs[i].arrival.priority.value for i in sorted(left))
    ordered = sorted(reads.values(), key=lambda r: (r.arrived, r.study_uid))
    return OfflineNight(tuple(ordered), unread)


@dataclass(frozen=True, slots=True)
class _State:
    """What one decision knows: the time, the readers' true and expected ends."""

    now: float
    free: dict[str, float]
    expected: dict[str, float]
    speed: dict[str, float]
    durations: Durations
    work: float


def _backlog(
    jobs: Sequence[Job], known: Sequence[int], state: _State
) -> tuple[list[Job], list[int]]:
    """The known studies as the plan sees them now: each reader's earliest start from
    when they are (expected) free, and the durations the plan may know."""
    now, free, tick = state.now, state.free, units_up(state.now)
    sub: list[Job] = []
    index: list[int] = []
    for i in known:
        job = jobs[i]
        options = []
        for option in job.options:
            if free[option.reader] <= now + _EPS:
                ready = now
            elif state.durations == "true":
                ready = free[option.reader]
            else:
                ready = max(now + 1.0, state.expected[option.reader])
            earliest = max(option.earliest, tick, units_up(ready))
            if earliest > option.latest:
                continue
            size = option.duration
            if state.durations == "estimated":
                size = max(1, units_up(job.arrival.expected_minutes / state.speed[option.reader]))
            options.append(replace(option, earliest=earliest, duration=size))
        if options:
            sub.append(replace(job, options=tuple(options)))
            index.append(i)
    return sub, index


def _decide(
    jobs: Sequence[Job], known: Sequence[int], idle: Sequence[str], state: _State
) -> list[tuple[int, str, float]]:
    """What each idle reader starts now: (job, reader, true minutes)."""
    tick = units_up(state.now)
    sub, index = _backlog(jobs, known, state)
    if not sub:
        return []
    plan, _ = solve_jobs(sub, edf_plan(sub), work=state.work)
    taken: set[int] = set()
    out = []
    for reader in idle:
        now_here = [
            k
            for k in range(len(sub))
            if k not in taken
            and any(o.reader == reader and o.earliest <= tick for o in sub[k].options)
        ]
        if not now_here:
            continue

        # The plan's first read for this reader, else (the plan gives them nothing to
        # start now) the study it starts soonest among those they may start now.
        def order(k: int, reader: str = reader) -> tuple[int, int, int]:
            option, start = plan.get(k, (-1, 1 << 40))
            mine = option >= 0 and sub[k].options[option].reader == reader
            return (0 if mine else 1, start, k)

        k = min(now_here, key=order)
        taken.add(k)
        option = next(o for o in sub[k].options if o.reader == reader and o.earliest <= tick)
        out.append((index[k], reader, option.minutes))
    return out
