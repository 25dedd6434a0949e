"""Applying a re-plan's moves to the live board: which to apply, when to stop, what to keep.

The solver works on a snapshot taken before it ran; its moves are applied to the board
as it is afterwards. `Application` holds the rules, the service only applies each `Step`
it is given (a conditional store move) and reports whether the store took it:

- nothing is re-planned with fewer than `MIN_BACKLOG` queued studies (`worth_replanning`);
- a solver result that does not beat its input plan is not applied at all;
- the pending moves are judged as one batch against the live board (`judge`): moves that
  no longer apply are dropped, and the batch is applied only if it makes the live plan
  strictly cheaper, else the plan is kept as it is;
- a move the store refuses (another process claimed the study) is dropped and ends the
  batch; the moves after it are judged again against the board as it then stands;
- the plan's cost after applying counts the move penalty of the moves it took.

Pure and in memory: the board is passed in at each call because the caller's moves
change it between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.optimizer.plan import CostWeights
from garde.dispatch.optimizer.snapshot import StoreMarks, board_snapshot
from garde.dispatch.optimizer.verdict import judge
from garde.dispatch.router import Decision

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import SlaPolicy
    from garde.dispatch.optimizer.cpsat import Move, ReplanResult
    from garde.dispatch.optimizer.snapshot import Snapshot
    from garde.dispatch.optimizer.verdict import Verdict

MIN_BACKLOG = 2
"""Fewer queued studies than this: nothing to re-plan."""


def worth_replanning(snapshot: Snapshot) -> bool:
    """Whether the queues on shift hold enough studies for a re-plan to change anything."""
    return len(snapshot.studies) >= MIN_BACKLOG


def judge_board(
    board: Board,
    now: datetime,
    policy: SlaPolicy,
    marks: StoreMarks,
    moves: Sequence[Move],
) -> Verdict:
    """``moves`` judged against the board's queues on shift as they are now."""
    snapshot = board_snapshot(board, now, marks.flagged, marks.released)
    return judge(
        snapshot.studies,
        snapshot.readers,
        snapshot.plan,
        now,
        policy,
        moves=moves,
        pinned=snapshot.pinned,
        barred=snapshot.barred,
    )


@dataclass(frozen=True, slots=True)
class Step:
    """One move to apply now: the store's reassignment, with its decision and the
    plan's costs (before and after the batch) for the audit."""

    move: Move
    decision: Decision
    detail: dict[str, int]


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a re-plan did: the studies moved (UID -> new reader), the live
    plan's cost before and after (the latter with the moves' penalty; equal when nothing
    moved), the UIDs of the moves dropped, and the verdict of a batch that no longer
    beat the plan (None if none was kept)."""

    moved: dict[str, str]
    before: int
    after: int
    dropped: tuple[str, ...]
    kept: Verdict | None


class Application:
    """Applying one re-plan result to the live board, one `Step` at a time.

    The caller loops ``while (step := application.next_step(board)) is not None`` and
    tells `record` whether the store took each step, then reads `outcome`. It holds
    the dispatch lock for the whole loop so the board judged is the board changed.
    """

    def __init__(
        self,
        result: ReplanResult,
        board: Board,
        now: datetime,
        policy: SlaPolicy,
        marks: StoreMarks,
    ) -> None:
        self._now = now
        self._policy = policy
        self._marks = marks
        self._pending: tuple[Move, ...] = result.moves if result.improved else ()
        self._batch: list[Move] = []  # the moves of ``_verdict`` still to apply
        self._verdict: Verdict | None = None
        self._moved: dict[str, str] = {}
        self._dropped: list[str] = []
        self._kept: Verdict | None = None
        # Not improved: the solver's own figure, the live plan is not scored at all.
        self._before = (
            self._judge(board, ()).before.total if result.improved else result.input_objective
        )

    def next_step(self, board: Board) -> Step | None:
        """The next move to apply, or None when there is nothing more to apply."""
        verdict = self._verdict
        if verdict is None or not self._batch:
            if not self._pending:
                return None
            verdict = self._judge(board, self._pending)
            self._dropped.extend(verdict.dropped)
            self._pending = ()
            if not verdict.better:
                self._kept = verdict
                return None
            self._verdict = verdict
            self._batch = list(verdict.moves)
        move = self._batch[0]
        return Step(
            move=move,
            decision=Decision(
                study_uid=move.study_uid,
                radiologist_id=move.to_radiologist,
                fallback=False,
                explanation=verdict.explanations[move.study_uid],
            ),
            detail={"objective": verdict.after.total, "input": verdict.before.total},
        )

    def record(self, step: Step, *, applied: bool) -> None:
        """Whether the store applied ``step`` (the one `next_step` gave); a refusal
        drops it and sends the rest of its batch to be judged again."""
        self._batch.remove(step.move)
        if applied:
            self._moved[step.move.study_uid] = step.move.to_radiologist
            return
        self._dropped.append(step.move.study_uid)
        self._pending = tuple(self._batch)
        self._batch = []

    def outcome(self, board: Board) -> Applied:
        """What was applied, with the live plan's cost now (and the moves' penalty)."""
        after = self._before
        if self._moved:
            penalty = CostWeights().move_penalty * len(self._moved)
            after = self._judge(board, ()).before.total + penalty
        return Applied(
            moved=dict(self._moved),
            before=self._before,
            after=after,
            dropped=tuple(self._dropped),
            kept=self._kept,
        )

    def _judge(self, board: Board, moves: Sequence[Move]) -> Verdict:
        return judge_board(board, self._now, self._policy, self._marks, moves)
