"""What a board holds of the stored studies: queued or being read, with a reader."""

from __future__ import annotations

import pytest

from garde.dispatch.holding import holds, may_move, reading_since, waits_for_a_reader
from garde.dispatch.model import StudyState
from tests.unit.dispatch.dispatch_factories import at


@pytest.mark.parametrize("state", list(StudyState))
def test_a_board_holds_what_a_reader_has_queued_or_is_reading(state: StudyState) -> None:
    held = state in {StudyState.ASSIGNED, StudyState.IN_PROGRESS}
    assert holds(state, "r1") is held
    assert holds(state, None) is False  # nobody's: the coverage sweep's, not a queue's


def test_a_study_shows_started_from_when_its_reading_began() -> None:
    assert reading_since(StudyState.IN_PROGRESS, at(5)) == at(5)
    assert reading_since(StudyState.IN_PROGRESS, None) is None
    assert reading_since(StudyState.ASSIGNED, at(5)) is None  # released, then queued again
    assert reading_since(StudyState.DONE, at(5)) is None


@pytest.mark.parametrize("state", list(StudyState))
def test_only_a_dispatched_study_nobody_holds_waits_for_a_reader(state: StudyState) -> None:
    assert waits_for_a_reader(state, None) is (state is StudyState.PENDING)
    assert waits_for_a_reader(state, "r1") is False


def test_a_routers_move_takes_only_a_queued_study_to_someone_else() -> None:
    assert may_move("r1", "r2", started=False)
    assert not may_move("r1", "r2", started=True)  # a read in hand stays with its reader
    assert not may_move("r1", "r1", started=False)  # already there
    assert not may_move(None, "r2", started=False)  # not on this board
