"""The offline reference: one night solved with hindsight by CP-SAT (issue 16 item 4).

Every arrival, its priority and deadline, the roster's shifts, skills and credentials and
every read's true duration are known in advance; CP-SAT decides who reads what and when.
What Garde misses is then read as a ratio to what was possible on the same night.

The model is the simulator's floor without its uncertainty:

- a study may be read by a reader holding its skills and credentialed for its hospital
  (and, if the shift names hospitals, covering it then), starting inside one of that
  reader's shifts and not before the services could route it (`Release`: a study is
  routable once complete, when its series declared its count at once, else after the
  gateway's quiet window; the simulator's reads of such studies never start sooner);
  a read that starts in a shift may run past its end (a handover read, as the
  simulator has it);
- a reader reads one study at a time, at their speed (``true_minutes / speed``);
- reads are not interrupted: with hindsight a reader can be kept free for a stroke, so
  the reference has no pre-emption (and no pre-emption overhead). It is therefore a
  reference, not a proof: an online policy that interrupts may rarely beat it.

The objective follows the benchmark's metrics, lexicographically, one CP-SAT solve per
tier, each tier's value kept as a bound on the next:

1. strokes not reported within 15 minutes of arrival;
2. emergencies and urgent studies not reported within their target (the emergency SLA,
   urgent 60 minutes), each weighted by its priority's weight;
3. weighted lateness: minutes past the SLA deadline times the priority's weight.

"Within" counts from the arrival for both sides (`misses`), whatever the wait for
completeness. A study left unread (no reader may start it before the last shift ends) counts as a
miss in its tier and as late until the horizon. Times are solved in tenths of a minute,
rounded up (release, durations), then the chosen order is replayed with the exact
times, so the reported figures are never worse than the solver's. The search is
deterministic: a fixed seed and a deterministic time limit per tier, and every tier is
hinted with the previous tier's solution (the first with an earliest-deadline
schedule), so a feasible answer always exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ortools.sat.python import cp_model

from garde.dispatch.model import Priority
from garde.simulation.read_times import ReadTimes
from garde.simulation.simulator import example_config, instance_of

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from garde.simulation.scenario import NightScenario, SyntheticArrival
    from garde.simulation.simulator import ServiceConfig

UNITS_PER_MIN = 10
"""The solver's clock ticks in tenths of a minute (6 s): finer than any target."""

STROKE_WITHIN_MIN = 15.0
URGENT_WITHIN_MIN = 60.0

DEFAULT_WORK = 0.3
"""CP-SAT deterministic time per night: a few seconds of one core; most nights are
proven optimal well before it, the busiest are not (their tiers report the gap)."""

WALL_GUARD = 30.0
"""Seconds a tier may run whatever its deterministic limit (a loaded machine)."""


class TimedRead(Protocol):
    """A read as the metrics see it (the simulator's and the offline reference's)."""

    @property
    def priority(self) -> str: ...

    @property
    def turnaround(self) -> float: ...


def misses(
    reads: Sequence[TimedRead], unread: Sequence[str], priority: Priority, minutes: float
) -> int:
    """Studies of ``priority`` not reported within ``minutes`` of arrival.

    "Within 60 min" means the report is done (the read finished) at most 60 minutes after
    the study arrived; a study left unread at the end of the night is a miss. The same
    definition serves Garde's replay and the offline reference.
    """
    late = sum(1 for r in reads if r.priority == priority.value and r.turnaround > minutes)
    return late + sum(1 for p in unread if p == priority.value)


@dataclass(frozen=True, slots=True)
class Targets:
    """What the reference optimises: the benchmark's "within" minutes and weights."""

    within_min: Mapping[Priority, float]  # stroke, emergency, urgent
    weights: Mapping[Priority, float]

    @classmethod
    def of(cls, scenario: NightScenario) -> Targets:
        """Stroke 15 min, emergency its SLA target, urgent 60 min; the SLA's weights."""
        emergency = scenario.sla.targets.get(Priority.EMERGENCY)
        return cls(
            within_min={
                Priority.STROKE: STROKE_WITHIN_MIN,
                Priority.EMERGENCY: 60.0 if emergency is None else emergency.total_seconds() / 60,
                Priority.URGENT: URGENT_WITHIN_MIN,
            },
            weights=dict(scenario.sla.weights),
        )


@dataclass(frozen=True, slots=True)
class Release:
    """When the services could first route a study, minutes after it arrived.

    The simulator indexes each arrival as one instance (`simulator.instance_of`): a
    series that declares its count (the stroke protocols) is complete at once and the
    arrival watch sweeps it then; any other study is complete after the gateway's quiet
    window (``stable_age_s``, 60 s in the example region) and only then triaged and
    routed. A reference that let a reader open a study before that would read with an
    advantage no policy behind the services has.
    """

    stable_age_min: float

    @classmethod
    def of(cls, config: ServiceConfig) -> Release:
        """The quiet window of ``config`` (the region's gateway)."""
        return cls(config.stable_age_s / 60)

    def delay(self, arrival: SyntheticArrival) -> float:
        """Minutes from ``arrival`` to the moment it may be routed."""
        declared = instance_of(arrival, "").declared_images is not None
        return 0.0 if declared else self.stable_age_min


AT_ARRIVAL = Release(0.0)
"""Every study routable the moment it arrives (the tiny nights of the tests)."""


@dataclass(frozen=True, slots=True)
class OfflineRead(ReadTimes):
    """One study as the reference reads it (minutes after night start)."""

    study_uid: str
    priority: str
    reader: str
    arrived: float
    deadline: float
    started: float
    finished: float


@dataclass(frozen=True, slots=True)
class Tier:
    """One lexicographic tier: the value found and the solver's proven bound."""

    name: str
    optimal: bool
    value: int
    bound: int

    @property
    def gap(self) -> float:
        """Relative gap between the value and the bound (0 when optimal)."""
        return 0.0 if self.value <= self.bound else (self.value - self.bound) / self.value


@dataclass(frozen=True, slots=True)
class OfflineNight:
    """The reference's night: its reads, the studies left unread, each tier's status."""

    reads: tuple[OfflineRead, ...]
    unread_priorities: tuple[str, ...]
    tiers: tuple[Tier, ...] = ()

    @property
    def unread(self) -> int:
        """How many studies no reader could start before the last shift ended."""
        return len(self.unread_priorities)

    @property
    def optimal(self) -> bool:
        """True when every tier is proven optimal."""
        return all(t.optimal for t in self.tiers)


@dataclass(frozen=True, slots=True)
class Option:
    """A study on one reader in one shift: the start window, in solver units."""

    reader: str
    shift_start: float  # minutes, for the exact replay
    earliest: int
    latest: int
    duration: int
    minutes: float  # exact reading minutes at the reader's speed


@dataclass(frozen=True, slots=True)
class Job:
    """A study as the reference sees it."""

    arrival: SyntheticArrival
    release: float  # minutes after night start
    deadline: float
    due: float | None  # the "within" target's instant (None: no such tier)
    weight: int
    options: tuple[Option, ...]
    edf_key: tuple[float, int, float]  # due (else deadline), priority rank, release


def units_up(minutes: float) -> int:
    """``minutes`` in solver units, rounded up (a schedule never promises sooner)."""
    return math.ceil(round(minutes * UNITS_PER_MIN, 6))


def _units_down(minutes: float) -> int:
    return math.floor(round(minutes * UNITS_PER_MIN, 6))


def jobs_of(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    targets: Targets,
    release_rule: Release,
) -> list[Job]:
    """The night's studies as the reference schedules them: each with its release, due
    instant, weight and a start window per reader and shift that may read it."""
    rads = {r.id: r for r in scenario.radiologists}
    shifts = sorted(
        ((scenario.offset(s.start), scenario.offset(s.end), s) for s in scenario.shifts),
        key=lambda x: (x[0], x[1], x[2].radiologist_id),
    )
    jobs = []
    for arrival in arrivals:
        release = arrival.offset_min + release_rule.delay(arrival)
        options = []
        for start, end, shift in shifts:
            rad = rads[shift.radiologist_id]
            covered = rad.sites if shift.sites is None else rad.sites & shift.sites
            if arrival.site_id not in covered or not arrival.skills <= rad.skills:
                continue
            earliest = max(units_up(release), units_up(start))
            latest = units_up(end) - 1  # a read starts before the shift ends
            if earliest > latest:
                continue
            minutes = arrival.true_minutes / rad.speed
            options.append(
                Option(rad.id, start, earliest, latest, max(1, units_up(minutes)), minutes)
            )
        within = targets.within_min.get(arrival.priority)
        due = None if within is None else arrival.offset_min + within  # from arrival
        deadline = scenario.offset(arrival.deadline)
        weight = round(targets.weights.get(arrival.priority, 1.0) * 100)
        jobs.append(
            Job(
                arrival,
                release,
                deadline,
                due,
                weight,
                tuple(options),
                (deadline if due is None else due, arrival.priority.rank, release),
            )
        )
    return jobs


def edf_plan(jobs: Sequence[Job]) -> dict[int, tuple[int, int]]:
    """A non-delay earliest-due-first schedule, in solver units: job -> (option, start).

    Whenever a reader can start something, the one who can start soonest takes the
    released study they may read with the earliest due instant (the "within" target,
    else the deadline). Jobs it cannot place (no reader free before the shifts end) are
    left out: unread.
    """
    free: dict[str, int] = {}
    for job in jobs:
        for option in job.options:
            free.setdefault(option.reader, 0)
    left = {i for i, job in enumerate(jobs) if job.options}
    plan: dict[int, tuple[int, int]] = {}
    while left:
        best: tuple[int, str, int, int] | None = None  # start, reader, job, option
        for i in left:
            for k, option in enumerate(jobs[i].options):
                start = max(free[option.reader], option.earliest)
                if start > option.latest:
                    continue
                key = (start, option.reader)
                if (
                    best is None
                    or key < best[:2]
                    or (key == best[:2] and jobs[i].edf_key < jobs[best[2]].edf_key)
                ):
                    best = (start, option.reader, i, k)
        if best is None:
            break
        start, reader, i, k = best
        plan[i] = (k, start)
        free[reader] = start + jobs[i].options[k].duration
        left.discard(i)
    return plan


class _Model:
    """The CP-SAT model of one night, with its three tier expressions."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = jobs
        model = self.model = cp_model.CpModel()
        # An unread study ends at the horizon: past every read, due instant and
        # deadline, so it always counts as a miss and as late.
        horizon = 1 + max(
            [o.latest + o.duration for j in jobs for o in j.options]
            + [_units_down(j.deadline) for j in jobs]
            + [_units_down(j.due) for j in jobs if j.due is not None],
            default=0,
        )
        self.horizon = horizon
        self.present: list[list[cp_model.IntVar]] = []
        self.starts: list[list[cp_model.IntVar]] = []
        self.ends: list[cp_model.IntVar] = []
        self.missed: dict[int, cp_model.IntVar] = {}
        self.late: list[cp_model.IntVar] = []
        self.unread: list[cp_model.IntVar] = []
        intervals: dict[str, list[cp_model.IntervalVar]] = {}
        stroke: list[cp_model.IntVar] = []
        hot: list[tuple[int, cp_model.IntVar]] = []
        late: list[tuple[int, cp_model.IntVar]] = []
        for i, job in enumerate(jobs):
            end = model.new_int_var(0, horizon, f"end({i})")
            unread = model.new_bool_var(f"unread({i})")
            self.unread.append(unread)
            chosen, starts = [], []
            for k, option in enumerate(job.options):
                start = model.new_int_var(option.earliest, option.latest, f"start({i},{k})")
                here = model.new_bool_var(f"reads({i}, {option.reader}, {k})")
                intervals.setdefault(option.reader, []).append(
                    model.new_optional_fixed_size_interval_var(
                        start, option.duration, here, f"read({i},{k})"
                    )
                )
                model.add(end == start + option.duration).only_enforce_if(here)
                chosen.append(here)
                starts.append(start)
            model.add_exactly_one([*chosen, unread])
            model.add(end == horizon).only_enforce_if(unread)
            self.present.append(chosen)
            self.starts.append(starts)
            self.ends.append(end)
            if job.due is not None:
                missed = model.new_bool_var(f"missed({i})")
                model.add(end <= _units_down(job.due)).only_enforce_if(~missed)
                self.missed[i] = missed
                if job.arrival.priority is Priority.STROKE:
                    stroke.append(missed)
                else:
                    hot.append((job.weight, missed))
            lateness = model.new_int_var(0, horizon, f"late({i})")
            model.add(lateness >= end - _units_down(job.deadline))
            self.late.append(lateness)
            late.append((job.weight, lateness))
        for group in intervals.values():
            model.add_no_overlap(group)
        self.tiers: tuple[tuple[str, cp_model.LinearExprT], ...] = (
            ("stroke_misses", sum(stroke)),
            ("weighted_misses", sum(w * m for w, m in hot)),
            ("weighted_lateness", sum(w * v for w, v in late)),
        )

    def hint(self, plan: Mapping[int, tuple[int, int]]) -> None:
        """Hint every variable from ``plan`` (job -> option, start).

        A complete hint is checked once and kept as the first solution, so each tier
        starts from the last tier's answer (or the EDF schedule) and can only improve.
        """
        model = self.model
        model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in ortools 9.15
        for i, job in enumerate(self.jobs):
            option, start = plan.get(i, (-1, 0))
            for k, here in enumerate(self.present[i]):
                model.add_hint(here, k == option)
                model.add_hint(self.starts[i][k], start if k == option else job.options[k].earliest)
            end = start + job.options[option].duration if option >= 0 else self.horizon
            model.add_hint(self.ends[i], end)
            model.add_hint(self.unread[i], option < 0)
            if i in self.missed:
                model.add_hint(self.missed[i], job.due is not None and end > _units_down(job.due))
            model.add_hint(self.late[i], max(0, end - _units_down(job.deadline)))

    def values(self, plan: Mapping[int, tuple[int, int]]) -> dict[str, int]:
        """Each tier's value for ``plan``, as the model counts it (solver units)."""
        out = dict.fromkeys(("stroke_misses", "weighted_misses", "weighted_lateness"), 0)
        for i, job in enumerate(self.jobs):
            option, start = plan.get(i, (-1, 0))
            end = start + job.options[option].duration if option >= 0 else self.horizon
            if job.due is not None and end > _units_down(job.due):
                if job.arrival.priority is Priority.STROKE:
                    out["stroke_misses"] += 1
                else:
                    out["weighted_misses"] += job.weight
            out["weighted_lateness"] += job.weight * max(0, end - _units_down(job.deadline))
        return out

    def plan(self, solver: cp_model.CpSolver) -> dict[int, tuple[int, int]]:
        """The solution as job -> (option, start)."""
        plan = {}
        for i in range(len(self.jobs)):
            for k, here in enumerate(self.present[i]):
                if solver.boolean_value(here):
                    plan[i] = (k, solver.value(self.starts[i][k]))
        return plan


def replay_plan(jobs: Sequence[Job], plan: Mapping[int, tuple[int, int]]) -> OfflineNight:
    """The planned order per reader, replayed with exact times, left-shifted."""
    by_reader: dict[str, list[tuple[int, int, int]]] = {}
    for i, (k, start) in plan.items():
        by_reader.setdefault(jobs[i].options[k].reader, []).append((start, i, k))
    reads = []
    for reader, planned in by_reader.items():
        free = 0.0
        for _, i, k in sorted(planned):
            job, option = jobs[i], jobs[i].options[k]
            begin = max(free, job.release, option.shift_start)
            free = begin + option.minutes
            reads.append(
                OfflineRead(
                    job.arrival.study_uid,
                    job.arrival.priority.value,
                    reader,
                    job.arrival.offset_min,  # turnaround counts from arrival
                    job.deadline,
                    begin,
                    free,
                )
            )
    reads.sort(key=lambda r: (r.arrived, r.study_uid))
    unread = tuple(j.arrival.priority.value for i, j in enumerate(jobs) if i not in plan)
    return OfflineNight(tuple(reads), unread)


def solve_jobs(
    jobs: Sequence[Job],
    plan: Mapping[int, tuple[int, int]],
    *,
    work: float = DEFAULT_WORK,
    seed: int = 0,
) -> tuple[dict[int, tuple[int, int]], tuple[Tier, ...]]:
    """``jobs`` scheduled tier by tier from the complete hint ``plan`` (job -> option,
    start): the plan found and each tier's value and bound (`solve_night`'s search)."""
    plan = dict(plan)
    built = _Model(jobs)
    tiers = []
    left = work
    for n, (name, expr) in enumerate(built.tiers):
        if isinstance(expr, int):  # nothing of that kind tonight
            tiers.append(Tier(name, optimal=True, value=expr, bound=expr))
            continue
        built.hint(plan)
        built.model.minimize(expr)
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1  # deterministic; the interleaved portfolio did worse per unit
        params.random_seed = seed
        params.max_deterministic_time = max(0.0, left) / (len(built.tiers) - n)
        params.max_time_in_seconds = WALL_GUARD
        status = solver.solve(built.model)
        left -= solver.deterministic_time
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            plan = built.plan(solver)
            value = round(solver.objective_value)
            bound = math.ceil(solver.best_objective_bound - 1e-6)
        else:  # cut short before the hint was even checked: keep the last plan
            value, bound = built.values(plan)[name], 0
        tiers.append(Tier(name, status == cp_model.OPTIMAL, value, bound))
        built.model.add(expr <= value)
    return plan, tuple(tiers)


def _example_release() -> Release:
    return Release.of(example_config())


def edf_night(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    release: Release | None = None,
) -> OfflineNight:
    """The earliest-due-first schedule with hindsight (the reference's starting point)."""
    jobs = jobs_of(scenario, arrivals, Targets.of(scenario), release or _example_release())
    return replay_plan(jobs, edf_plan(jobs))


def solve_night(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    targets: Targets | None = None,
    *,
    work: float = DEFAULT_WORK,
    seed: int = 0,
    release: Release | None = None,
) -> OfflineNight:
    """The night solved with hindsight, tier by tier (see the module's docstring).

    Parameters
    ----------
    scenario
        The roster, shifts and SLA of the night.
    arrivals
        The night's studies with their true reading minutes (`generate_arrivals`).
    targets
        What counts as "within" per priority, and the weights; the benchmark's by default.
    work
        CP-SAT deterministic time for the whole night, shared between the tiers (a tier
        proven optimal early leaves the rest to the next). 0.3 took from under a second
        to about ten on one loaded core here; ``WALL_GUARD`` caps each tier's wall time.
    seed
        CP-SAT's ``random_seed``. One worker and a deterministic limit: the same inputs
        give the same schedule unless the wall-time guard cuts a tier short.
    release
        When each study becomes routable; default: the example region's gateway
        (`Release.of(example_config())`), as the benchmark's services have it.

    Returns
    -------
    OfflineNight
        The reads with exact times, the studies left unread and each tier's value and
        bound (``optimal`` when every tier is proven).
    """
    targets = targets or Targets.of(scenario)
    jobs = jobs_of(scenario, arrivals, targets, release or _example_release())
    plan = edf_plan(jobs)
    plan, tiers = solve_jobs(jobs, plan, work=work, seed=seed)
    night = replay_plan(jobs, plan)
    return OfflineNight(night.reads, night.unread_priorities, tiers)
