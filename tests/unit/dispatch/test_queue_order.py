"""One order for the queue, the take, late binding and the prediction (`Priority.queue_rank`)."""

from __future__ import annotations

from garde.dispatch.latebinding import next_pull
from garde.dispatch.model import Priority
from garde.dispatch.routing import GARDE

from .dispatch_factories import at, board_with, rad, study


def test_an_urgent_study_due_first_is_read_before_an_emergency_with_slack() -> None:
    # One reader, 15-minute reads: the urgent study is due at 20, the emergency at 60.
    # Emergency first would read the urgent one at 30, past its deadline; the merged
    # order reads both in time.
    board = board_with(rad("a"))
    emergency = study("e", Priority.EMERGENCY, arrived=0, due=60)
    urgent = study("u", Priority.URGENT, arrived=0, due=20)
    stroke = study("s", Priority.STROKE, arrived=0, due=70)
    routine = study("r", Priority.ROUTINE, arrived=0, due=10)
    for s in (routine, emergency, urgent, stroke):
        board.assign(s, "a", at(0))
    assert [s.uid for s in board.queue("a")] == ["s", "u", "e", "r"]
    taken = sorted([routine, emergency, urgent, stroke], key=GARDE.take_order)
    assert [s.uid for s in taken] == ["s", "u", "e", "r"]
    pull = next_pull("a", board, at(0))
    assert pull is not None
    assert pull.study.uid == "s"
    # The router's prediction agrees with the order: the emergency starts after the
    # stroke and the urgent study.
    assert board.predicted_finish("e", at(0)) == at(45)


def test_emergency_still_goes_first_when_it_is_due_first() -> None:
    board = board_with(rad("a"))
    urgent = study("u", Priority.URGENT, arrived=0, due=50)
    emergency = study("e", Priority.EMERGENCY, arrived=5, due=40)
    for s in (urgent, emergency):
        board.assign(s, "a", at(5))
    assert [s.uid for s in board.queue("a")] == ["e", "u"]
    assert min([urgent, emergency], key=GARDE.take_order) is emergency
