"""The board as the re-planner takes it (shared by the re-plan job and the simulator)."""

from __future__ import annotations

from garde.dispatch.board import queue_key
from garde.dispatch.model import Priority, Study
from garde.dispatch.optimizer import board_snapshot, reader_capacity
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study


def _in_queue_order(*studies: Study) -> list[str]:
    return [s.uid for s in sorted(studies, key=queue_key)]


def test_reader_capacity_narrows_sites_to_the_shift_and_counts_only_what_was_read() -> None:
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", sites="h1"), shift("b")])
    done = study(minutes=30)
    board.assign(done, "a", at(0))
    board.start(done.uid, at(0))
    board.finish(done.uid, at(30))
    board.assign(study(minutes=20, arrived=30), "a", at(30))  # queued: not "read"
    a = reader_capacity(board, "a", at(40))
    assert a.sites == frozenset({"h1"})  # credentialed for h2 too, not on this shift
    assert a.read_minutes == 30
    assert a.free_at == at(40)
    assert a.shift_end == at(14 * 60)
    assert reader_capacity(board, "b", at(40)).sites is None  # every credentialed site


def test_snapshot_pins_what_the_re_planner_may_not_move_and_bars_releasers() -> None:
    board = board_with(
        rad("a", sites="h1 h2"),
        rad("b", sites="h1"),
        rad("off"),
        shifts=[shift("a", sites="h1"), shift("b"), shift("off", start=600)],
    )
    flagged = study(site="h1")
    elsewhere = study(site="h2")  # a's shift no longer covers h2; nobody on shift may
    free = study(site="h1")
    released = study(site="h1")
    for s in (flagged, elsewhere, free):
        board.assign(s, "a", at(0))
    board.assign(released, "b", at(0))
    snapshot = board_snapshot(
        board, at(10), frozenset({flagged.uid}), {released.uid: "a", "gone": "b"}
    )
    assert {r.id for r in snapshot.readers} == {"a", "b"}  # on shift only
    assert snapshot.plan == {"a": _in_queue_order(flagged, elsewhere, free), "b": [released.uid]}
    assert snapshot.pinned == {flagged.uid: "a", elsewhere.uid: "a"}
    assert snapshot.barred == {released.uid: "a"}  # only studies on the board
    assert snapshot.unplaceable() == (elsewhere.uid,)


def test_an_urgent_study_is_planned_in_priority_order() -> None:
    board = board_with(rad("a"))
    routine = study(priority=Priority.ROUTINE)
    urgent = study(priority=Priority.URGENT)
    board.assign(routine, "a", at(0))
    board.assign(urgent, "a", at(0))
    assert board_snapshot(board, at(1)).plan == {"a": [urgent.uid, routine.uid]}


def test_the_store_marks_what_the_replan_leaves_and_whom_it_never_gives_back():
    from garde.dispatch.optimizer import store_marks
    from tests.unit.dispatch.dispatch_factories import Place

    marks = store_marks(
        [
            Place(study_uid="1.1", fallback=True),
            Place(study_uid="1.2", pinned_by="op"),
            Place(study_uid="1.3", released_by="a"),
            Place(study_uid="1.4"),
        ]
    )
    assert marks.flagged == {"1.1", "1.2"}
    assert marks.released == {"1.3": "a"}
