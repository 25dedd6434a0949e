"""Periodic re-plan: CP-SAT over every unstarted study of the radiologists on shift.

The board is read under the dispatch lock, the solver runs without it (so sweeps and
the SLA watch are not held up for its time limit), and the moves are applied under it
again, each one only if the study is still queued with the reader the plan moved it
from. Only changes of reader are applied: each queue keeps its own order (priority,
deadline, arrival). The optimizer never returns a plan worse than the current one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.optimizer import ReaderCapacity, SolverSettings, replan
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.services.dispatcher import DispatchService

logger = logging.getLogger(__name__)

MIN_BACKLOG = 2
"""Fewer queued studies than this: nothing to re-plan."""


@dataclass(frozen=True, slots=True)
class ReplanOutcome:
    """What one re-plan run did."""

    studies: int
    status: str
    objective: int
    input_objective: int
    moved: dict[str, str]


def replan_queues(
    dispatch: DispatchService, now: datetime, settings: SolverSettings
) -> ReplanOutcome | None:
    """Re-plan the unstarted queues of the radiologists on shift; None if too few studies."""
    with dispatch.lock:
        board = dispatch.board
        on_shift = board.on_shift(now)
        studies = [s for rid in on_shift for s in board.queue(rid)]
        if len(studies) < MIN_BACKLOG:
            return None
        readers = [_capacity(board, rid, now) for rid in on_shift]
        current = {rid: [s.uid for s in board.queue(rid)] for rid in on_shift}
    result = replan(studies, readers, current, now, dispatch.policy, settings=settings)
    moved: dict[str, str] = {}
    if result.improved:
        for move in result.moves:
            if move.from_radiologist is None or move.from_radiologist == move.to_radiologist:
                continue
            with dispatch.lock:
                if dispatch.board.owner(move.study_uid) != move.from_radiologist:
                    continue  # moved or started since the snapshot
                if dispatch.reassign(
                    move.study_uid,
                    move.to_radiologist,
                    now,
                    by=AssignedBy.OPTIMIZER,
                    actor="optimizer",
                    action="replan",
                    detail={"objective": result.objective, "input": result.input_objective},
                ):
                    moved[move.study_uid] = move.to_radiologist
    logger.info(
        "re-plan of %d studies: %s, cost %d -> %d, %d moved",
        len(studies),
        result.status,
        result.input_objective,
        result.objective,
        len(moved),
    )
    return ReplanOutcome(
        len(studies), result.status, result.objective, result.input_objective, moved
    )


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
