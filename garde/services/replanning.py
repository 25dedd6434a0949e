"""Periodic re-plan: CP-SAT over every unstarted study of the radiologists on shift.

The board is read under the dispatch lock, the solver runs without it (so sweeps and
the SLA watch are not held up for its time limit), and the moves are applied under it
again. Only changes of reader are applied; the board keeps each queue in queue order
(priority, deadline, arrival), which is the order the optimizer scores. Before applying,
the moves are judged against the board as it is then (`optimizer.judge`): moves whose
study started or moved meanwhile are dropped, and the rest are applied only if they
make the live plan strictly cheaper. Each move is stored with an explanation (the plan's
cost before and after, the study's finish and lateness with the old and new reader).

Studies the re-planner does not move: those held by the fallback pool (flagged) or by a
reader who may not read them. They count in the plan where they sit; those nobody on
shift may read are logged each run (escalation and the fallback pool handle them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from garde.dispatch.model import StudyState
from garde.dispatch.optimizer import CostWeights, ReaderCapacity, SolverSettings, judge, replan
from garde.dispatch.router import Decision
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Study
    from garde.dispatch.optimizer import Move, Verdict
    from garde.services.dispatcher import DispatchService

logger = logging.getLogger(__name__)

MIN_BACKLOG = 2
"""Fewer queued studies than this: nothing to re-plan."""


@dataclass(frozen=True, slots=True)
class ReplanOutcome:
    """What one re-plan run did.

    ``objective`` and ``input_objective`` are the solver's (on its snapshot);
    ``applied_before`` and ``applied_after`` the live plan's cost before and after the
    moves were applied (the latter counting their move penalty; equal when nothing was
    applied). ``dropped`` lists
    moves that no longer applied; ``unplaceable`` studies nobody on shift may read.
    """

    studies: int
    status: str
    objective: int
    input_objective: int
    moved: dict[str, str]
    applied_before: int = 0
    applied_after: int = 0
    dropped: tuple[str, ...] = ()
    unplaceable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The board's unstarted queues of the radiologists on shift, as `replan` takes them."""

    studies: list[Study]
    readers: list[ReaderCapacity]
    plan: dict[str, list[str]]
    pinned: dict[str, str] = field(default_factory=dict)  # uid -> the reader it stays with

    def unplaceable(self) -> tuple[str, ...]:
        """Pinned studies no reader on shift may read."""
        by_uid = {s.uid: s for s in self.studies}
        return tuple(
            sorted(
                uid for uid in self.pinned if not any(r.may_read(by_uid[uid]) for r in self.readers)
            )
        )


def replan_queues(
    dispatch: DispatchService, now: datetime, settings: SolverSettings
) -> ReplanOutcome | None:
    """Re-plan the unstarted queues of the radiologists on shift; None if too few studies."""
    flagged = _fallback_flagged(dispatch)
    with dispatch.lock:
        snapshot = _snapshot(dispatch.board, now, flagged)
    if len(snapshot.studies) < MIN_BACKLOG:
        return None
    unplaceable = snapshot.unplaceable()
    if unplaceable:
        logger.warning(
            "re-plan: %d studies nobody on shift may read, left with the fallback pool: %s",
            len(unplaceable),
            ", ".join(unplaceable),
        )
    result = replan(
        snapshot.studies,
        snapshot.readers,
        snapshot.plan,
        now,
        dispatch.policy,
        settings=settings,
        pinned=snapshot.pinned,
    )
    moved: dict[str, str] = {}
    before = after = result.input_objective
    dropped: tuple[str, ...] = ()
    if result.improved:
        moves = [
            m
            for m in result.moves
            if m.from_radiologist is not None and m.from_radiologist != m.to_radiologist
        ]
        moved, before, after, dropped = _apply(dispatch, now, moves, flagged)
    logger.info(
        "re-plan of %d studies: %s, solver cost %d -> %d; applied %d moves, plan cost "
        "%d -> %d (%d moves dropped)",
        len(snapshot.studies),
        result.status,
        result.input_objective,
        result.objective,
        len(moved),
        before,
        after,
        len(dropped),
    )
    return ReplanOutcome(
        studies=len(snapshot.studies),
        status=result.status,
        objective=result.objective,
        input_objective=result.input_objective,
        moved=moved,
        applied_before=before,
        applied_after=after,
        dropped=dropped,
        unplaceable=unplaceable,
    )


def _apply(
    dispatch: DispatchService, now: datetime, moves: Sequence[Move], flagged: frozenset[str]
) -> tuple[dict[str, str], int, int, tuple[str, ...]]:
    """Apply ``moves`` if, on the board as it is now, they make the plan strictly cheaper.

    Judging and applying happen under one hold of the dispatch lock, so the board the
    moves were judged on is the board they change. A move the store refuses (another
    process claimed the study) stops the batch; the rest are judged again against the
    board as it then stands. Returns (moved, cost before, cost after, dropped UIDs).
    """
    moved: dict[str, str] = {}
    dropped: list[str] = []
    pending = list(moves)
    with dispatch.lock:
        before = _judge(dispatch, now, flagged, ()).before.total
        while pending:
            verdict = _judge(dispatch, now, flagged, pending)
            dropped.extend(verdict.dropped)
            if not verdict.better:
                logger.info(
                    "re-plan: %d moves no longer beat the plan (%d -> %d); kept it",
                    len(verdict.moves),
                    verdict.before.total,
                    verdict.after.total,
                )
                break
            pending = []
            for i, move in enumerate(verdict.moves):
                decision = Decision(
                    study_uid=move.study_uid,
                    radiologist_id=move.to_radiologist,
                    fallback=False,
                    explanation=verdict.explanations[move.study_uid],
                )
                if not dispatch.reassign(
                    move.study_uid,
                    move.to_radiologist,
                    now,
                    by=AssignedBy.OPTIMIZER,
                    actor="optimizer",
                    action="replan",
                    decision=decision,
                    detail={"objective": verdict.after.total, "input": verdict.before.total},
                ):
                    dropped.append(move.study_uid)
                    pending = list(verdict.moves[i + 1 :])
                    break
                moved[move.study_uid] = move.to_radiologist
        after = before
        if moved:  # the live plan, with the penalty of the moves it took to get there
            penalty = CostWeights().move_penalty * len(moved)
            after = _judge(dispatch, now, flagged, ()).before.total + penalty
    return moved, before, after, tuple(dropped)


def _judge(
    dispatch: DispatchService, now: datetime, flagged: frozenset[str], moves: Sequence[Move]
) -> Verdict:
    """``moves`` judged on the board as it is (hold the dispatch lock)."""
    snapshot = _snapshot(dispatch.board, now, flagged)
    return judge(
        snapshot.studies,
        snapshot.readers,
        snapshot.plan,
        now,
        dispatch.policy,
        moves=moves,
        pinned=snapshot.pinned,
    )


def _fallback_flagged(dispatch: DispatchService) -> frozenset[str]:
    """Assigned studies flagged as held by the fallback pool (theirs to handle)."""
    with dispatch.uow_factory() as uow:
        return frozenset(
            r.study_uid for r in uow.studies.by_state(StudyState.ASSIGNED) if r.fallback
        )


def _snapshot(board: Board, now: datetime, flagged: frozenset[str]) -> _Snapshot:
    """The queues on shift; a study flagged or with a reader who may not read it is pinned."""
    studies: list[Study] = []
    readers: list[ReaderCapacity] = []
    plan: dict[str, list[str]] = {}
    pinned: dict[str, str] = {}
    for rid in board.on_shift(now):
        capacity = _capacity(board, rid, now)
        readers.append(capacity)
        queue = board.queue(rid)
        plan[rid] = [s.uid for s in queue]
        for study in queue:
            studies.append(study)
            if study.uid in flagged or not capacity.may_read(study):
                pinned[study.uid] = rid
    return _Snapshot(studies, readers, plan, pinned)


def _capacity(board: Board, rid: str, now: datetime) -> ReaderCapacity:
    covering = [s for s in board.shifts(rid) if s.covers(now)]
    sites: frozenset[str] | None = frozenset()
    for shift in covering:
        if shift.sites is None:
            sites = None
            break
        sites = (sites or frozenset()) | shift.sites
    queued = sum(s.reading_minutes for s in board.queue(rid))
    in_hand = sum(
        study.reading_minutes
        for study in (board.get(uid) for uid in board.reading(rid))
        if study is not None
    )
    end = board.handover(rid, now)
    return ReaderCapacity(
        radiologist=board.radiologist(rid),
        free_at=board.free_at(rid, now),
        shift_end=end if end is not None else now,
        sites=sites,
        read_minutes=max(0.0, board.night_minutes(rid, now) - queued - in_hand),
    )
