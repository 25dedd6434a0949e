"""How many reads must run late whatever the policy: a capacity lower bound for a night.

The bound relaxes the reading floor as far as it goes, so that it holds for every
policy, clairvoyant or not:

- the readers on shift are pooled into one fluid reader whose rate is the sum of their
  speeds, who may split that rate between studies at will (this also lets one study be
  read by several readers at once, with no pre-emption cost);
- within a group of readers skills are ignored; true reading times are known in advance;
- a reader whose shift ends finishes the read in hand (as the simulator has them do):
  each shift is extended by the longest read of the night at that reader's speed
  (up to their next shift), as if they kept reading at full rate.

Any real schedule is a schedule of the relaxed floor, so what the relaxed floor cannot
do, no policy can. Skills and credentials come back in one way only (Hall's condition):
the studies that only the readers of a group ``R`` may read must fit in ``R``'s own
capacity, for every group that is a union of the studies' eligible sets. In a window
``[t1, t2]``, the studies that arrive at or after ``t1`` and are due by ``t2`` must be
read inside the window; if their reading minutes exceed the window's reading capacity by
``E``, enough of them to add up to ``E`` miss their due time, and the fewest that do are
the largest ones. Disjoint windows hold disjoint studies, so their counts add up: the
bound is the best sum over disjoint windows.

``protected`` studies (e.g. stroke and emergency work with their SLA deadlines) must be
on time: their reading minutes count against the window and only ``counted`` studies
may be the ones that miss. With no protected studies the bound holds for any policy;
with them it holds for the policies that keep every protected study on time (the
policies the benchmark is after), and ``infeasible`` counts the windows where even
that is impossible.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from garde.dispatch.model import Priority
    from garde.simulation.scenario import NightScenario, SyntheticArrival


@dataclass(frozen=True, slots=True)
class Job:
    """A study for the bound: when it may start, when it is due, nominal minutes."""

    release: float
    due: float
    work: float
    counted: bool  # True: it may miss (and is counted); False: protected, must be on time
    readers: frozenset[str] = frozenset()  # who may read it (empty: anyone)


@dataclass(frozen=True, slots=True)
class Bound:
    """The fewest counted studies that must miss their due time on one night."""

    misses: int
    counted: int  # counted studies on the night
    infeasible_windows: int  # windows where protected studies alone exceed capacity


class PooledCapacity:
    """Cumulative reading capacity of the pooled floor (speed-minutes since night start)."""

    def __init__(self, spans: Iterable[tuple[float, float, float]]) -> None:
        """``spans``: (start, end, speed) of every shift, minutes after night start."""
        edges: dict[float, float] = {}
        for start, end, speed in spans:
            edges[start] = edges.get(start, 0.0) + speed
            edges[end] = edges.get(end, 0.0) - speed
        self._times = sorted(edges)
        self._cumulative = [0.0]
        rate = 0.0
        self._rates = []
        for i, t in enumerate(self._times):
            rate += edges[t]
            self._rates.append(rate)
            if i + 1 < len(self._times):
                self._cumulative.append(self._cumulative[-1] + rate * (self._times[i + 1] - t))

    def at(self, t: float) -> float:
        """Speed-minutes available from night start to ``t``."""
        i = bisect.bisect_right(self._times, t) - 1
        if i < 0:
            return 0.0
        return self._cumulative[i] + self._rates[i] * (t - self._times[i])

    def between(self, t1: float, t2: float) -> float:
        """Speed-minutes available in ``[t1, t2]``."""
        return self.at(t2) - self.at(t1)


def scenario_capacity(
    scenario: NightScenario, overrun_min: float = 0.0, readers: frozenset[str] | None = None
) -> PooledCapacity:
    """The pooled capacity of the scenario's roster.

    ``overrun_min`` (nominal reading minutes) extends each shift by that much reading at
    the reader's speed, never into their next shift: the longest read of the night
    bounds what a reader may still do after the handover. ``readers`` narrows the pool
    to a group (None: everyone).
    """
    speeds = {r.id: r.speed for r in scenario.radiologists}
    spans = sorted(
        (s.radiologist_id, scenario.offset(s.start), scenario.offset(s.end))
        for s in scenario.shifts
        if readers is None or s.radiologist_id in readers
    )
    extended = []
    for i, (rid, start, end) in enumerate(spans):
        speed = speeds[rid]
        stop = end + overrun_min / speed
        following = spans[i + 1] if i + 1 < len(spans) else None
        if following is not None and following[0] == rid:
            stop = min(stop, max(end, following[1]))
        extended.append((start, stop, speed))
    return PooledCapacity(extended)


def night_capacity(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    readers: frozenset[str] | None = None,
) -> PooledCapacity:
    """The pooled capacity for one night, shifts extended by its longest read."""
    longest = max((a.true_minutes for a in arrivals), default=0.0)
    return scenario_capacity(scenario, longest, readers)


def _fewest_to_cover(works_desc: Sequence[float], excess: float) -> int | None:
    """How many of the largest works add up to ``excess`` (None: not even all of them)."""
    total = 0.0
    for k, work in enumerate(works_desc, start=1):
        total += work
        if total >= excess - 1e-9:
            return k
    return None


def forced_misses(jobs: Sequence[Job], capacity: PooledCapacity) -> Bound:
    """The lower bound on counted misses for one night on one pooled floor."""
    windows, infeasible = _overflowing_windows(jobs, capacity)
    return Bound(
        misses=_best_disjoint(windows),
        counted=sum(1 for j in jobs if j.counted),
        infeasible_windows=infeasible,
    )


def forced_misses_by_group(
    jobs: Sequence[Job], capacity_of: Callable[[frozenset[str]], PooledCapacity]
) -> Bound:
    """The lower bound with eligibility (see the module docstring).

    Every job must name its ``readers``. For each group that is a union of the jobs'
    eligible sets, the jobs only that group may read are checked against
    ``capacity_of(group)``; windows from every group join one disjoint-window sum
    (windows disjoint in time hold disjoint jobs, whatever their group).
    """
    eligible = {j.readers for j in jobs}
    groups: set[frozenset[str]] = set()
    for base in eligible:
        grown = {base | g for g in groups}
        groups |= grown | {base}
    windows: list[tuple[float, float, int]] = []
    infeasible = 0
    for group in sorted(groups, key=sorted):
        inside = [j for j in jobs if j.readers <= group]
        found, bad = _overflowing_windows(inside, capacity_of(group))
        windows.extend(found)
        infeasible += bad
    return Bound(
        misses=_best_disjoint(windows),
        counted=sum(1 for j in jobs if j.counted),
        infeasible_windows=infeasible,
    )


def _overflowing_windows(
    jobs: Sequence[Job], capacity: PooledCapacity
) -> tuple[list[tuple[float, float, int]], int]:
    """Windows whose work overflows ``capacity``, each with the misses it forces."""
    ordered = sorted(jobs, key=lambda j: j.release)
    starts = sorted({j.release for j in ordered})
    ends = sorted({j.due for j in ordered})
    windows: list[tuple[float, float, int]] = []
    infeasible = 0
    for t1 in starts:
        inside = sorted((j for j in ordered if j.release >= t1), key=lambda j: j.due)
        protected_work = 0.0
        counted_works: list[float] = []  # ascending
        position = 0
        for t2 in ends:
            if t2 <= t1:
                continue
            while position < len(inside) and inside[position].due <= t2:
                job = inside[position]
                if job.counted:
                    bisect.insort(counted_works, job.work)
                else:
                    protected_work += job.work
                position += 1
            excess = protected_work + sum(counted_works) - capacity.between(t1, t2)
            if excess <= 0:
                continue
            k = _fewest_to_cover(counted_works[::-1], excess)
            if k is None:
                # Protected work alone overflows: no policy keeps it all on time here,
                # so the window proves nothing about the counted studies; left out.
                infeasible += 1
            elif k:
                windows.append((t1, t2, k))
    return windows, infeasible


def _best_disjoint(windows: list[tuple[float, float, int]]) -> int:
    """Weighted interval scheduling: the largest sum over pairwise disjoint windows."""
    if not windows:
        return 0
    windows.sort(key=lambda w: w[1])
    ends = [w[1] for w in windows]
    best = [0] * (len(windows) + 1)
    for i, (t1, _t2, value) in enumerate(windows):
        before = bisect.bisect_right(ends, t1, 0, i)  # windows ending by t1
        best[i + 1] = max(best[i], best[before] + value)
    return best[-1]


def night_jobs(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    counted: Iterable[Priority],
    target_min: float,
    protected: Iterable[Priority] = (),
) -> list[Job]:
    """Jobs of one night: ``counted`` priorities due ``target_min`` after arrival,
    ``protected`` ones due at their SLA deadline; the true reading minutes as work."""
    counted_set, protected_set = set(counted), set(protected)
    rads = scenario.radiologists
    jobs = []
    for a in arrivals:
        readers = frozenset(r.id for r in rads if a.site_id in r.sites and a.skills <= r.skills)
        if a.priority in counted_set:
            due = a.offset_min + target_min
            jobs.append(Job(a.offset_min, due, a.true_minutes, counted=True, readers=readers))
        elif a.priority in protected_set:
            due = scenario.offset(a.deadline)
            jobs.append(Job(a.offset_min, due, a.true_minutes, counted=False, readers=readers))
    return jobs
