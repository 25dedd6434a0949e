"""The product's dispatch core on the simulated floor: what the SLA benchmark measures.

Every decision is the one the running service makes, by the same core calls on a real
`Board`, in the order the services make them:

- **Arrival** (`DispatchService` on a stable study): `route`, then `preempt` (a stroke
  whose eligible readers are all mid-read goes to the one `stroke_alert` names, who is
  interrupted and reads it at once).
- **A reader asks for work** (`garde next`): `next_pull` (late binding), `Board.reassign`
  when it comes from a colleague's queue, then `Board.start`.
- **Back from an interruption**: a stroke `next_pull` offers comes before resuming.
- **Shift end** (the handover job): every study the reader held unstarted is released
  and routed again; one interrupted mid-read is started over by whoever takes it.
- **Shift start** (the coverage sweep): studies nobody could take are routed again.
- **Re-plan** (``GardeOptimized``, the re-plan job): the board's snapshot goes to CP-SAT
  (`optimizer.replan`), whose moves apply only when its plan is strictly cheaper. The
  service judges them again (`optimizer.judge`) because its board may move during the
  solve; here nothing does. It re-plans from 6 queued studies (the service from 2), so
  that 300 nights stay within minutes.

The floor's queues mirror the board's after each event, so the simulator's bookkeeping
(who holds what at a shift end) sees what the board decided. Not replayed: the SLA
watch's escalations (alerts, and reassigning a study that reaches its tier), releases
and the operators' hands: the figures are the router's and late binding's alone.

This replaced a policy written for the simulator alone (aims tighter than the SLA,
emergency pre-emption, a scarcity window), which the benchmark used to report as
Garde's. Replayed here, the product core matched it within 0.1 point on every priority
(300 nights, seeds 1000-1299), once the board stopped predicting an overrunning read to
end "now".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.board import Board, queue_key
from garde.dispatch.latebinding import Pull, next_pull, preempt
from garde.dispatch.model import Priority, Shift
from garde.dispatch.optimizer import SolverSettings, board_snapshot, replan
from garde.dispatch.router import route

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.model import Study
    from garde.simulation.floor import Case, Floor, Reader


class Garde:
    """The dispatch core (board, router, late binding, stroke alert) as a policy."""

    name = "garde"
    tick_minutes: float | None = None

    def __init__(self) -> None:
        self.board = Board()
        self._cases: dict[str, Case] = {}

    # -- bookkeeping -------------------------------------------------------------------
    def reset(self, floor: Floor) -> None:
        """A fresh board with the night's roster."""
        scenario = floor.scenario
        shifts = [
            Shift(r.id, scenario.at(start), scenario.at(end))
            for r in floor.readers.values()
            for start, end in r.shifts
        ]
        self.board = Board()
        self.board.set_roster([r.radiologist for r in floor.readers.values()], shifts)
        self._cases = {}

    def _mirror(self, floor: Floor) -> None:
        """Give every floor queue the board's queue (same order)."""
        for rid, reader in floor.readers.items():
            reader.queue = [self._cases[s.uid] for s in self.board.iter_queue(rid)]

    @staticmethod
    def _at(floor: Floor, now: float) -> datetime:
        return floor.scenario.at(now)

    def _route(self, floor: Floor, study: Study, now: datetime) -> None:
        decision = route(study, self.board, floor.scenario.sla, now)
        self._place(floor, study, decision.radiologist_id, now)

    def _place(self, floor: Floor, study: Study, radiologist_id: str | None, now: datetime) -> None:
        if radiologist_id is None:
            floor.pool.append(self._cases[study.uid])  # nobody may read it: flagged, kept
        else:
            self.board.assign(study, radiologist_id, now)

    # -- events ------------------------------------------------------------------------
    def on_arrival(self, floor: Floor, case: Case, now: float) -> str | None:
        """Route it; a stroke whose eligible readers are all mid-read interrupts one."""
        at = self._at(floor, now)
        study = case.study
        self._cases[study.uid] = case
        sla = floor.scenario.sla
        decision, alert = preempt(study, route(study, self.board, sla, at), self.board, sla, at)
        self._place(floor, study, decision.radiologist_id, at)
        if alert is not None:  # the alerted reader opens it at once
            self.board.start(study.uid, at)
            return alert.radiologist_id
        self._mirror(floor)
        return None

    def next_for(self, floor: Floor, reader: Reader, now: float) -> Case | None:
        """`garde next`: the core's late-binding pull, started."""
        at = self._at(floor, now)
        pull = next_pull(reader.id, self.board, at)
        return None if pull is None else self._take(floor, reader, pull, at)

    def before_resume(self, floor: Floor, reader: Reader, held: Case, now: float) -> Case | None:  # noqa: ARG002
        """A stroke the core would give this reader comes before the interrupted read."""
        at = self._at(floor, now)
        pull = next_pull(reader.id, self.board, at)
        if pull is None or pull.study.priority is not Priority.STROKE:
            return None
        return self._take(floor, reader, pull, at)

    def _take(self, floor: Floor, reader: Reader, pull: Pull, at: datetime) -> Case:
        if pull.from_radiologist_id != reader.id:
            self.board.reassign(pull.study.uid, reader.id, at)
        self.board.start(pull.study.uid, at)
        self._mirror(floor)
        return self._cases[pull.study.uid]

    def on_finished(self, floor: Floor, reader: Reader, case: Case, now: float) -> None:  # noqa: ARG002
        """The read is done: it leaves the board."""
        self.board.finish(case.study.uid, self._at(floor, now))

    def on_released(self, floor: Floor, cases: list[Case], now: float) -> None:
        """Handover: what the reader held unstarted (or interrupted) is routed again."""
        at = self._at(floor, now)
        studies = [self.board.release(c.study.uid) for c in cases]
        for study in sorted(studies, key=queue_key):
            self._route(floor, study, at)
        self._mirror(floor)

    def on_shift_start(self, floor: Floor, reader: Reader, now: float) -> None:  # noqa: ARG002
        """Coverage sweep: studies nobody could take are routed again."""
        at = self._at(floor, now)
        waiting = sorted(floor.pool, key=lambda c: queue_key(c.study))
        floor.pool.clear()
        for case in waiting:
            self._route(floor, case.study, at)
        self._mirror(floor)

    def on_tick(self, floor: Floor, now: float) -> None:
        """No periodic work without the re-planner."""


class GardeOptimized(Garde):
    """`Garde` plus the re-plan job every ``tick_minutes``."""

    name = "garde_optimized"

    def __init__(
        self,
        *,
        tick_minutes: float = 10.0,
        min_backlog: int = 6,
        settings: SolverSettings | None = None,
    ) -> None:
        super().__init__()
        self.tick_minutes = tick_minutes
        self.min_backlog = min_backlog
        self.settings = settings or SolverSettings(time_limit_s=0.2, workers=1)
        self.replans = 0
        self.improved = 0

    def on_tick(self, floor: Floor, now: float) -> None:
        """Re-plan the unstarted queues; apply the moves of a strictly cheaper plan."""
        at = self._at(floor, now)
        snapshot = board_snapshot(self.board, at)
        if len(snapshot.studies) < self.min_backlog:
            return
        sla = floor.scenario.sla
        result = replan(
            snapshot.studies,
            snapshot.readers,
            snapshot.plan,
            at,
            sla,
            settings=self.settings,
            pinned=snapshot.pinned,
        )
        self.replans += 1
        if not result.improved:
            return
        # The board has not changed since the snapshot (the service's job judges the
        # moves again because other work may have moved it meanwhile).
        self.improved += 1
        for move in result.moves:
            self.board.reassign(move.study_uid, move.to_radiologist, at)
        self._mirror(floor)
