"""Baseline dispatch policies the benchmark compares Garde against.

- `RoundRobin`: each study, at arrival, to the next eligible reader in turn (FIFO queues).
- `LeastLoaded`: to the eligible reader with the least queued work, ignoring deadlines.
- `PushGreedy`: committed at arrival to the queue (priority then deadline order) where it
  is projected to finish first; optional stroke pre-emption.
- `PullEdf`: one shared queue; the next free reader takes the earliest deadline they may
  read; optional stroke pre-emption.
- `CherryPick`: one shared queue; the next free reader takes the shortest study.

They see only what a real system would: expected reading minutes, not the true ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.model import Priority

if TYPE_CHECKING:
    from garde.simulation.floor import Case, Floor, Reader


def _queue_key(case: Case) -> tuple[int, float, int]:
    return (case.rank, case.deadline, case.index)


def _edf_key(case: Case) -> tuple[float, int]:
    return (case.deadline, case.index)


def stroke_preemption_target(floor: Floor, case: Case) -> str | None:
    """The reader a stroke interrupts, the way a plain alerting system would.

    An idle eligible reader is left to the normal pull; otherwise the eligible reader
    whose current study has the latest deadline is interrupted, never one reading a
    stroke. None if the case is not a stroke or no one qualifies.
    """
    if case.priority is not Priority.STROKE:
        return None
    eligible = [r for r in floor.on_shift() if floor.may_read(r, case)]
    if not eligible or any(r.current is None and not r.suspended for r in eligible):
        return None
    busy = [
        r for r in eligible if r.current is not None and r.current.priority is not Priority.STROKE
    ]
    if not busy:
        return None
    victim = max(busy, key=lambda r: (r.current.deadline if r.current else 0.0, r.id))
    floor.remove(case)
    return victim.id


class _Base:
    """Shared no-op hooks."""

    name = "base"
    tick_minutes: float | None = None

    def reset(self, floor: Floor) -> None:
        """Nothing to reset."""

    def on_tick(self, floor: Floor, now: float) -> None:
        """No periodic work."""

    def on_finished(self, floor: Floor, reader: Reader, case: Case, now: float) -> None:
        """Nothing to record."""

    def before_resume(self, floor: Floor, reader: Reader, held: Case, now: float) -> Case | None:  # noqa: ARG002
        """A plain system resumes the interrupted read first."""
        return None

    def on_shift_start(self, floor: Floor, reader: Reader, now: float) -> None:  # noqa: ARG002
        """Cases nobody could take wait in the pool; give them another chance."""
        pending = list(floor.pool)
        floor.pool.clear()
        for case in pending:
            self.place(floor, case, now)

    def on_released(self, floor: Floor, cases: list[Case], now: float) -> None:
        """Handed-back cases are placed again like new arrivals."""
        for case in sorted(cases, key=lambda c: c.index):
            self.place(floor, case, now)

    def on_arrival(self, floor: Floor, case: Case, now: float) -> str | None:
        """Place the case; no pre-emption."""
        self.place(floor, case, now)
        return None

    def place(self, floor: Floor, case: Case, now: float) -> None:  # noqa: ARG002
        """Put the case in the shared pool."""
        floor.pool.append(case)


class _Push(_Base):
    """Commit at arrival to one reader's queue; the reader reads their own queue."""

    def choose(self, floor: Floor, case: Case, eligible: list[Reader], now: float) -> Reader:
        raise NotImplementedError

    def place(self, floor: Floor, case: Case, now: float) -> None:
        eligible = [r for r in floor.on_shift() if floor.may_read(r, case)]
        if not eligible:
            floor.pool.append(case)
            return
        self.choose(floor, case, eligible, now).queue.append(case)

    def next_for(self, floor: Floor, reader: Reader, now: float) -> Case | None:  # noqa: ARG002
        """Front of the reader's own queue."""
        if reader.queue:
            return reader.queue.pop(0)
        return None


class RoundRobin(_Push):
    """Each study to the next eligible reader in a fixed rotation; FIFO queues."""

    name = "round_robin"

    def reset(self, floor: Floor) -> None:  # noqa: ARG002
        self._turn = 0

    def choose(self, floor: Floor, case: Case, eligible: list[Reader], now: float) -> Reader:  # noqa: ARG002
        order = sorted(floor.readers)
        ids = {r.id for r in eligible}
        for step in range(len(order)):
            rid = order[(self._turn + step) % len(order)]
            if rid in ids:
                self._turn = (self._turn + step + 1) % len(order)
                return floor.readers[rid]
        return eligible[0]


class LeastLoaded(_Push):
    """Each study to the eligible reader with the least queued minutes; FIFO queues."""

    name = "least_loaded"

    def choose(self, floor: Floor, case: Case, eligible: list[Reader], now: float) -> Reader:  # noqa: ARG002
        def load(r: Reader) -> tuple[float, str]:
            queued = sum(r.reading_time(c) for c in r.queue)
            return (r.expected_free_at(now) - now + queued, r.id)

        return min(eligible, key=load)


def projected_finish(reader: Reader, case: Case, now: float) -> float:
    """When ``case`` would end in ``reader``'s queue kept in priority-then-deadline order."""
    key = _queue_key(case)
    t = reader.expected_free_at(now)
    t += sum(reader.reading_time(c) for c in reader.suspended)
    t += sum(reader.reading_time(c) for c in reader.queue if _queue_key(c) <= key)
    return t + reader.reading_time(case)


class PushGreedy(_Push):
    """Commit at arrival to the queue where the study is projected to finish first.

    Queues are kept in priority, then deadline order. With ``preempt_stroke`` a stroke
    interrupts a reader when no eligible reader is free.
    """

    def __init__(self, *, preempt_stroke: bool = True) -> None:
        self.preempt_stroke = preempt_stroke
        self.name = "push_greedy" if preempt_stroke else "push_greedy_no_preempt"

    def choose(self, floor: Floor, case: Case, eligible: list[Reader], now: float) -> Reader:  # noqa: ARG002
        return min(eligible, key=lambda r: (projected_finish(r, case, now), r.id))

    def place(self, floor: Floor, case: Case, now: float) -> None:
        super().place(floor, case, now)
        for reader in floor.readers.values():
            if case in reader.queue:
                reader.queue.sort(key=_queue_key)

    def on_arrival(self, floor: Floor, case: Case, now: float) -> str | None:
        self.place(floor, case, now)
        if not self.preempt_stroke or case.priority is not Priority.STROKE:
            return None
        holder = next((r for r in floor.readers.values() if case in r.queue), None)
        if holder is None or holder.current is None or holder.queue[0] is not case:
            return None
        if holder.current.priority is Priority.STROKE:
            return None
        holder.queue.remove(case)
        return holder.id


class _Pull(_Base):
    """A shared queue; the free reader picks by ``key`` among what they may read."""

    def key(self, case: Case) -> tuple[float, ...]:
        raise NotImplementedError

    def next_for(self, floor: Floor, reader: Reader, now: float) -> Case | None:  # noqa: ARG002
        """The best case by ``key`` the reader may read, taken off the pool."""
        mine = [c for c in floor.pool if floor.may_read(reader, c)]
        if not mine:
            return None
        best = min(mine, key=self.key)
        floor.pool.remove(best)
        return best


class PullEdf(_Pull):
    """Shared earliest-deadline-first queue; optional stroke pre-emption."""

    def __init__(self, *, preempt_stroke: bool = True) -> None:
        self.preempt_stroke = preempt_stroke
        self.name = "pull_edf" if preempt_stroke else "pull_edf_no_preempt"

    def key(self, case: Case) -> tuple[float, ...]:
        return _edf_key(case)

    def on_arrival(self, floor: Floor, case: Case, now: float) -> str | None:  # noqa: ARG002
        floor.pool.append(case)
        if not self.preempt_stroke:
            return None
        return stroke_preemption_target(floor, case)


class CherryPick(_Pull):
    """Shared queue; the free reader takes the shortest study they may read."""

    name = "cherry_pick"

    def key(self, case: Case) -> tuple[float, ...]:
        return (case.expected, case.index)
