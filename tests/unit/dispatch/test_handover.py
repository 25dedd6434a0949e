"""Which queued studies a handover or a reload hands on, and whether a move happens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.handover import handed_over, moves_to, no_longer_readable
from garde.dispatch.model import SlaPolicy, Study
from garde.dispatch.router import route
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study

if TYPE_CHECKING:
    from garde.dispatch.board import Board


def _board() -> tuple[Board, Study, Study, Study]:
    board = board_with(
        rad("a"),
        rad("b", sites="h2"),
        rad("c"),
        shifts=[shift("a", 0, 60), shift("b", 0, 600), shift("c", 0, 600)],
    )
    first, second, third = study(site="h1"), study(site="h1", arrived=1), study(site="h2")
    board.assign(first, "a", at(0))
    board.assign(second, "a", at(0))
    board.assign(third, "b", at(0))
    return board, first, second, third


def test_the_queues_of_readers_off_shift_are_handed_over_in_order() -> None:
    board, first, second, _ = _board()
    assert handed_over(board, at(30)) == []  # everyone still on shift
    assert handed_over(board, at(90)) == [("a", first), ("a", second)]


def test_a_study_being_read_is_not_handed_over() -> None:
    board, first, second, _ = _board()
    board.start(first.uid, at(10))
    assert handed_over(board, at(90)) == [("a", second)]


def test_what_an_on_shift_reader_may_no_longer_read_is_routed_again() -> None:
    board, _, _, third = _board()
    assert no_longer_readable(board, at(30)) == []
    board.set_roster(
        [rad("a"), rad("b", sites="h3"), rad("c")],
        [shift("a", 0, 60), shift("b", 0, 600), shift("c", 0, 600)],
    )
    assert no_longer_readable(board, at(30)) == [("b", third)]


def test_a_move_needs_someone_to_move_to() -> None:
    board = board_with(rad("a"))
    decision = route(study(), board, SlaPolicy(), at(0))
    assert moves_to(decision) == "a"
    assert moves_to(None) is None
    nobody = route(study(site="h9"), board_with(rad("a")), SlaPolicy(), at(0))
    assert moves_to(nobody) is nobody.radiologist_id
