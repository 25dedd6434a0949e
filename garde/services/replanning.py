"""Periodic re-plan: CP-SAT over every unstarted study of the radiologists on shift.

The board is read under the dispatch lock, the solver runs without it (so sweeps and
the SLA watch are not held up for its time limit), and the moves are applied under it
again. Only changes of reader are applied; the board keeps each queue in queue order
(priority, deadline, arrival), which is the order the optimizer scores. Before applying,
the moves are judged against the board as it is then (`optimizer.judge`): moves whose
study started or moved meanwhile are dropped, and the rest are applied only if they
make the live plan strictly cheaper. Each move is stored with an explanation (the plan's
cost before and after, the study's finish and lateness with the old and new reader).

A study is never moved back to the radiologist who released it. Studies the re-planner
does not move: those held by the fallback pool (flagged) or by a reader who may not read
them. They count in the plan where they sit; those nobody on shift may read are logged
each run (escalation and the fallback pool handle them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.model import StudyState
from garde.dispatch.optimizer import (
    CostWeights,
    SolverSettings,
    StoreMarks,
    board_snapshot,
    judge,
    replan,
    store_marks,
)
from garde.dispatch.router import Decision
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from garde.dispatch.optimizer import Move, Verdict
    from garde.services.dispatcher import DispatchService
    from garde.services.solver_process import Replanner

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


def replan_queues(
    dispatch: DispatchService,
    now: datetime,
    settings: SolverSettings,
    *,
    replanner: Replanner = replan,
) -> ReplanOutcome | None:
    """Re-plan the unstarted queues of the radiologists on shift; None if too few studies.

    ``replanner`` solves (serve's leader passes one in a process of its own,
    `solver_process.IsolatedReplanner`, which raises `SolverDiedError` when CP-SAT aborts).
    """
    marks = _store_marks(dispatch)
    with dispatch.lock:
        snapshot = board_snapshot(dispatch.board, now, marks.flagged, marks.released)
    if len(snapshot.studies) < MIN_BACKLOG:
        return None
    unplaceable = snapshot.unplaceable()
    if unplaceable:
        logger.warning(
            "re-plan: %d studies nobody on shift may read, left with the fallback pool: %s",
            len(unplaceable),
            ", ".join(unplaceable),
        )
    result = replanner(
        snapshot.studies,
        snapshot.readers,
        snapshot.plan,
        now,
        dispatch.policy,
        settings=settings,
        pinned=snapshot.pinned,
        barred=snapshot.barred,
    )
    moved: dict[str, str] = {}
    before = after = result.input_objective
    dropped: tuple[str, ...] = ()
    if result.improved:  # judge drops any move that no longer applies
        moved, before, after, dropped = _apply(dispatch, now, result.moves, marks)
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
    dispatch: DispatchService, now: datetime, moves: Sequence[Move], marks: StoreMarks
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
        before = _judge(dispatch, now, marks, ()).before.total
        while pending:
            verdict = _judge(dispatch, now, marks, pending)
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
            after = _judge(dispatch, now, marks, ()).before.total + penalty
    return moved, before, after, tuple(dropped)


def _judge(
    dispatch: DispatchService, now: datetime, marks: StoreMarks, moves: Sequence[Move]
) -> Verdict:
    """``moves`` judged on the board as it is (hold the dispatch lock)."""
    snapshot = board_snapshot(dispatch.board, now, marks.flagged, marks.released)
    return judge(
        snapshot.studies,
        snapshot.readers,
        snapshot.plan,
        now,
        dispatch.policy,
        moves=moves,
        pinned=snapshot.pinned,
        barred=snapshot.barred,
    )


def _store_marks(dispatch: DispatchService) -> StoreMarks:
    """The fallback flags, pins and releasers of the assigned studies (`store_marks`)."""
    with dispatch.uow_factory() as uow:
        return store_marks(uow.studies.by_state(StudyState.ASSIGNED))
