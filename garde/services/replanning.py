"""Periodic re-plan: CP-SAT over every unstarted study of the radiologists on shift.

The board is read under the dispatch lock, the solver runs without it (so sweeps and
the SLA watch are not held up for its time limit), and the moves are applied under it
again. What is applied is the core's decision (`garde.dispatch.optimizer.Application`:
moves judged against the board as it is then, applied only if they make the live plan
strictly cheaper, judged again after a move the store refuses); this service loads the
store's marks, calls the solver and the core, stores each move (with its explanation)
and logs.

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
    Application,
    Applied,
    SolverSettings,
    StoreMarks,
    board_snapshot,
    replan,
    store_marks,
    worth_replanning,
)
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.optimizer import ReplanResult
    from garde.services.dispatcher import DispatchService
    from garde.services.solver_process import Replanner

logger = logging.getLogger(__name__)


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
    if not worth_replanning(snapshot):
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
    applied = _apply(dispatch, now, result, marks)
    logger.info(
        "re-plan of %d studies: %s, solver cost %d -> %d; applied %d moves, plan cost "
        "%d -> %d (%d moves dropped)",
        len(snapshot.studies),
        result.status,
        result.input_objective,
        result.objective,
        len(applied.moved),
        applied.before,
        applied.after,
        len(applied.dropped),
    )
    return ReplanOutcome(
        studies=len(snapshot.studies),
        status=result.status,
        objective=result.objective,
        input_objective=result.input_objective,
        moved=applied.moved,
        applied_before=applied.before,
        applied_after=applied.after,
        dropped=applied.dropped,
        unplaceable=unplaceable,
    )


def _apply(
    dispatch: DispatchService, now: datetime, result: ReplanResult, marks: StoreMarks
) -> Applied:
    """Store each move the core decides to apply (`Application`), under one hold of the
    dispatch lock so that the board the moves are judged on is the board they change."""
    with dispatch.lock:
        application = Application(result, dispatch.board, now, dispatch.policy, marks)
        while (step := application.next_step(dispatch.board)) is not None:
            stored = dispatch.reassign(
                step.move.study_uid,
                step.move.to_radiologist,
                now,
                by=AssignedBy.OPTIMIZER,
                actor="optimizer",
                action="replan",
                decision=step.decision,
                detail=step.detail,
            )
            application.record(step, applied=stored)
        applied = application.outcome(dispatch.board)
    if applied.kept is not None:
        logger.info(
            "re-plan: %d moves no longer beat the plan (%d -> %d); kept it",
            len(applied.kept.moves),
            applied.kept.before.total,
            applied.kept.after.total,
        )
    return applied


def _store_marks(dispatch: DispatchService) -> StoreMarks:
    """The fallback flags, pins and releasers of the assigned studies (`store_marks`)."""
    with dispatch.uow_factory() as uow:
        return store_marks(uow.studies.by_state(StudyState.ASSIGNED))
