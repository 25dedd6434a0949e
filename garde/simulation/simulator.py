"""Discrete-event replay of one night through a dispatch policy.

Events are arrivals, ends of reads, shift starts and ends, and an optional periodic tick
(for re-planning). After each event every idle reader on shift resumes what was
pre-empted (unless the policy has something more urgent for them first), else asks the
policy for its next study. A reader whose shift ends finishes
the study in hand (a handover read) and hands back the rest of their queue.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from garde.simulation.floor import Case, Floor, Reader

if TYPE_CHECKING:
    from collections.abc import Sequence

    from garde.simulation.scenario import NightScenario, SyntheticArrival

_Payload = Case | Reader | tuple[Reader, int] | None

# Same-instant order: reads end before shifts change, shifts before arrivals, ticks last.
_FINISH, _SHIFT_END, _SHIFT_START, _ARRIVAL, _TICK = range(5)


class Policy(Protocol):
    """How a dispatch strategy plugs into the simulator.

    ``tick_minutes`` (None: no ticks) asks for a periodic ``on_tick`` call.
    """

    name: str
    tick_minutes: float | None

    def reset(self, floor: Floor) -> None:
        """Start a new night on ``floor``."""
        ...

    def on_arrival(self, floor: Floor, case: Case, now: float) -> str | None:
        """Place a new case (in a queue or the pool).

        Returns a reader id to start it on at once, interrupting that reader's current
        read if any (pre-emption), or None.
        """
        ...

    def next_for(self, floor: Floor, reader: Reader, now: float) -> Case | None:
        """The case an idle reader starts now, already removed from queue/pool."""
        ...

    def on_released(self, floor: Floor, cases: list[Case], now: float) -> None:
        """Re-place cases handed back by a reader whose shift ended."""
        ...

    def on_shift_start(self, floor: Floor, reader: Reader, now: float) -> None:
        """A reader came on shift."""
        ...

    def on_tick(self, floor: Floor, now: float) -> None:
        """Periodic hook (re-planning)."""
        ...

    def on_finished(self, floor: Floor, reader: Reader, case: Case, now: float) -> None:
        """``reader`` finished reading ``case``."""
        ...

    def before_resume(self, floor: Floor, reader: Reader, held: Case, now: float) -> Case | None:
        """A waiting case an idle reader reads before resuming ``held`` (pre-empted).

        None resumes ``held`` (the plain behaviour); a case must come off its queue or
        the pool, as with `next_for`.
        """
        ...


@dataclass(frozen=True, slots=True)
class ReadRecord:
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

    @property
    def turnaround(self) -> float:
        """Arrival to report, minutes."""
        return self.finished - self.arrived

    @property
    def wait(self) -> float:
        """Arrival to the start of reading, minutes."""
        return self.started - self.arrived

    @property
    def lateness(self) -> float:
        """Minutes past the deadline (0 if on time)."""
        return max(0.0, self.finished - self.deadline)


@dataclass(frozen=True, slots=True)
class NightResult:
    """One simulated night: every read, and each reader's minutes read and on shift."""

    policy: str
    reads: tuple[ReadRecord, ...]
    unread: int
    read_minutes: dict[str, float]
    shift_minutes: dict[str, float]
    unread_priorities: tuple[str, ...] = ()  # the priority of each unread study


def _readers(scenario: NightScenario) -> dict[str, Reader]:
    readers = {}
    for rad in sorted(scenario.radiologists, key=lambda r: r.id):
        spans = tuple(
            sorted(
                (scenario.offset(s.start), scenario.offset(s.end))
                for s in scenario.shifts
                if s.radiologist_id == rad.id
            )
        )
        readers[rad.id] = Reader(radiologist=rad, shifts=spans)
    return readers


class _Run:
    """The mutable state of one replay."""

    def __init__(
        self, scenario: NightScenario, arrivals: Sequence[SyntheticArrival], policy: Policy
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.floor = Floor(scenario=scenario, readers=_readers(scenario))
        self.events: list[tuple[float, int, int, _Payload]] = []
        self.seq = 0
        for index, arrival in enumerate(arrivals):
            case = Case(
                index=index,
                arrival=arrival,
                study=arrival.to_study(),
                arrived=arrival.offset_min,
                deadline=scenario.offset(arrival.deadline),
                expected=arrival.expected_minutes,
                true=arrival.true_minutes,
            )
            self.floor.cases.append(case)
            self.push(arrival.offset_min, _ARRIVAL, case)
        for reader in self.floor.readers.values():
            for start, end in reader.shifts:
                self.push(start, _SHIFT_START, reader)
                self.push(end, _SHIFT_END, reader)
        if policy.tick_minutes:
            t = policy.tick_minutes
            while t < scenario.duration_min:
                self.push(t, _TICK, None)
                t += policy.tick_minutes

    def push(self, at: float, kind: int, payload: _Payload) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, kind, self.seq, payload))

    def start(self, reader: Reader, case: Case, now: float) -> None:
        if case.remaining is None:
            case.remaining = case.true / reader.radiologist.speed
            case.started = now
            case.reader = reader.id
        reader.current = case
        reader.current_started = now
        reader.current_end = now + case.remaining
        reader.token += 1
        self.push(reader.current_end, _FINISH, (reader, reader.token))

    def preempt(self, reader: Reader, now: float) -> None:
        held = reader.current
        if held is None:
            return
        held.remaining = max(0.0, reader.current_end - now) + self.scenario.preempt_overhead_min
        held.preempted += 1
        reader.read_minutes += now - reader.current_started
        reader.suspended.append(held)
        reader.current = None
        reader.token += 1

    def finish(self, reader: Reader, now: float) -> None:
        case = reader.current
        assert case is not None
        case.finished = now
        case.remaining = 0.0
        reader.read_minutes += now - reader.current_started
        reader.current = None
        self.policy.on_finished(self.floor, reader, case, now)

    def dispatch_idle(self, now: float) -> None:
        for reader in self.floor.readers.values():
            if not reader.on_shift or reader.current is not None:
                continue
            if reader.suspended:
                first = self.policy.before_resume(self.floor, reader, reader.suspended[-1], now)
                self.start(reader, first or reader.suspended.pop(), now)
                continue
            case = self.policy.next_for(self.floor, reader, now)
            if case is not None:
                self.start(reader, case, now)

    def run(self) -> NightResult:
        floor, policy = self.floor, self.policy
        policy.reset(floor)
        while self.events:
            now, kind, _, payload = heapq.heappop(self.events)
            if kind == _TICK and all(c.finished is not None for c in floor.cases):
                break
            if kind == _FINISH and isinstance(payload, tuple):
                reader, token = payload
                if token != reader.token or reader.current is None:
                    continue
                self.finish(reader, now)
            elif kind == _SHIFT_START and isinstance(payload, Reader):
                payload.on_shift = True
                policy.on_shift_start(floor, payload, now)
            elif kind == _SHIFT_END and isinstance(payload, Reader):
                self.end_shift(payload, now)
            elif kind == _ARRIVAL and isinstance(payload, Case):
                target = policy.on_arrival(floor, payload, now)
                if target is not None:
                    reader = floor.readers[target]
                    self.preempt(reader, now)
                    self.start(reader, payload, now)
            else:
                policy.on_tick(floor, now)
            self.dispatch_idle(now)
            if now >= self.scenario.duration_min and not any(
                r.on_shift or r.current is not None for r in floor.readers.values()
            ):
                break
        return self.result()

    def end_shift(self, reader: Reader, now: float) -> None:
        reader.on_shift = False
        released = list(reader.queue)
        reader.queue.clear()
        for case in reader.suspended:
            # Another reader starts the interrupted study over.
            case.remaining = None
            case.started = None
            case.reader = None
            released.append(case)
        reader.suspended.clear()
        if released:
            self.policy.on_released(self.floor, released, now)

    def result(self) -> NightResult:
        reads = []
        unread: list[str] = []
        readers = self.floor.readers
        for case in self.floor.cases:
            if case.finished is None or case.started is None or case.reader is None:
                unread.append(case.priority.value)
                continue
            skill = case.arrival.preferred_skill
            reads.append(
                ReadRecord(
                    study_uid=case.study.uid,
                    exam=case.arrival.exam,
                    priority=case.priority.value,
                    arrived=case.arrived,
                    deadline=case.deadline,
                    started=case.started,
                    finished=case.finished,
                    reader=case.reader,
                    preferred_skill=skill,
                    reader_has_preferred=not skill
                    or skill in readers[case.reader].radiologist.skills,
                    preempted=case.preempted,
                )
            )
        return NightResult(
            policy=self.policy.name,
            reads=tuple(reads),
            unread=len(unread),
            unread_priorities=tuple(unread),
            read_minutes={r.id: r.read_minutes for r in readers.values()},
            shift_minutes={r.id: r.shift_minutes() for r in readers.values()},
        )


def simulate(
    scenario: NightScenario, arrivals: Sequence[SyntheticArrival], policy: Policy
) -> NightResult:
    """Replay one night of ``arrivals`` through ``policy``.

    Deterministic: the same scenario, arrivals and policy give the same result.
    Studies still unread once every shift has ended are counted in ``unread``.

    Parameters
    ----------
    scenario
        Roster, shifts and pre-emption overhead.
    arrivals
        The night's studies (`generate_arrivals`).
    policy
        The dispatch strategy under test; it is reset first.
    """
    return _Run(scenario, arrivals, policy).run()
