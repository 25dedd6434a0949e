"""Applying a re-plan's moves to the live board: the decisions `replan_queues` only stores.

Each test plays the service's part by hand: it applies each step the core gives to the
board (or refuses it, as the store does when another process claimed the study) and
records the answer.
"""

from __future__ import annotations

from garde.dispatch.explanation import PlanCost
from garde.dispatch.model import SlaPolicy
from garde.dispatch.optimizer import (
    MIN_BACKLOG,
    Application,
    CostWeights,
    Move,
    ReplanResult,
    StoreMarks,
    board_snapshot,
    judge_board,
    worth_replanning,
)
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, study

POLICY = SlaPolicy()
NOW = at(0)
NO_MARKS = StoreMarks()


def _result(*moves: Move, improved: bool = True) -> ReplanResult:
    return ReplanResult(
        plan={},
        moves=moves,
        objective=1 if improved else 5,
        input_objective=5,
        optimal=False,
        status="FEASIBLE",
        wall_s=0.0,
        cost=PlanCost(0, 0, 0, 0),
    )


def _crowded():
    """Three urgent studies, each due in 30 min, queued with a; b is idle."""
    board = board_with(rad("a"), rad("b"))
    studies = [study(minutes=30, due=30) for _ in range(3)]
    for s in studies:
        board.assign(s, "a", NOW)
    return board, [s.uid for s in studies]


def _run(application: Application, board, refuse: frozenset[str] = frozenset()) -> list[str]:
    """Apply every step as the service does, refusing those in ``refuse``; the UIDs
    of the steps given, in order."""
    given = []
    while (step := application.next_step(board)) is not None:
        given.append(step.move.study_uid)
        taken = step.move.study_uid not in refuse
        if taken:
            board.reassign(step.move.study_uid, step.move.to_radiologist, NOW)
        application.record(step, applied=taken)
    return given


def test_too_few_queued_studies_are_not_worth_a_re_plan() -> None:
    board, _ = _crowded()
    assert worth_replanning(board_snapshot(board, NOW))
    lone = board_with(rad("a"))
    lone.assign(study(), "a", NOW)
    assert MIN_BACKLOG == 2
    assert not worth_replanning(board_snapshot(lone, NOW))


def test_a_result_that_beats_nothing_is_not_applied_and_keeps_the_solver_figure() -> None:
    board, uids = _crowded()
    application = Application(
        _result(Move(uids[1], "a", "b", 0), improved=False), board, NOW, POLICY, NO_MARKS
    )
    assert _run(application, board) == []
    applied = application.outcome(board)
    assert (applied.moved, applied.before, applied.after) == ({}, 5, 5)
    assert (applied.dropped, applied.kept) == ((), None)
    assert board.owner(uids[1]) == "a"


def test_moves_that_beat_the_live_plan_are_applied_with_their_explanation() -> None:
    board, uids = _crowded()
    moves = (Move(uids[1], "a", "b", 0), Move(uids[2], "a", "b", 1))
    live = judge_board(board, NOW, POLICY, NO_MARKS, moves)
    application = Application(_result(*moves), board, NOW, POLICY, NO_MARKS)
    step = application.next_step(board)
    assert step is not None
    assert step.move == moves[0]
    assert step.decision.radiologist_id == "b"
    assert not step.decision.fallback
    assert step.decision.explanation == live.explanations[uids[1]]
    assert step.detail == {"objective": live.after.total, "input": live.before.total}
    board.reassign(uids[1], "b", NOW)
    application.record(step, applied=True)
    assert _run(application, board) == [uids[2]]  # the rest of the batch, not judged again
    applied = application.outcome(board)
    assert applied.moved == {uids[1]: "b", uids[2]: "b"}
    assert applied.before == live.before.total
    penalty = 2 * CostWeights().move_penalty
    assert applied.after == judge_board(board, NOW, POLICY, NO_MARKS, ()).before.total + penalty
    assert applied.after < applied.before
    assert (applied.dropped, applied.kept) == ((), None)


def test_moves_that_no_longer_beat_the_plan_are_kept_out() -> None:
    board, uids = _crowded()
    move = Move(uids[0], "a", "b", 0)
    board.reassign(uids[1], "b", NOW)  # the board changed while the solver ran
    board.reassign(uids[2], "b", NOW)
    application = Application(_result(move), board, NOW, POLICY, NO_MARKS)
    assert _run(application, board) == []
    applied = application.outcome(board)
    assert applied.moved == {}
    assert applied.before == applied.after
    assert applied.kept is not None
    assert applied.kept.moves == (move,)
    assert applied.kept.after.total >= applied.kept.before.total
    assert board.owner(uids[0]) == "a"


def test_a_move_that_no_longer_applies_is_dropped_and_the_rest_applied() -> None:
    board, uids = _crowded()
    board.start(uids[0], NOW)  # started meanwhile: its move no longer applies
    moves = (Move(uids[0], "a", "b", 0), Move(uids[2], "a", "b", 0))
    application = Application(_result(*moves), board, NOW, POLICY, NO_MARKS)
    assert _run(application, board) == [uids[2]]
    applied = application.outcome(board)
    assert applied.moved == {uids[2]: "b"}
    assert applied.dropped == (uids[0],)


def test_a_refused_move_ends_its_batch_and_the_rest_is_judged_again() -> None:
    board, uids = _crowded()
    moves = (Move(uids[1], "a", "b", 0), Move(uids[2], "a", "b", 1))
    application = Application(_result(*moves), board, NOW, POLICY, NO_MARKS)
    assert _run(application, board, refuse=frozenset({uids[1]})) == [uids[1], uids[2]]
    applied = application.outcome(board)
    assert applied.moved == {uids[2]: "b"}
    assert applied.dropped == (uids[1],)
    assert applied.kept is None


def test_a_refusal_that_leaves_nothing_to_apply_ends_the_run() -> None:
    board, uids = _crowded()
    application = Application(_result(Move(uids[1], "a", "b", 0)), board, NOW, POLICY, NO_MARKS)
    assert _run(application, board, refuse=frozenset({uids[1]})) == [uids[1]]
    applied = application.outcome(board)
    assert applied.moved == {}
    assert applied.dropped == (uids[1],)
    assert applied.before == applied.after


def test_a_study_is_never_moved_back_to_who_released_it() -> None:
    board, uids = _crowded()
    marks = StoreMarks(released={uids[1]: "b"})
    moves = (Move(uids[1], "a", "b", 0), Move(uids[2], "a", "b", 1))
    application = Application(_result(*moves), board, NOW, POLICY, marks)
    assert _run(application, board) == [uids[2]]
    assert application.outcome(board).dropped == (uids[1],)
