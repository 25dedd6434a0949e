"""Taking a study one was not routed (`garde.dispatch.takeover`): claims and pulls, pure."""

from dataclasses import replace
from datetime import timedelta

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState
from garde.dispatch.takeover import (
    Verdict,
    already_theirs,
    as_fallback,
    claim_event,
    may_take,
    pinned_to_another,
    pull_applies,
    takeover,
)
from tests.unit.dispatch.dispatch_factories import Place, at, board_with, rad, shift, study


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


def test_next_takes_ones_own_queue_and_free_pending_work_one_did_not_release():
    reader = rad("a", skills="body", sites="h1")
    assert may_take(Place(assignee="a"), reader)
    assert not may_take(Place(assignee="b"), reader)  # a colleague's: late binding's call
    pending = Place(state=StudyState.PENDING, assignee=None)
    assert may_take(pending, reader)
    assert not may_take(Place(state=StudyState.PENDING, assignee=None, released_by="a"), reader)
    assert not may_take(Place(state=StudyState.PENDING, assignee=None, priority=None), reader)
    assert not may_take(Place(state=StudyState.PENDING, assignee=None, site_id="h2"), reader)
    assert not may_take(Place(state=StudyState.IN_PROGRESS, assignee="a"), reader)
    # Flagged for the fallback pool: a member reads it without the skill, others do not.
    flagged = Place(state=StudyState.PENDING, assignee=None, skills=frozenset({"neuro"}))
    assert not may_take(replace(flagged, fallback=True), reader)
    assert may_take(replace(flagged, fallback=True), replace(reader, fallback=True))


def test_the_fallback_flag_follows_who_holds_it():
    flagged = Place(fallback=True, skills=frozenset({"neuro"}))
    assert as_fallback(rad("p", skills="body", fallback=True), flagged)
    assert not as_fallback(rad("n", skills="neuro"), flagged)  # eligible: not as the pool
    assert not as_fallback(rad("p", skills="body", fallback=True), Place(fallback=False))
