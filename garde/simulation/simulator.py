"""A night on a simulated clock through the product's own services (issue 16).

Nothing here decides where a study goes. Each arrival is indexed as the gateway indexes
an instance (`InstanceReceived`), and from there the services `garde serve` runs do the
rest on a store of their own (`garde.store.memory` by default, the SQL store's semantics
on dicts, ten times faster; or a migrated SQLite file): the stability
sweep triages and routes (`DispatchService.sweep`), readers take work through
`ReadingService.next`, `start` and `finish` (the CLI's calls), the SLA watch escalates
(`escalate_overdue`, the night watch), the handover moves the queues of readers gone
off shift (`hand_over`), and for ``garde_optimized`` the re-plan runs every
``replan_s`` (`replan_queues`). Notifications go to a recording sink.

The baselines plug in as routing policies behind the same services
(`garde.simulation.baselines`), so every policy runs the same path.

Simulated readers act as real ones do: a reader on shift with nothing in hand asks for
`next` (when the board or the shared queue holds something for them); a stroke alert is
acknowledged ``ack_delay_min`` later, and the reader puts the read in hand aside, opens
the stroke, then resumes (``preempt_overhead_min`` lost); a reader whose shift ends
finishes what is in hand and stops taking work (the handover moves the rest).

The event loop pops timed events off a heap (arrivals, sweeps when the store says a
study becomes stable, ends of reads, acknowledgements, shift changes, the jobs'
periods) and moves the clock to each. The jobs run at their configured periods, except
that the stability sweep runs at the moments it is due (as `serve` brings it forward),
at every arrival, shift change and SLA watch rather than every 5 s, and the handover
job is skipped when no reader off shift holds a queue (it would do nothing).
"""

from __future__ import annotations

import functools
import heapq
import logging
import shutil
import sqlite3
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from garde.dispatch.board import Board
from garde.dispatch.model import InstanceReceived, Priority, StudyState
from garde.dispatch.optimizer import SolverSettings
from garde.dispatch.router import may_read
from garde.dispatch.sla import due_tier, next_escalation
from garde.dispatch.triage import DEFAULT_RULES, Triager
from garde.services.dispatcher import DispatchService
from garde.services.escalation import escalate_overdue
from garde.services.handover import hand_over
from garde.services.night_watch import NightWatch, escalate_unacknowledged, remind_unassigned
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError
from garde.services.replanning import replan_queues
from garde.services.snapshot import study_of
from garde.simulation.policies import PolicySpec, policy_spec
from garde.simulation.read_times import ReadTimes
from garde.store.engine import make_engine, make_session_factory
from garde.store.instance_index import SqlInstanceIndex
from garde.store.memory import MemoryStore
from garde.store.migrate import upgrade
from garde.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime

    from sqlalchemy.orm import Session, sessionmaker

    from garde.config.model import Settings
    from garde.dispatch.model import Radiologist, ReadingTimes, SlaPolicy, TriageRule
    from garde.dispatch.ports import InstanceIndex
    from garde.simulation.scenario import NightScenario, SyntheticArrival
    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DECLARED_LOOKBACK = timedelta(seconds=2)  # the arrival watch's (`scheduling.jobs`)

# Same-instant order: reads end, shifts change, studies arrive and are swept, alerts are
# acknowledged, then the periodic jobs run.
_FINISH, _SHIFT, _ARRIVAL, _SWEEP, _ACK, _WATCH, _HANDOVER, _REPLAN = range(8)
_MAY_MOVE = frozenset({_FINISH, _SHIFT, _SWEEP, _ACK, _REPLAN})
_UNSEEN: Any = object()  # a study the SLA watch's check has not seen yet
_NAMES = ("finish", "shift", "arrival", "sweep", "ack", "watch_tick", "handover_tick", "replan")


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """What the services take from the region's settings (picklable, for worker processes)."""

    sla: SlaPolicy
    triage_rules: tuple[TriageRule, ...]
    reading_times: ReadingTimes
    stable_age_s: float = 60.0
    stroke_stable_age_s: float | None = 3.0
    uncovered_routine_delay_s: float = 1800.0
    medical_director: str = ""
    notify_priorities: frozenset[Priority] = frozenset(
        {Priority.STROKE, Priority.EMERGENCY, Priority.URGENT}
    )
    sla_watch_s: float = 30.0
    handover_s: float = 60.0
    replan_s: float = 300.0
    unassigned_repeat_min: float = 5.0
    ack_timeout_min: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceConfig:
        """The services' settings as `garde.bootstrap` builds them for `serve`."""
        scheduler, safety = settings.scheduler, settings.night_safety
        return cls(
            sla=settings.sla,
            triage_rules=settings.triage_rules or DEFAULT_RULES,
            reading_times=settings.reading_times,
            stable_age_s=settings.gateway.stable_age_s,
            stroke_stable_age_s=settings.gateway.stroke_stable_age_s,
            uncovered_routine_delay_s=scheduler.uncovered_routine_delay_s,
            medical_director=settings.region.medical_director,
            notify_priorities=frozenset(Priority(p) for p in safety.assigned_priorities),
            sla_watch_s=scheduler.sla_watch_s,
            handover_s=scheduler.handover_s,
            replan_s=scheduler.replan_s,
            unassigned_repeat_min=safety.unassigned_repeat_min,
            ack_timeout_min=safety.ack_timeout_min,
        )


@functools.cache
def example_config() -> ServiceConfig:
    """The example region's services (``config/example.toml``): the benchmark's default."""
    from garde.config import load_settings  # noqa: PLC0415 - config read once, when needed

    return ServiceConfig.from_settings(load_settings())


@dataclass(frozen=True, slots=True)
class HumanFactors:
    """How simulated readers behave."""

    ack_delay_min: float = 1.0  # from a stroke alert to the reader opening the stroke
    replan_time_limit_s: float = 0.2  # CP-SAT's limit per re-plan (serve's: 2 s, 2 workers)


@dataclass(frozen=True, slots=True)
class ReadRecord(ReadTimes):
    """What happened to one study."""

    study_uid: str
    exam: str
    priority: str
    arrived: float
    deadline: float
    started: float
    finished: float
    reader: str
    preferred_skill: str
    reader_has_preferred: bool
    preempted: int


@dataclass(frozen=True, slots=True)
class NightResult:
    """One simulated night: every read, and each reader's minutes read and on shift."""

    policy: str
    reads: tuple[ReadRecord, ...]
    unread: int
    read_minutes: dict[str, float]
    shift_minutes: dict[str, float]
    unread_priorities: tuple[str, ...] = ()  # the priority of each unread study
    assignments: tuple[tuple[str, str], ...] = ()  # (study UID, who read it), in read order
    notifications: dict[str, int] = field(default_factory=dict)  # kind -> how many
    jobs: dict[str, int] = field(default_factory=dict)  # job -> runs (sweep, watch, ...)


class Services(Protocol):
    """The services a night runs on, and the jobs `serve` schedules over them."""

    dispatch: DispatchService
    reading: ReadingService
    index: InstanceIndex

    def set_clock(self, now: datetime) -> None:
        """The services' clock reads ``now`` (jobs read it once)."""
        ...

    def sweep(self, now: datetime) -> datetime | None:
        """The stability sweep; returns when it is next due (None: nothing pending)."""
        ...

    def watch(self, now: datetime) -> None:
        """The SLA watch (escalation, the night watch)."""
        ...

    def hand_over(self, now: datetime) -> None:
        """The shift handover."""
        ...

    def replan(self, now: datetime) -> None:
        """The CP-SAT re-plan."""
        ...


class RecordingNotifier:
    """The notification sink: counts each kind and calls ``on_alert`` for stroke alerts."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.on_alert: Callable[[dict[str, object]], None] | None = None
        self.on_move: Callable[[], None] | None = None  # a study may have left or joined the pool

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Record; a stroke alert reaches its reader."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "stroke_alert" and self.on_alert is not None:
            self.on_alert(payload)
        elif kind in {"assigned", "unassigned"} and self.on_move is not None:
            self.on_move()


@dataclass
class DirectServices:
    """The services built as `garde.bootstrap` builds them, called as the jobs call them."""

    dispatch: DispatchService
    reading: ReadingService
    index: InstanceIndex
    watch_settings: NightWatch
    replans: bool
    solver: SolverSettings

    def set_clock(self, now: datetime) -> None:
        """Services here take ``now`` as an argument."""

    def sweep(self, now: datetime) -> datetime | None:
        """`jobs.dispatch_stable_studies`."""
        self.dispatch.sweep(now)
        return self.dispatch.next_sweep_at(now)

    def watch(self, now: datetime) -> None:
        """`jobs.watch_sla`."""
        escalate_overdue(self.dispatch, now)
        remind_unassigned(self.dispatch, self.watch_settings, now)
        escalate_unacknowledged(self.dispatch, self.watch_settings, now)

    def hand_over(self, now: datetime) -> None:
        """`jobs.hand_over_shifts`."""
        hand_over(self.dispatch, now)

    def replan(self, now: datetime) -> None:
        """`jobs.replan`."""
        if self.replans:
            replan_queues(self.dispatch, now, self.solver)


def direct_services(
    uow_factory: Callable[[], UnitOfWork],
    index: InstanceIndex,
    scenario: NightScenario,
    *,
    config: ServiceConfig,
    spec: PolicySpec,
    notifier: RecordingNotifier,
    factors: HumanFactors,
) -> DirectServices:
    """The dispatch and reading services on ``uow_factory`` with ``spec``'s routing."""
    routing = spec.routing()
    dispatch = DispatchService(
        uow_factory=uow_factory,
        triager=Triager(config.triage_rules, config.reading_times),
        policy=config.sla,
        sites={s.id: s for s in scenario.sites},
        board=Board(),
        notifier=notifier,
        default_stable_age_s=config.stable_age_s,
        stroke_stable_age_s=config.stroke_stable_age_s,
        uncovered_routine_delay=timedelta(seconds=config.uncovered_routine_delay_s),
        medical_director=config.medical_director,
        notify_priorities=config.notify_priorities,
        routing=routing,
    )
    reading = ReadingService.alongside(dispatch)
    return DirectServices(
        dispatch=dispatch,
        reading=reading,
        index=index,
        watch_settings=NightWatch(
            medical_director=config.medical_director,
            unassigned_repeat=timedelta(minutes=config.unassigned_repeat_min),
            ack_timeout=timedelta(minutes=config.ack_timeout_min),
        ),
        replans=spec.replan,
        solver=SolverSettings(time_limit_s=factors.replan_time_limit_s, workers=1),
    )


# -- the store -------------------------------------------------------------------------------


@functools.cache
def _template() -> Path:
    """A migrated SQLite file, once per process: each night starts from a copy."""
    folder = Path(tempfile.mkdtemp(prefix="garde-sim-template-"))
    path = folder / "template.sqlite"
    upgrade(f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    try:  # everything in the main file, so that a plain copy is the whole database
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()
    return path


@contextmanager
def night_store() -> Iterator[sessionmaker[Session]]:
    """A fresh, migrated store for one night (in memory's file system where there is one)."""
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp folder inside it
    folder = Path(tempfile.mkdtemp(prefix="garde-sim-", dir=shm if shm.is_dir() else None))
    path = folder / "night.sqlite"
    shutil.copyfile(_template(), path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def prepare_store(
    uow_factory: Callable[[], SqlUnitOfWork], scenario: NightScenario, *, replace_roster: bool
) -> None:
    """The night's hospitals, radiologists and (with ``replace_roster``) shifts."""
    with uow_factory() as uow:
        uow.directory.sync_sites(scenario.sites)
        uow.directory.sync_radiologists(scenario.radiologists)
        if replace_roster:
            uow.roster.replace_shifts(
                scenario.start - timedelta(days=1),
                scenario.end + timedelta(days=1),
                scenario.shifts,
            )
        uow.commit()


def instance_of(arrival: SyntheticArrival, calling_ae: str) -> InstanceReceived:
    """The study's one instance as the gateway indexes it. A stroke protocol's series
    declares its count (one image), so the stroke is complete at once, as it is with a
    modality that says how many it sends; other studies wait for the quiet window."""
    uid = arrival.study_uid
    return InstanceReceived(
        sop_instance_uid=f"{uid}.1.1",
        sop_class_uid=CT_IMAGE_STORAGE,
        series_uid=f"{uid}.1",
        study_uid=uid,
        transfer_syntax=EXPLICIT_VR_LITTLE_ENDIAN,
        site_id=arrival.site_id,
        calling_ae=calling_ae,
        path=f"sim/{uid}/1.dcm",
        size_bytes=0,
        received_at=arrival.arrived_at,
        modality=arrival.modality,
        series_number=1,
        instance_number=1,
        study_description=arrival.description,
        body_part=arrival.body_part,
        requested_priority=arrival.requested_priority,
        patient_key=arrival.patient_key,
        declared_images=1 if arrival.priority is Priority.STROKE else None,
    )


# -- the night -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reader:
    radiologist: Radiologist
    spans: tuple[tuple[datetime, datetime], ...]
    current: str | None = None
    until: datetime | None = None
    since: datetime | None = None  # when the read in hand (re)started
    token: int = 0  # bumped when a read is put aside, so its end event is ignored
    paused: list[tuple[str, timedelta]] = field(default_factory=list)  # last in, first out
    read_minutes: float = 0.0

    @property
    def id(self) -> str:
        return self.radiologist.id

    def on_shift(self, now: datetime) -> bool:
        return any(start <= now < end for start, end in self.spans)


class Night:
    """One night's replay on ``services``."""

    def __init__(
        self,
        scenario: NightScenario,
        arrivals: Sequence[SyntheticArrival],
        services: Services,
        *,
        notifier: RecordingNotifier,
        policy: str,
        factors: HumanFactors = HumanFactors(),
        periods: tuple[float, float, float | None] = (30.0, 60.0, None),
        repeat: timedelta = timedelta(minutes=5),
    ) -> None:
        self.scenario = scenario
        self.arrivals = sorted(arrivals, key=lambda a: a.arrived_at)
        self.services = services
        self.notifier = notifier
        notifier.on_alert = self._alerted
        notifier.on_move = self._moved
        self.policy = policy
        self.factors = factors
        self.watch_s, self.handover_s, self.replan_s = periods
        self.by_uid = {a.study_uid: a for a in self.arrivals}
        self.readers = {
            r.id: _Reader(
                r,
                tuple(
                    sorted((s.start, s.end) for s in scenario.shifts if s.radiologist_id == r.id)
                ),
            )
            for r in sorted(scenario.radiologists, key=lambda r: r.id)
        }
        self.ae = {s.id: min(s.ae_titles) if s.ae_titles else "SIM" for s in scenario.sites}
        self.events: list[tuple[datetime, int, int, object]] = []
        self.seq = 0
        self.now = scenario.start
        self.sweeps: set[datetime] = set()
        self.first_start: dict[str, datetime] = {}
        self.finished: dict[str, datetime] = {}
        self.read_by: list[tuple[str, str]] = []
        self.preempted: dict[str, int] = {}
        self.arrived = 0
        self.tiers: dict[str, datetime | None] = {}  # when each study's next tier falls
        self.repeat = repeat
        self.last_watch: datetime | None = None
        self.last_sweep: datetime | None = None
        self.pool_cache: list[StudyRecord] = []
        self.pool_dirty = True
        self.runs: dict[str, int] = {}
        self.moved = True  # whether readers should look again (see `_handle`)

    # -- events ------------------------------------------------------------------------------
    def push(self, at: datetime, kind: int, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, payload))

    def _periodic(self, first: datetime, period_s: float | None, kind: int) -> None:
        if period_s:
            self.push(first + timedelta(seconds=period_s), kind)

    def run(self) -> NightResult:
        """Replay the night; returns what happened to every study."""
        start, end = self.scenario.start, self.scenario.end
        self.services.set_clock(start)
        self.services.dispatch.restore(start)
        for arrival in self.arrivals:
            self.push(arrival.arrived_at, _ARRIVAL, arrival)
        for reader in self.readers.values():
            for a, b in reader.spans:
                self.push(a, _SHIFT)
                self.push(b, _SHIFT)
        self._periodic(start, self.watch_s, _WATCH)
        self._periodic(start, self.handover_s, _HANDOVER)
        self._periodic(start, self.replan_s, _REPLAN)
        while self.events:
            at, kind, _, payload = heapq.heappop(self.events)
            self.now = at
            self.services.set_clock(at)
            if kind >= _WATCH and (at >= end or self._all_read()):
                continue  # the jobs stop with the night, or once nothing is left
            self._handle(kind, payload)
            if self.moved and (not self.events or self.events[0][0] != at):
                self.moved = False
                self._act(at)
        return self._result()

    def _all_read(self) -> bool:
        return self.arrived == len(self.arrivals) and len(self.finished) == len(self.arrivals)

    def _count(self, job: str) -> None:
        self.runs[job] = self.runs.get(job, 0) + 1

    def _handle(self, kind: int, payload: object) -> None:
        self._count(_NAMES[kind])
        # Readers look again only after something that may give them work: a read ended,
        # a sweep, a shift change, an acknowledged alert, or a job that ran.
        self.moved = self.moved or kind in _MAY_MOVE
        handler = {
            _FINISH: self._on_finish,
            _ARRIVAL: self._on_arrival,
            _SWEEP: self._on_sweep,
            _SHIFT: self._on_shift,
            _ACK: self._on_ack,
            _WATCH: self._on_watch,
            _HANDOVER: self._on_handover,
            _REPLAN: self._on_replan,
        }[kind]
        handler(payload)

    def _on_finish(self, payload: object) -> None:
        assert isinstance(payload, tuple)
        rid, token = payload
        self._finish(str(rid), int(token))

    def _on_arrival(self, payload: object) -> None:
        now, services = self.now, self.services
        arrival = self.by_uid[getattr(payload, "study_uid", "")]
        services.index.record(instance_of(arrival, self.ae.get(arrival.site_id, "SIM")))
        self.arrived += 1
        # The arrival watch: a series complete by its declared count is swept now.
        if services.dispatch.declared_complete_since(now - DECLARED_LOOKBACK):
            self._sweep_at(now)
        else:
            self._sweep_at(services.dispatch.next_sweep_at(now))

    def _on_sweep(self, _payload: object) -> None:
        self.sweeps.discard(self.now)
        self._sweep_at(self.services.sweep(self.now))
        self.last_sweep = self.now

    def _on_shift(self, _payload: object) -> None:
        self.services.hand_over(self.now)
        self._sweep_at(self.services.sweep(self.now))
        self.last_sweep = self.now
        self.pool_dirty = True

    def _on_ack(self, payload: object) -> None:
        assert isinstance(payload, tuple)
        rid, uid = payload
        self._acknowledge(str(rid), str(uid))

    def _on_watch(self, _payload: object) -> None:
        now = self.now
        pool = self._pool()
        if self._tier_reached(now, pool) or (pool and self._since(self.last_watch, now)):
            self._count("watch")
            self.moved = True
            self.services.watch(now)
            self.last_watch = now
            self.pool_dirty = True
        if pool and self._since(self.last_sweep, now):
            self._sweep_at(self.services.sweep(now))
            self.last_sweep = now
        self._periodic(now, self.watch_s, _WATCH)

    def _on_handover(self, _payload: object) -> None:
        if self._someone_gone_holds_work(self.now):
            self._count("handover")
            self.moved = True
            self.services.hand_over(self.now)
            self.pool_dirty = True
        self._periodic(self.now, self.handover_s, _HANDOVER)

    def _on_replan(self, _payload: object) -> None:
        self.services.replan(self.now)
        self._periodic(self.now, self.replan_s, _REPLAN)

    def _since(self, last: datetime | None, now: datetime) -> bool:
        """Whether a quiet job's period (the night watch's repeat) has passed since ``last``."""
        return last is None or now - last >= self.repeat

    def _tier_reached(self, now: datetime, pool: list[StudyRecord]) -> bool:
        """Whether an open study reached an escalation tier it had not (else the SLA
        watch would do nothing but look); remembers when each study's next tier falls."""
        board = self.services.dispatch.board
        policy = self.services.dispatch.policy
        reached = False
        open_now = [*board.studies(), *(s for r in pool if (s := study_of(r)) is not None)]
        for study in open_now:
            due = self.tiers.get(study.uid, _UNSEEN)
            if due is _UNSEEN:  # first seen: a tier it already passed is reached now
                reached = reached or due_tier(policy, study, now) is not None
            elif due is None or due > now:
                continue
            else:
                reached = True
            self.tiers[study.uid] = next_escalation(policy, study, now)
        return reached

    def _sweep_at(self, due: datetime | None) -> None:
        if due is not None and due not in self.sweeps:
            self.sweeps.add(due)
            self.push(max(due, self.now), _SWEEP)

    def _someone_gone_holds_work(self, now: datetime) -> bool:
        board = self.services.dispatch.board
        on_shift = set(board.on_shift(now))
        return any(board.queue(rid) for rid in board.ids if rid not in on_shift)

    def _moved(self) -> None:
        # Every move into the shared queue is notified (`notify_assigned` tells everyone
        # of a study left with nobody); a move out of it by `next` marks it in `_next`.
        self.pool_dirty = True

    # -- readers -----------------------------------------------------------------------------
    def _alerted(self, payload: dict[str, object]) -> None:
        """A stroke alert reaches its reader, who acknowledges it after a human delay."""
        rid, uid = payload.get("radiologist_id"), payload.get("study_uid")
        if isinstance(rid, str) and isinstance(uid, str):
            self.push(self.now + timedelta(minutes=self.factors.ack_delay_min), _ACK, (rid, uid))

    def _acknowledge(self, rid: str, uid: str) -> None:
        """The alerted reader puts the read in hand aside and opens the stroke (if it is
        still theirs and unopened; idle, they took it with `next` already)."""
        reader = self.readers.get(rid)
        board = self.services.dispatch.board
        if reader is None or reader.current is None or reader.current == uid:
            return
        if board.owner(uid) != rid or board.is_started(uid):
            return
        try:
            self.services.reading.start(uid, rid, self.now, origin="simulator")
        except ReadingRefusedError:
            return
        self._put_aside(reader)
        self._begin(reader, uid)

    def _put_aside(self, reader: _Reader) -> None:
        assert reader.current is not None
        assert reader.until is not None
        assert reader.since is not None
        now = self.now
        left = max(reader.until - now, timedelta(0))
        left += timedelta(minutes=self.scenario.preempt_overhead_min)
        reader.paused.append((reader.current, left))
        reader.read_minutes += (now - reader.since).total_seconds() / 60
        self.preempted[reader.current] = self.preempted.get(reader.current, 0) + 1
        reader.current = reader.until = reader.since = None
        reader.token += 1

    def _begin(self, reader: _Reader, uid: str, left: timedelta | None = None) -> None:
        now = self.now
        if left is None:
            minutes = self.by_uid[uid].true_minutes / reader.radiologist.speed
            left = timedelta(minutes=minutes)
            self.first_start.setdefault(uid, now)
        reader.current, reader.since, reader.until = uid, now, now + left
        reader.token += 1
        self.push(reader.until, _FINISH, (reader.id, reader.token))

    def _finish(self, rid: str, token: int) -> None:
        reader = self.readers[rid]
        uid = reader.current
        if token != reader.token or uid is None or reader.since is None:
            return
        self.services.reading.finish(uid, rid, self.now, origin="simulator")
        reader.read_minutes += (self.now - reader.since).total_seconds() / 60
        reader.current = reader.until = reader.since = None
        self.finished[uid] = self.now
        self.read_by.append((uid, rid))

    def _act(self, now: datetime) -> None:
        """Every reader with nothing in hand resumes, or asks for `next` if worth it."""
        pool: list[StudyRecord] | None = None
        board = self.services.dispatch.board
        for reader in self.readers.values():
            if reader.current is not None:
                continue
            on_shift = reader.on_shift(now)
            if reader.paused:
                stroke = (
                    next(
                        (s.uid for s in board.queue(reader.id) if s.priority is Priority.STROKE),
                        None,
                    )
                    if on_shift and reader.id in board.ids
                    else None
                )
                if stroke is not None and self._start(reader, stroke):
                    continue
                uid, left = reader.paused.pop()
                self._begin(reader, uid, left)
                continue
            if not on_shift:
                continue
            if pool is None and not (reader.id in board.ids and board.queue(reader.id)):
                pool = self._pool()
            if self._worth_asking(reader, pool or []):
                self._next(reader)

    def _start(self, reader: _Reader, uid: str) -> bool:
        try:
            self.services.reading.start(uid, reader.id, self.now, origin="simulator")
        except ReadingRefusedError:
            return False
        self._begin(reader, uid)
        return True

    def _next(self, reader: _Reader) -> None:
        self.pool_dirty = True
        try:
            record = self.services.reading.next(reader.id, self.now, origin="simulator")
        except ReadingRefusedError:
            return
        self._begin(reader, record.study_uid)

    def _pool(self) -> list[StudyRecord]:
        """The studies nobody holds (the shared queue of the pull policies), read again
        from the store after anything that may have changed it."""
        if self.pool_dirty:
            with self.services.dispatch.uow_factory() as uow:
                self.pool_cache = [
                    r
                    for r in uow.studies.by_state(StudyState.PENDING)
                    if r.assignee is None and r.priority is not None
                ]
            self.pool_dirty = False
        return self.pool_cache

    def _worth_asking(self, reader: _Reader, pool: list[StudyRecord]) -> bool:
        """Whether `next` may give ``reader`` something: their queue, the shared queue, or
        a colleague's study late binding would hand them (what a reader sees on the
        worklist before asking)."""
        dispatch = self.services.dispatch
        board, rid = dispatch.board, reader.id
        if rid in board.ids and board.queue(rid):
            return True
        rad = reader.radiologist
        if any(
            r.released_by != rid and may_read(rad, r.site_id, r.skills, flagged=r.fallback) is None
            for r in pool
        ):
            return True
        if rid not in board.ids or not len(board):
            return False
        return self.services.reading.routing.next_pull(rid, board, self.now) is not None

    # -- the result --------------------------------------------------------------------------
    def _result(self) -> NightResult:
        scenario = self.scenario
        with self.services.dispatch.uow_factory() as uow:
            records = {a.study_uid: uow.studies.get(a.study_uid) for a in self.arrivals}
        reads, unread = [], []
        for arrival in self.arrivals:
            record = records[arrival.study_uid]
            uid = arrival.study_uid
            done = self.finished.get(uid)
            priority = (
                record.priority.value
                if record is not None and record.priority is not None
                else arrival.priority.value
            )
            if record is None or done is None or record.assignee is None:
                unread.append(priority)
                continue
            deadline = record.deadline or arrival.deadline
            reader = self.readers.get(record.assignee)
            skill = arrival.preferred_skill
            reads.append(
                ReadRecord(
                    study_uid=uid,
                    exam=arrival.exam,
                    priority=priority,
                    arrived=scenario.offset(arrival.arrived_at),
                    deadline=scenario.offset(deadline),
                    started=scenario.offset(self.first_start[uid]),
                    finished=scenario.offset(done),
                    reader=record.assignee,
                    preferred_skill=skill,
                    reader_has_preferred=not skill
                    or (reader is not None and skill in reader.radiologist.skills),
                    preempted=self.preempted.get(uid, 0),
                )
            )
        return NightResult(
            policy=self.policy,
            reads=tuple(reads),
            unread=len(unread),
            unread_priorities=tuple(unread),
            read_minutes={r.id: r.read_minutes for r in self.readers.values()},
            shift_minutes={
                r.id: sum((b - a).total_seconds() / 60 for a, b in r.spans)
                for r in self.readers.values()
            },
            assignments=tuple(self.read_by),
            notifications=dict(self.notifier.counts),
            jobs=dict(self.runs),
        )


def simulate(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    policy: str | PolicySpec = "garde",
    config: ServiceConfig | None = None,
    factors: HumanFactors = HumanFactors(),
    *,
    store: str = "memory",
) -> NightResult:
    """Replay one night of ``arrivals`` through the services with ``policy``'s routing.

    Deterministic: the same scenario, arrivals, policy and config give the same result
    (the re-plan's solver aside: CP-SAT under a time limit). Studies still unread once
    every shift has ended and every read in hand is done are counted in ``unread``.

    Parameters
    ----------
    scenario
        Sites, roster, shifts and the pre-emption overhead (the SLA policy comes from
        ``config``: the region's, as `serve` has it).
    arrivals
        The night's studies (`generate_arrivals`).
    policy
        A name of `garde.simulation.policies.POLICIES` or a `PolicySpec`.
    config
        The services' settings; default: the example region's (`example_config`).
    factors
        How the simulated readers behave.
    store
        ``"memory"`` (`garde.store.memory`, the same semantics on dicts: the default) or
        ``"sql"`` (a migrated SQLite file, what `serve` embeds).
    """
    spec = policy_spec(policy) if isinstance(policy, str) else policy
    config = config or example_config()
    with _simulated_logs_muted():
        if store == "memory":
            memory = MemoryStore(scenario.sites, scenario.radiologists, scenario.shifts)
            return _replay(
                scenario, arrivals, spec, config, factors, memory.uow_factory, memory.index
            )
        return _replay_on_sql(scenario, arrivals, spec, config, factors)


# The services log what they do to studies ("reached escalation tier alert", "nobody on
# shift may read it") at WARNING, as serve must; of a simulated night those lines are
# noise in front of a planner (`garde forecast` printed hundreds) and in the benchmarks.
# Errors still show.
_MUTED = ("garde.services", "garde.store", "garde.dispatch")
_muting = threading.Lock()
_muted_depth = 0
_muted_levels: dict[str, int] = {}


@contextmanager
def _simulated_logs_muted() -> Iterator[None]:
    global _muted_depth  # noqa: PLW0603 - one count for the process's loggers
    with _muting:
        if _muted_depth == 0:
            for name in _MUTED:
                logger = logging.getLogger(name)
                _muted_levels[name] = logger.level
                logger.setLevel(logging.ERROR)
        _muted_depth += 1
    try:
        yield
    finally:
        with _muting:
            _muted_depth -= 1
            if _muted_depth == 0:
                for name in _MUTED:
                    logging.getLogger(name).setLevel(_muted_levels.pop(name))


def _replay_on_sql(
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    spec: PolicySpec,
    config: ServiceConfig,
    factors: HumanFactors,
) -> NightResult:
    with night_store() as factory:

        def uow_factory() -> SqlUnitOfWork:
            return SqlUnitOfWork(factory)

        prepare_store(uow_factory, scenario, replace_roster=True)
        index = SqlInstanceIndex(factory)
        return _replay(scenario, arrivals, spec, config, factors, uow_factory, index)


def _replay(  # noqa: PLR0917 - private; the two stores' common tail
    scenario: NightScenario,
    arrivals: Sequence[SyntheticArrival],
    spec: PolicySpec,
    config: ServiceConfig,
    factors: HumanFactors,
    uow_factory: Callable[[], UnitOfWork],
    index: InstanceIndex,
) -> NightResult:
    notifier = RecordingNotifier()
    services = direct_services(
        uow_factory,
        index,
        scenario,
        config=config,
        spec=spec,
        notifier=notifier,
        factors=factors,
    )
    replan_s = config.replan_s if spec.replan else None
    night = Night(
        scenario,
        arrivals,
        services,
        notifier=notifier,
        policy=spec.name,
        factors=factors,
        periods=(config.sla_watch_s, config.handover_s, replan_s),
        repeat=timedelta(minutes=config.unassigned_repeat_min),
    )
    return night.run()
