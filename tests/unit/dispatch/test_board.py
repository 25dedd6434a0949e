"""Board events, views and their errors."""

from datetime import timedelta

import pytest

from garde.dispatch.board import Board, queue_key
from garde.dispatch.errors import (
    DispatchError,
    DuplicateStudyError,
    IllegalTransition,
    UnknownRadiologistError,
    UnknownStudyError,
)
from garde.dispatch.model import Priority
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study


def test_queue_order_priority_deadline_arrival():
    board = board_with(rad("a"))
    routine = study(priority=Priority.ROUTINE)
    urgent_late = study(priority=Priority.URGENT, arrived=10)
    urgent_early = study(priority=Priority.URGENT, arrived=0)
    stroke = study(priority=Priority.STROKE, arrived=20)
    for s in (routine, urgent_late, urgent_early, stroke):
        board.assign(s, "a", at(20))
    assert board.queue("a") == (stroke, urgent_early, urgent_late, routine)
    assert board.key_of(stroke.uid) == queue_key(stroke)
    assert len(board) == 4
    assert stroke.uid in board
    assert board.studies() == tuple(
        sorted((routine, urgent_late, urgent_early, stroke), key=lambda s: s.uid)
    )


def test_start_finish_lifecycle_and_views():
    board = board_with(rad("a"))
    s = study(minutes=20)
    board.assign(s, "a", at(0))
    assert board.owner(s.uid) == "a"
    assert board.get(s.uid) == s
    assert not board.is_started(s.uid)
    assert board.predicted_finish(s.uid, at(0)) == at(20)
    board.start(s.uid, at(5))
    assert board.is_started(s.uid)
    assert board.queue("a") == ()
    assert board.reading("a") == {s.uid: at(5)}
    assert board.free_at("a", at(6)) == at(25)
    # Overrunning: another third of the 20-minute estimate, however long it has run.
    assert board.free_at("a", at(40)) == at(40) + timedelta(minutes=20 / 3)
    assert board.free_at("a", at(90)) == at(90) + timedelta(minutes=20 / 3)
    # Near its end, the tail holds too: never predicted to end in under a third.
    assert board.free_at("a", at(20)) == at(20) + timedelta(minutes=20 / 3)
    assert board.predicted_finish(s.uid, at(6)) == at(25)
    with pytest.raises(IllegalTransition):
        board.start(s.uid, at(6))
    assert board.finish(s.uid, at(24)) == s
    assert s.uid not in board
    assert board.owner(s.uid) is None
    assert board.get(s.uid) is None
    assert board.finished("a") == ((at(24), 20.0),)
    assert board.night_minutes("a", at(30)) == 20


def test_finish_requires_a_start():
    board = board_with(rad("a"))
    s = study()
    board.assign(s, "a", at(0))
    with pytest.raises(IllegalTransition, match="not started"):
        board.finish(s.uid, at(1))


def test_reads_in_hand_run_one_after_another():
    board = board_with(rad("a"))
    first, second = study(minutes=10), study(minutes=10)
    board.assign(first, "a", at(0))
    board.assign(second, "a", at(0))
    board.start(first.uid, at(0))
    board.start(second.uid, at(2))
    assert board.free_at("a", at(2)) == at(20)
    queued = study(minutes=5)
    board.assign(queued, "a", at(2))
    assert board.predicted_finish(queued.uid, at(2)) == at(25)


def test_errors_name_what_is_wrong():
    board = board_with(rad("a"))
    s = study()
    with pytest.raises(UnknownRadiologistError, match="'zz' is not on the roster") as err:
        board.assign(s, "zz", at(0))
    assert isinstance(err.value, DispatchError)
    assert isinstance(err.value, KeyError)
    board.assign(s, "a", at(0))
    with pytest.raises(DuplicateStudyError):
        board.assign(s, "a", at(0))
    with pytest.raises(UnknownStudyError, match=r"1\.9 is not on the board"):
        board.start("1.9", at(0))
    with pytest.raises(UnknownStudyError):
        board.release("1.9")
    with pytest.raises(UnknownStudyError):
        board.is_started("1.9")
    for view in (board.queue, board.reading, board.finished, board.shifts, board.radiologist):
        with pytest.raises(UnknownRadiologistError):
            view("zz")
    assert str(UnknownStudyError()) == "unknown study"
    assert str(UnknownRadiologistError()) == "unknown radiologist"


def test_release_remove_reassign_hand_back():
    board = board_with(rad("a"), rad("b"))
    s1, s2, s3 = study(patient="p"), study(patient="p"), study()
    for s in (s1, s2, s3):
        board.assign(s, "a", at(0))
    assert board.same_patient(s1) == ("a",)
    board.reassign(s2.uid, "b", at(1))
    assert board.owner(s2.uid) == "b"
    assert board.same_patient(s1) == ("b",)
    board.start(s3.uid, at(1))
    with pytest.raises(IllegalTransition, match="being read"):
        board.reassign(s3.uid, "b", at(2))
    with pytest.raises(UnknownRadiologistError):
        board.reassign(s1.uid, "zz", at(2))
    assert board.hand_back("a") == (s1,)  # the read in hand stays
    assert board.queue("a") == ()
    assert board.release(s3.uid) == s3
    assert board.remove(s2.uid) == s2
    assert board.remove(s2.uid) is None
    assert len(board) == 0
    assert board.same_patient(s1) == ()
    assert board.same_patient(study()) == ()


def test_set_roster_keeps_queues_rescales_speed_and_returns_orphans():
    board = board_with(rad("a"), rad("b"))
    kept, orphan, in_hand = study(minutes=20), study(), study()
    board.assign(kept, "a", at(0))
    board.assign(orphan, "b", at(0))
    board.assign(in_hand, "b", at(0))
    board.start(in_hand.uid, at(0))
    orphans = board.set_roster([rad("a", speed=2.0), rad("c")], [shift("a"), shift("c")])
    assert sorted(s.uid for s in orphans) == sorted([orphan.uid, in_hand.uid])
    assert board.ids == ("a", "c")
    assert board.queue("a") == (kept,)
    assert board.predicted_finish(kept.uid, at(0)) == at(10)
    assert board.night_minutes("a", at(0)) == 20  # nominal minutes, whatever the speed


def test_set_roster_restores_reads_in_hand():
    board = board_with(rad("a"))
    s = study(minutes=10)
    board.assign(s, "a", at(0))
    board.start(s.uid, at(0))
    board.set_roster([rad("a")], [shift("a")])
    assert board.free_at("a", at(1)) == at(10)


def test_shift_boundaries_are_followed_as_time_moves_in_both_directions():
    board = board_with(rad("a"), shifts=[shift("a", 60, 120), shift("a", 200, 300, sites="h2")])
    assert board.on_shift(at(0)) == ()
    assert board.on_shift(at(60)) == ("a",)
    assert board.handover("a", at(60)) == at(120)
    assert board.on_shift(at(150)) == ()
    assert board.on_shift(at(250)) == ("a",)
    assert board.may_read_now("a", study(site="h2"), at(250))
    assert not board.may_read_now("a", study(site="h1"), at(250))
    assert board.on_shift(at(90)) == ("a",)
    assert board.on_shift(at(400)) == ()


def test_add_shift_and_unknown_shift_owner():
    board = board_with(rad("a"), shifts=[])
    assert board.on_shift(at(10)) == ()
    board.add_shift(shift("a", 0, 60))
    assert board.on_shift(at(10)) == ("a",)
    assert board.shifts("a") == (shift("a", 0, 60),)
    with pytest.raises(UnknownRadiologistError):
        board.add_shift(shift("zz"))
    # Shifts of radiologists not on the roster are ignored by set_roster.
    board.set_roster([rad("a")], [shift("a"), shift("ghost")])
    assert board.on_shift(at(10)) == ("a",)


def test_night_workload_restarts_with_a_new_run_of_shifts():
    board = board_with(rad("a"), shifts=[shift("a", 0, 60), shift("a", 600, 700)])
    s = study(minutes=30)
    board.assign(s, "a", at(0))
    board.start(s.uid, at(0))
    board.finish(s.uid, at(30))
    assert board.night_minutes("a", at(40)) == 30
    assert board.night_minutes("a", at(620)) == 0
    assert board.night_minutes("a", at(300)) == 30  # off shift: everything read so far


def test_may_read_now():
    board = board_with(rad("a", skills="neuro", sites="h1"), shifts=[shift("a", 0, 60)])
    assert board.may_read_now("a", None, at(10))
    assert not board.may_read_now("a", None, at(90))
    assert board.may_read_now("a", study(skills="neuro"), at(10))
    assert not board.may_read_now("a", study(skills="body"), at(10))
    assert not board.may_read_now("a", study(skills="paediatric"), at(10))
    assert not board.may_read_now("a", study(site="h9"), at(10))


def test_empty_board_views():
    board = Board()
    assert board.ids == ()
    assert board.radiologists() == ()
    assert board.studies() == ()
    assert board.on_shift(at(0)) == ()


def test_a_large_board_matches_the_reference():
    import numpy as np

    from garde.dispatch import reference

    board = board_with(*(rad(f"r{i}") for i in range(10)))
    for n in range(600):  # more than the initial capacity of the rank order
        board.assign(
            study(minutes=1 + n % 7, arrived=n % 50, uid=f"1.2.{n:04}"), f"r{n % 10}", at(0)
        )
    for n in range(0, 600, 3):
        board.remove(f"1.2.{n:04}")
    probes = [study(arrived=25, uid="1.2.0250"), board.get("1.2.0251"), study(arrived=10)]
    for probe in probes:
        fast = board.evaluate(probe, at(60))
        slow = reference.evaluate(probe, board, at(60))
        np.testing.assert_array_equal(fast.start_ms, slow.start_ms)


def test_a_read_finished_before_the_current_run_of_shifts_does_not_count_in_it():
    board = board_with(rad("a"), shifts=[shift("a", 0, 60), shift("a", 600, 700)])
    s = study(minutes=30)
    board.assign(s, "a", at(0))
    board.start(s.uid, at(0))
    assert board.night_minutes("a", at(610)) == 30  # still open, so it counts
    board.finish(s.uid, at(50))  # reported late, stamped in the previous run
    assert board.night_minutes("a", at(620)) == 0
    assert board.finished("a") == ((at(50), 30.0),)


def test_many_distinct_reading_times_are_all_exact():
    from garde.dispatch import reference

    board = board_with(rad("a", speed=1.3), rad("b", speed=0.7))
    for n in range(300):
        probe = study(minutes=1 + n / 7)
        assert board.evaluate(probe, at(0)).finish_ms.tolist() == (
            reference.evaluate(probe, board, at(0)).finish_ms.tolist()
        )


def test_night_workload_is_updated_in_place_between_shift_boundaries():
    board = board_with(rad("a"))
    assert board.night_minutes("a", at(1)) == 0  # the board has looked at the shifts now
    s = study(minutes=12)
    board.assign(s, "a", at(1))
    board.start(s.uid, at(1))
    board.finish(s.uid, at(13))
    assert board.night_minutes("a", at(14)) == 12


def test_emergency_and_urgent_work_share_a_queue_rank_and_go_by_deadline() -> None:
    # An urgent study due in 10 minutes is read before an emergency due in 50; a stroke
    # comes before both whatever its deadline, routine work after them.
    board = board_with(rad("a"))
    emergency = study(priority=Priority.EMERGENCY, due=50)
    urgent = study(priority=Priority.URGENT, due=10)
    stroke = study(priority=Priority.STROKE, due=90)
    routine = study(priority=Priority.ROUTINE, due=5)
    for s in (emergency, routine, urgent, stroke):
        board.assign(s, "a", at(0))
    assert [s.uid for s in board.queue("a")] == [stroke.uid, urgent.uid, emergency.uid, routine.uid]
