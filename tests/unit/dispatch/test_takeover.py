"""Taking a study one was not routed (`garde.dispatch.takeover`): claims and pulls, pure."""

from dataclasses import dataclass
from datetime import timedelta

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState
from garde.dispatch.takeover import (
    Verdict,
    already_theirs,
    claim_event,
    pinned_to_another,
    pull_applies,
    takeover,
)
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study


@dataclass(frozen=True)
class Place:
    """The store's facts of a study (a `StudyRecord` has these and more)."""

    state: StudyState = StudyState.ASSIGNED
    assignee: str | None = "b"
    released_by: str | None = None
    pinned_by: str | None = None
    fallback: bool = False
    site_id: str = "h1"
    skills: frozenset[str] = frozenset()


def test_a_claim_assigns_a_pending_study_and_reassigns_a_queued_one():
    assert claim_event(StudyState.PENDING) is StudyEvent.ASSIGNED
    assert claim_event(StudyState.ASSIGNED) is StudyEvent.REASSIGNED


def test_ones_own_queued_study_is_not_claimed_again_and_a_pin_holds():
    assert already_theirs(Place(assignee="a"), "a")
    assert not already_theirs(Place(assignee="a", state=StudyState.IN_PROGRESS), "a")
    assert pinned_to_another(Place(pinned_by="op"), "a")
    assert not pinned_to_another(Place(pinned_by="op", assignee="a"), "a")
    assert not pinned_to_another(Place(pinned_by=None), "a")


def test_a_queued_study_is_taken_only_by_someone_who_reads_it_less_late():
    board = board_with(rad("a"), rad("b"))
    ahead = [study(minutes=60, due=30) for _ in range(3)]
    late = study(minutes=20, due=90)
    for s in [*ahead, late]:
        board.assign(s, "b", at(0))
    found = takeover(late, board, "b", "a", at(0))
    assert found.verdict is Verdict.LESS_LATE
    assert found.allowed
    assert found.claimer_late < found.holder_late
    # The first of b's queue: b reads it as soon as a would, so a may not take it.
    first = takeover(ahead[0], board, "b", "a", at(0))
    assert (first.verdict, first.allowed) == (Verdict.NOT_LESS_LATE, False)
    assert first.holder_late == first.claimer_late == timedelta(minutes=30)


def test_a_holder_off_shift_keeps_nothing_and_the_unknown_cannot_be_predicted():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a"), shift("b", 0, 30)])
    s = study()
    board.assign(s, "b", at(0))
    assert takeover(s, board, "b", "a", at(31)).verdict is Verdict.HOLDER_OFF_SHIFT
    assert takeover(s, board, "b", "a", at(31)).allowed
    assert takeover(None, board, "b", "a", at(0)).verdict is Verdict.UNPREDICTABLE
    assert takeover(study(), board, "b", "a", at(0)).verdict is Verdict.UNPREDICTABLE
    assert takeover(s, board, "b", "z", at(0)).verdict is Verdict.UNPREDICTABLE


def test_a_pull_stands_only_if_the_store_still_has_it_where_the_board_said():
    reader = rad("a", skills="body", sites="h1")
    assert pull_applies(Place(), reader, "b")
    assert not pull_applies(Place(assignee="c"), reader, "b")  # moved meanwhile
    assert not pull_applies(Place(state=StudyState.IN_PROGRESS), reader, "b")
    assert not pull_applies(Place(site_id="h2"), reader, "b")  # no credential
    assert not pull_applies(Place(skills=frozenset({"neuro"})), reader, "b")
    assert not pull_applies(Place(released_by="a"), reader, "b")
    assert not pull_applies(Place(pinned_by="op"), reader, "b")
