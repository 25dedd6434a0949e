"""Late binding (a free reader pulls the most urgent study) and stroke pre-emption."""

from datetime import timedelta

from garde.dispatch.board import Board
from garde.dispatch.explanation import Basis, ExclusionReason
from garde.dispatch.latebinding import (
    Pull,
    next_for,
    next_pull,
    preempt,
    stroke_alert,
    taking_events,
)
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, SlaPolicy, Study, StudyState
from garde.dispatch.router import route
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study

POLICY = SlaPolicy()


def test_free_reader_takes_own_head_when_nothing_more_urgent_waits():
    board = board_with(rad("a"), rad("b"))
    mine = study(priority=Priority.URGENT)
    board.assign(mine, "a", at(0))
    board.assign(study(priority=Priority.ROUTINE), "b", at(0))
    assert next_pull("a", board, at(0)) == Pull(mine, "a")
    assert next_for("a", board, POLICY, at(0)) == mine


def test_pulls_a_more_urgent_study_from_a_busy_colleague():
    board = board_with(rad("a"), rad("b"))
    reading = study(minutes=30)
    board.assign(reading, "b", at(0))
    board.start(reading.uid, at(0))
    emergency = study(priority=Priority.EMERGENCY, minutes=10)
    board.assign(emergency, "b", at(0))  # tentatively b's, but b is busy until 30
    board.assign(study(priority=Priority.ROUTINE), "a", at(0))
    assert next_pull("a", board, at(1)) == Pull(emergency, "b")


def test_does_not_pull_what_the_owner_finishes_sooner():
    board = board_with(rad("a", speed=0.25), rad("b"))
    emergency = study(priority=Priority.EMERGENCY, minutes=10)
    board.assign(emergency, "b", at(0))  # b is idle: done at 10; a would need 40
    assert next_pull("a", board, at(0)) is None


def test_never_pulls_what_the_reader_may_not_read():
    board = board_with(rad("a", skills="body"), rad("b"))
    reading = study(minutes=30)
    board.assign(reading, "b", at(0))
    board.start(reading.uid, at(0))
    board.assign(study(priority=Priority.STROKE, skills="neuro"), "b", at(0))
    readable = study(priority=Priority.URGENT, skills="body")
    board.assign(readable, "b", at(0))
    assert next_pull("a", board, at(1)) == Pull(readable, "b")
    board.remove(readable.uid)
    assert next_pull("a", board, at(1)) is None  # only a neuro stroke waits


def test_off_shift_or_empty_handed_reader_gets_nothing():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", 0, 60), shift("b")])
    board.assign(study(), "b", at(0))
    assert next_for("a", board, POLICY, at(90)) is None
    assert next_for("a", board, POLICY, at(10)) is None  # b is idle and takes it himself


def test_stroke_alert_when_every_eligible_reader_is_busy():
    board = board_with(rad("a"), rad("b"), rad("c", skills="body"))
    urgent, routine = (
        study(priority=Priority.URGENT, minutes=20),
        study(priority=Priority.ROUTINE, minutes=20),
    )
    board.assign(urgent, "a", at(0))
    board.assign(routine, "b", at(0))
    board.start(urgent.uid, at(0))
    board.start(routine.uid, at(0))
    stroke = study(priority=Priority.STROKE, skills="neuro", arrived=5)
    alert = stroke_alert(stroke, board, POLICY, at(5))
    assert alert is not None
    # c is idle but lacks neuro; b's read (routine) is less urgent than a's.
    assert (alert.radiologist_id, alert.interrupted_uid) == ("b", routine.uid)
    assert alert.wait_without == timedelta(minutes=15)


def test_a_preemption_is_explained_with_the_real_candidates_and_the_interrupted_read():
    board = board_with(rad("a"), rad("b"), rad("c"), rad("d", skills="body"))
    reads = {}
    # a's routine read is long: the router alone would queue the stroke behind b or c.
    for r, priority, minutes in (
        ("a", Priority.ROUTINE, 60),
        ("b", Priority.URGENT, 20),
        ("c", Priority.URGENT, 20),
    ):
        reads[r] = study(priority=priority, minutes=minutes)
        board.assign(reads[r], r, at(0))
        board.start(reads[r].uid, at(0))
    stroke = study(priority=Priority.STROKE, skills="neuro", arrived=5)
    decision, alert = preempt(stroke, route(stroke, board, POLICY, at(5)), board, POLICY, at(5))
    assert alert is not None
    why = decision.explanation
    assert (decision.radiologist_id, why.chosen, why.basis) == ("a", "a", Basis.PREEMPT)
    assert why.interrupts == reads["a"].uid
    # Not "1 eligible, excluded by the caller: b, c": b and c were eligible, d lacks neuro.
    assert why.eligible == 3
    assert route(stroke, board, POLICY, at(5)).radiologist_id != "a"
    assert [c.radiologist_id for c in why.candidates] == ["a", "b", "c"]
    assert why.excluded_reason("b") is None
    assert why.excluded_reason("d") is ExclusionReason.MISSING_SKILL
    assert f"a is interrupted in their read of {reads['a'].uid}" in why.render_text()


def test_stroke_alert_prefers_the_most_slack_and_spares_stroke_reads():
    board = board_with(rad("a"), rad("b"), rad("c"))
    tight = study(priority=Priority.URGENT, minutes=20, due=30)
    loose = study(priority=Priority.URGENT, minutes=20, due=200)
    other_stroke = study(priority=Priority.STROKE, minutes=20)
    for s, r in ((tight, "a"), (loose, "b"), (other_stroke, "c")):
        board.assign(s, r, at(0))
        board.start(s.uid, at(0))
    alert = stroke_alert(study(priority=Priority.STROKE), board, POLICY, at(1))
    assert alert is not None
    assert alert.radiologist_id == "b"
    # The same with the readers' names swapped: the order of the scan does not matter.
    swapped = board_with(rad("a"), rad("b"))
    for s, r in (
        (study(priority=Priority.URGENT, minutes=20, due=200), "a"),
        (study(priority=Priority.URGENT, minutes=20, due=30), "b"),
    ):
        swapped.assign(s, r, at(0))
        swapped.start(s.uid, at(0))
    alert = stroke_alert(study(priority=Priority.STROKE), swapped, POLICY, at(1))
    assert alert is not None
    assert alert.radiologist_id == "a"


def test_no_stroke_alert_when_someone_is_free_or_for_other_priorities():
    board = board_with(rad("a"), rad("b"))
    s = study(minutes=20)
    board.assign(s, "a", at(0))
    board.start(s.uid, at(0))
    stroke = study(priority=Priority.STROKE)
    assert stroke_alert(stroke, board, POLICY, at(1)) is None  # b is free
    assert stroke_alert(study(priority=Priority.EMERGENCY), board, POLICY, at(1)) is None
    # Only stroke reads in hand: nobody to interrupt.
    only = board_with(rad("a"))
    st = study(priority=Priority.STROKE, minutes=20)
    only.assign(st, "a", at(0))
    only.start(st.uid, at(0))
    assert stroke_alert(stroke, only, POLICY, at(1)) is None
    # Nobody eligible at all.
    assert (
        stroke_alert(study(priority=Priority.STROKE, skills="paediatric"), only, POLICY, at(1))
        is None
    )


def test_a_read_past_its_estimate_still_counts_as_busy():
    # Both readers are mid-read; a's read has run past its 10-minute estimate. Before,
    # the board predicted a "free now": no alert, and the stroke waited for a's read.
    board = board_with(rad("a"), rad("b"))
    long_read = study(priority=Priority.URGENT, minutes=10, due=300)
    other = study(priority=Priority.URGENT, minutes=30, due=60)
    for s, r in ((long_read, "a"), (other, "b")):
        board.assign(s, r, at(0))
        board.start(s.uid, at(0))
    alert = stroke_alert(study(priority=Priority.STROKE, arrived=25), board, POLICY, at(25))
    assert alert is not None
    assert (alert.radiologist_id, alert.interrupted_uid) == ("a", long_read.uid)


def test_an_idle_reader_beats_a_faster_one_stuck_in_a_long_read():
    board = board_with(rad("fast", speed=1.25), rad("idle"))
    stuck = study(priority=Priority.URGENT, minutes=30)
    board.assign(stuck, "fast", at(0))
    board.start(stuck.uid, at(0))
    # At 40 min the 24-minute (speed-scaled) read has overrun; predicting it over now
    # made "fast" the soonest finish for a 5-minute stroke, which then waited behind it.
    stroke = study(priority=Priority.STROKE, minutes=5, arrived=40)
    assert route(stroke, board, POLICY, at(40)).radiologist_id == "idle"


def _busy_colleague(left: float, priority: Priority) -> tuple[Board, Study]:
    """a has read 60 minutes tonight and is free at 100; b, in a read that ends ``left``
    minutes later, has ``priority`` work queued (10 minutes)."""
    board = board_with(rad("a"), rad("b"))
    done = study(minutes=60)
    board.assign(done, "a", at(0))
    board.start(done.uid, at(0))
    board.finish(done.uid, at(60))
    in_hand = study(minutes=100 + left - 90)
    board.assign(in_hand, "b", at(90))
    board.start(in_hand.uid, at(90))
    queued = study(priority=priority, minutes=10, arrived=95)
    board.assign(queued, "b", at(95))
    return board, queued


def test_a_reader_with_more_of_the_night_pulls_only_for_a_real_gain():
    # a would finish it at 110 against b's 113: three minutes sooner, but a has read
    # more of the night than b; taking it would send the night to whoever is fastest.
    board, queued = _busy_colleague(3, Priority.URGENT)
    assert next_pull("a", board, at(100)) is None
    # Eight minutes sooner (b done at 118): worth the imbalance.
    board, queued = _busy_colleague(8, Priority.URGENT)
    pull = next_pull("a", board, at(100))
    assert pull == Pull(queued, "b")
    assert (pull.finish_here, pull.finish_there) == (at(110), at(118))
    assert pull.margin == timedelta(minutes=5)
    # Stroke and emergency work: any minute sooner.
    board, queued = _busy_colleague(3, Priority.EMERGENCY)
    pull = next_pull("a", board, at(100))
    assert pull == Pull(queued, "b")
    assert pull.margin == timedelta(0)


def test_next_takes_a_pending_study_by_assigning_it_then_starting_it() -> None:
    assert taking_events(StudyState.PENDING, None, "a") == (
        StudyEvent.ASSIGNED,
        StudyEvent.STARTED,
    )


def test_next_takes_a_colleagues_study_by_reassigning_it_then_starting_it() -> None:
    assert taking_events(StudyState.ASSIGNED, "b", "a") == (
        StudyEvent.REASSIGNED,
        StudyEvent.STARTED,
    )


def test_next_starts_ones_own_study() -> None:
    assert taking_events(StudyState.ASSIGNED, "a", "a") == (StudyEvent.STARTED,)
