"""Baseline routing policies the benchmark compares Garde against, behind the real services.

Each is a `garde.dispatch.routing.RoutingPolicy`: the dispatch, reading, escalation and
handover services call it where they call Garde's core, so a baseline is measured on
the product's own path (stability, late binding's absence, stroke alerts acknowledged
by people, escalation, handover), not on a re-implementation of it.

- `RoundRobin`: each study, when dispatched, to the next eligible reader in turn;
  each reader reads their own studies first come, first read.
- `LeastLoaded`: to the eligible reader with the least work in hand and queued,
  ignoring deadlines; first come, first read.
- `PushGreedy`: to the queue (priority then deadline order) where it is predicted to
  finish first; a stroke that would head a busy reader's queue interrupts them.
- `PullEdf`: nobody is assigned: one shared queue, the free reader takes the earliest
  deadline they may read; a stroke with every eligible reader busy interrupts the one
  whose read in hand is due last (never a stroke).
- `CherryPick`: one shared queue; the free reader takes the shortest study.

They see what the board shows (expected reading minutes), never the true ones. None
takes from a colleague's queue (no late binding). Where nobody eligible is on shift they
leave the study to the services' rule (fallback pool, medical director), as Garde does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from garde.dispatch._time import to_ms
from garde.dispatch.explanation import Basis, Explanation
from garde.dispatch.latebinding import StrokeAlert
from garde.dispatch.model import Priority
from garde.dispatch.router import Decision, decide, route

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.latebinding import Pull
    from garde.dispatch.model import SlaPolicy, Study
    from garde.dispatch.routing import TakeOrder

_ELIGIBLE = 0


def eligible(study: Study, board: Board, now: datetime, exclude: frozenset[str]) -> list[str]:
    """Who may take ``study`` now (on shift, credentialed, skilled, not excluded), by id."""
    code = board.evaluate(study, now, exclude).code
    ids = board.ids
    return [ids[int(i)] for i in np.flatnonzero(code == _ELIGIBLE)]


def to_reader(study: Study, board: Board, reader: str, now: datetime) -> Decision:
    """The router's decision restricted to ``reader`` (its explanation shows the choice)."""
    others = frozenset(board.ids) - {reader}
    return decide(study, board, board.evaluate(study, now, others), now)


def pooled(study: Study, now: datetime) -> Decision:
    """Nobody holds it: it waits in the shared queue for whoever is free."""
    explanation = Explanation(
        study_uid=study.uid,
        priority=study.priority.value,
        rule=study.rule,
        deadline=study.deadline,
        decided_at=now,
        chosen=None,
        basis=Basis.NOBODY,
        candidates=(),
        eligible=0,
        excluded=(),
    )
    return Decision(study.uid, None, fallback=False, explanation=explanation)


def _reading_deadline(board: Board, reader: str) -> tuple[int, str] | None:
    """The deadline (ms) and UID of the read in hand due last, or None if idle."""
    reads = [board.get(uid) for uid in board.reading(reader)]
    held = [s for s in reads if s is not None]
    if not held:
        return None
    last = max(held, key=lambda s: (to_ms(s.deadline), s.uid))
    return to_ms(last.deadline), last.uid


def _is_reading_stroke(board: Board, reader: str) -> bool:
    return any(
        (s := board.get(uid)) is not None and s.priority is Priority.STROKE
        for uid in board.reading(reader)
    )


def _alert(study: Study, board: Board, reader: str, interrupted: str, now: datetime) -> StrokeAlert:
    return StrokeAlert(study.uid, reader, interrupted, board.free_at(reader, now) - now)


class _Baseline:
    """No late binding; queues read first come, first read; no pre-emption."""

    name = "baseline"

    def route(
        self,
        study: Study,
        board: Board,
        policy: SlaPolicy,
        now: datetime,
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> Decision:
        """Choose among the eligible (`choose`); nobody eligible: the services' rule."""
        readers = eligible(study, board, now, exclude)
        if not readers:
            return route(study, board, policy, now, exclude=exclude)
        return to_reader(study, board, self.choose(study, board, readers, now), now)

    def choose(self, study: Study, board: Board, readers: list[str], now: datetime) -> str:
        """Whom among ``readers`` (eligible, by id) the study goes to."""
        raise NotImplementedError

    def preempt(
        self,
        study: Study,  # noqa: ARG002
        decision: Decision,
        board: Board,  # noqa: ARG002
        policy: SlaPolicy,  # noqa: ARG002
        now: datetime,  # noqa: ARG002
    ) -> tuple[Decision, StrokeAlert | None]:
        """No pre-emption."""
        return decision, None

    def next_pull(self, radiologist_id: str, board: Board, now: datetime) -> Pull | None:  # noqa: ARG002
        """No late binding: a reader reads their own queue and the shared one."""
        return None

    def take_order(self, study: Study) -> TakeOrder:
        """First come, first read."""
        return (to_ms(study.arrived_at),)


class RoundRobin(_Baseline):
    """Each study to the next eligible reader in a fixed rotation; FIFO reading."""

    name = "round_robin"

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, study: Study, board: Board, readers: list[str], now: datetime) -> str:  # noqa: ARG002
        order = board.ids
        allowed = set(readers)
        for step in range(len(order)):
            rid = order[(self._turn + step) % len(order)]
            if rid in allowed:
                self._turn = (self._turn + step + 1) % len(order)
                return rid
        return readers[0]


class LeastLoaded(_Baseline):
    """Each study to the eligible reader with the least work in hand and queued; FIFO."""

    name = "least_loaded"

    def choose(self, study: Study, board: Board, readers: list[str], now: datetime) -> str:  # noqa: ARG002
        def load(rid: str) -> tuple[float, str]:
            speed = board.radiologist(rid).speed
            queued = sum(s.reading_minutes for s in board.iter_queue(rid)) / speed
            busy = (board.free_at(rid, now) - now).total_seconds() / 60
            return (busy + queued, rid)

        return min(readers, key=load)


class PushGreedy(_Baseline):
    """To the queue where the study is predicted to finish first (the board's queues are
    in priority, then deadline order); a stroke heading a busy reader's queue interrupts
    them unless they read a stroke."""

    def __init__(self, *, preempt_stroke: bool = True) -> None:
        self.preempt_stroke = preempt_stroke
        self.name = "push_greedy" if preempt_stroke else "push_greedy_no_preempt"

    def choose(self, study: Study, board: Board, readers: list[str], now: datetime) -> str:
        finish = board.evaluate(study, now).finish_ms
        return min(readers, key=lambda rid: (int(finish[board.index_of(rid)]), rid))

    def preempt(
        self,
        study: Study,
        decision: Decision,
        board: Board,
        policy: SlaPolicy,  # noqa: ARG002
        now: datetime,
    ) -> tuple[Decision, StrokeAlert | None]:
        """Interrupt the chosen reader if busy and the stroke would head their queue."""
        rid = decision.radiologist_id
        if not self.preempt_stroke or study.priority is not Priority.STROKE or rid is None:
            return decision, None
        if decision.fallback or _is_reading_stroke(board, rid):
            return decision, None
        held = _reading_deadline(board, rid)
        if held is None or any(s.priority is Priority.STROKE for s in board.iter_queue(rid)):
            return decision, None
        return decision, _alert(study, board, rid, held[1], now)

    def take_order(self, study: Study) -> TakeOrder:
        """The queue's order: priority, then deadline."""
        return (study.priority.rank, to_ms(study.deadline), to_ms(study.arrived_at))


class _Pull(_Baseline):
    """One shared queue: nobody is assigned; the free reader picks by `take_order`."""

    def route(
        self,
        study: Study,
        board: Board,  # noqa: ARG002
        policy: SlaPolicy,  # noqa: ARG002
        now: datetime,
        *,
        exclude: frozenset[str] = frozenset(),  # noqa: ARG002
    ) -> Decision:
        """Into the shared queue."""
        return pooled(study, now)


class PullEdf(_Pull):
    """Shared earliest-deadline-first queue; optional stroke pre-emption."""

    def __init__(self, *, preempt_stroke: bool = True) -> None:
        self.preempt_stroke = preempt_stroke
        self.name = "pull_edf" if preempt_stroke else "pull_edf_no_preempt"

    def take_order(self, study: Study) -> TakeOrder:
        """Earliest deadline first."""
        return (to_ms(study.deadline), to_ms(study.arrived_at))

    def preempt(
        self,
        study: Study,
        decision: Decision,
        board: Board,
        policy: SlaPolicy,  # noqa: ARG002
        now: datetime,
    ) -> tuple[Decision, StrokeAlert | None]:
        """A stroke with every eligible reader busy interrupts the one whose read in hand
        is due last (never one reading a stroke); with one free, the pull takes it."""
        if not self.preempt_stroke or study.priority is not Priority.STROKE:
            return decision, None
        readers = eligible(study, board, now, frozenset())
        held = {rid: _reading_deadline(board, rid) for rid in readers}
        if not readers or any(h is None for h in held.values()):
            return decision, None
        busy = [rid for rid in readers if not _is_reading_stroke(board, rid)]
        if not busy:
            return decision, None
        victim = max(busy, key=lambda rid: (held[rid] or (0, ""))[0])
        interrupted = (held[victim] or (0, ""))[1]
        return to_reader(study, board, victim, now), _alert(study, board, victim, interrupted, now)


class CherryPick(_Pull):
    """Shared queue; the free reader takes the shortest study they may read."""

    name = "cherry_pick"

    def take_order(self, study: Study) -> TakeOrder:
        """Shortest expected read first."""
        return (study.reading_minutes, to_ms(study.arrived_at))
