"""Routing again (`garde.dispatch.reroute`): one rule per cause, on small hand-built boards."""

from dataclasses import replace
from datetime import timedelta

from garde.dispatch.model import Priority, SlaPolicy, StudyState
from garde.dispatch.reroute import (
    Cause,
    Rerouting,
    Stay,
    Unmoved,
    barred,
    escalation,
    may_read_as_fallback,
    must_wait,
    reroute,
    shift_ended,
    stays,
    takes_from_gone_reader,
)
from garde.dispatch.router import route
from tests.unit.dispatch.dispatch_factories import Place, at, board_with, rad, shift, study

POLICY = SlaPolicy()
HOUR = timedelta(hours=1)


def again(board, s, cause, minute=0, **facts):
    return reroute(s, board, POLICY, at(minute), Rerouting(cause, **facts))


def test_barred_names_the_releaser_and_the_others_never_nobody():
    assert barred(None) == frozenset()
    assert barred("a", None, "b") == {"a", "b"}


def test_a_waiting_study_goes_to_anyone_eligible_but_its_releaser():
    board = board_with(rad("a"), rad("b"))
    s = study()
    assert again(board, s, Cause.WAITING, released_by="a").radiologist_id == "b"
    assert again(board, s, Cause.WAITING, released_by="b").radiologist_id == "a"


def test_a_waiting_study_nobody_may_read_stays():
    board = board_with(rad("a", sites="h2"))
    assert again(board, study(site="h1"), Cause.WAITING) is None


def test_routine_work_waits_for_coverage_before_the_fallback_pool():
    board = board_with(rad("a", sites="h2"), rad("pool", skills="", fallback=True))
    routine = study(priority=Priority.ROUTINE, site="h2", skills="msk")
    facts = {"waiting_since": at(0), "routine_delay": HOUR}
    assert again(board, routine, Cause.WAITING, minute=30, **facts) is None
    late = again(board, routine, Cause.WAITING, minute=60, **facts)
    assert (late.radiologist_id, late.fallback) == ("pool", True)
    # Urgent work does not wait, and nothing waits when no waiting started.
    urgent = replace(routine, priority=Priority.URGENT)
    assert again(board, urgent, Cause.WAITING, minute=1, **facts).radiologist_id == "pool"
    assert again(board, routine, Cause.WAITING, minute=1, routine_delay=HOUR) is not None


def test_an_orphan_always_moves_even_to_nobody():
    board = board_with(rad("a", sites="h2"))
    decision = again(board, study(site="h1"), Cause.LEFT_ROSTER)
    assert decision is not None
    assert decision.radiologist_id is None


def test_a_released_study_never_goes_back_to_its_releaser():
    board = board_with(rad("a"), rad("b", speed=0.5))
    s = study()
    board.assign(s, "a", at(0))
    decision = again(board, s, Cause.RELEASED, holder="a")
    assert decision.radiologist_id == "b"
    alone = board_with(rad("a"))
    assert again(alone, study(), Cause.RELEASED, holder="a").radiologist_id is None


def test_a_shift_over_moves_to_an_eligible_reader_on_shift_never_back():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", 0, 60), shift("b")])
    s = study()
    board.assign(s, "a", at(0))
    facts = {"holder": "a", "waiting_since": at(60), "routine_delay": HOUR}
    assert again(board, s, Cause.SHIFT_OVER, minute=61, **facts).radiologist_id == "b"
    assert again(board, s, Cause.SHIFT_OVER, minute=61, **facts | {"released_by": "b"}) is None


def test_a_shift_over_leaves_routine_work_for_coverage_a_while():
    board = board_with(
        rad("a"),
        rad("pool", sites="h1", skills="", fallback=True),
        shifts=[shift("a", 0, 60), shift("pool")],
    )
    s = study(priority=Priority.ROUTINE, skills="neuro")
    board.assign(s, "a", at(0))
    facts = {"holder": "a", "waiting_since": at(60), "routine_delay": HOUR}
    assert again(board, s, Cause.SHIFT_OVER, minute=90, **facts) is None
    taken = again(board, s, Cause.SHIFT_OVER, minute=120, **facts)
    assert (taken.radiologist_id, taken.fallback) == ("pool", True)


def test_no_longer_eligible_moves_to_an_eligible_reader():
    board = board_with(rad("a", skills="body"), rad("b"))
    s = study(skills="neuro")
    board.assign(s, "a", at(0))
    assert again(board, s, Cause.NO_LONGER_ELIGIBLE, holder="a").radiologist_id == "b"


def test_no_longer_eligible_stays_where_the_fallback_pool_reads_it():
    board = board_with(
        rad("a", skills="body", fallback=True), rad("b", skills="body", fallback=True)
    )
    s = study(skills="neuro")
    board.assign(s, "a", at(0))
    assert again(board, s, Cause.NO_LONGER_ELIGIBLE, holder="a") is None
    # A holder who may not read it even as the pool (no credential) gives it up.
    other = board_with(rad("a", sites="h2"), rad("b", skills="body", fallback=True))
    s2 = study(skills="neuro")
    other.assign(s2, "a", at(0))
    moved = again(other, s2, Cause.NO_LONGER_ELIGIBLE, holder="a")
    assert (moved.radiologist_id, moved.fallback) == ("b", True)


def test_a_late_study_moves_only_to_someone_who_finishes_it_sooner():
    board = board_with(rad("a"), rad("b"))
    queued = [study(minutes=30) for _ in range(3)]
    for s in queued:
        board.assign(s, "a", at(0))
    last = queued[-1]
    assert again(board, last, Cause.RUNNING_LATE, holder="a").radiologist_id == "b"
    first = queued[0]  # being next in line, nobody reads it sooner than its holder
    assert again(board, first, Cause.RUNNING_LATE, holder="a") is None


def test_a_late_study_never_moves_to_the_fallback_pool():
    board = board_with(rad("a"), rad("pool", skills="", fallback=True))
    s = study(skills="neuro", minutes=30)
    for other in (study(minutes=60), s):
        board.assign(other, "a", at(0))
    assert again(board, s, Cause.RUNNING_LATE, holder="a") is None


def test_at_breach_a_supervisor_on_shift_then_the_pool_on_shift():
    sup = replace(rad("sup", skills=""), supervisor=True)
    board = board_with(rad("a"), sup, rad("pool", fallback=True))
    s = study()
    board.assign(s, "a", at(0))
    assert again(board, s, Cause.BREACHED, holder="a").radiologist_id == "sup"
    no_sup = board_with(rad("a"), rad("pool", fallback=True))
    no_sup.assign(s, "a", at(0))
    assert again(no_sup, s, Cause.BREACHED, holder="a").radiologist_id == "pool"


def test_at_breach_a_reader_on_shift_keeps_it_and_one_gone_gives_it_up():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", 0, 60), shift("b")])
    s = study()
    board.assign(s, "a", at(0))
    assert again(board, s, Cause.BREACHED, holder="a", minute=30) is None
    assert again(board, s, Cause.BREACHED, holder="a", minute=61).radiologist_id == "b"


def test_must_wait_only_for_routine_work_routed_to_the_pool_within_the_delay():
    board = board_with(rad("pool", skills="", fallback=True))
    routine = study(priority=Priority.ROUTINE, skills="neuro")
    decision = route(routine, board, POLICY, at(0))
    assert decision.fallback
    assert must_wait(routine, decision, at(0), at(59), HOUR)
    assert not must_wait(routine, decision, at(0), at(60), HOUR)
    assert not must_wait(replace(routine, priority=Priority.URGENT), decision, at(0), at(1), HOUR)
    eligible = route(study(priority=Priority.ROUTINE), board_with(rad("a")), POLICY, at(0))
    assert not must_wait(routine, eligible, at(0), at(1), HOUR)


def test_takes_from_gone_reader():
    board = board_with(rad("pool", skills="", fallback=True))
    routine = study(priority=Priority.ROUTINE, skills="neuro")
    pool = route(routine, board, POLICY, at(0))
    wait = {"delay": HOUR}
    assert not takes_from_gone_reader(routine, pool, at(10), waiting_since=at(0), **wait)
    assert takes_from_gone_reader(routine, pool, at(60), waiting_since=at(0), **wait)
    assert takes_from_gone_reader(routine, pool, at(10), waiting_since=None, **wait)
    nobody = route(study(site="h9"), board, POLICY, at(0))
    assert not takes_from_gone_reader(routine, nobody, at(60), waiting_since=None, **wait)


def test_may_read_as_fallback_needs_the_credential_not_the_skill():
    s = study(skills="neuro", site="h1")
    assert may_read_as_fallback(rad("p", skills="", fallback=True), s)
    assert not may_read_as_fallback(rad("p", skills="", sites="h2", fallback=True), s)
    assert not may_read_as_fallback(rad("p", skills=""), s)


def test_shift_ended_is_the_last_end_before_now():
    shifts = [shift("a", 0, 60), shift("a", 120, 180), shift("a", 300, 400)]
    assert shift_ended(shifts, at(200)) == at(180)
    assert shift_ended(shifts, at(30)) == at(30)  # none ended yet


def test_the_routers_move_stays_when_the_store_moved_on_released_or_pinned():
    assert stays(Place(assignee="a"), "a", "b") is None
    assert stays(Place(assignee="c"), "a", "b") is Stay.MOVED_ON  # claimed meanwhile
    assert stays(Place(assignee="a", state=StudyState.IN_PROGRESS), "a", "b") is Stay.MOVED_ON
    assert stays(Place(assignee="a", released_by="b"), "a", "b") is Stay.RELEASED_BY_TARGET
    assert stays(Place(assignee="a", pinned_by="op"), "a", "b") is Stay.PINNED


def test_what_each_escalation_tier_does_to_a_study():
    from garde.dispatch.sla import EscalationTier as T

    queued, waiting = Place(assignee="a"), Place(state=StudyState.PENDING, assignee=None)
    reading = Place(state=StudyState.IN_PROGRESS, assignee="a")
    for tier in T:
        assert escalation(tier, reading, "a") is Unmoved.IN_PROGRESS  # never taken from a reader
    assert escalation(T.ALERT, queued, "a") is Unmoved.NOTIFIED
    assert escalation(T.REASSIGN, queued, "a") is Cause.RUNNING_LATE
    assert escalation(T.SUPERVISOR, queued, "a") is Cause.BREACHED
    assert escalation(T.SUPERVISOR, Place(assignee="a", pinned_by="op"), "a") is Unmoved.PINNED
    assert escalation(T.REASSIGN, waiting, None) is Cause.WAITING
    assert escalation(T.REASSIGN, queued, None) is Unmoved.KEPT  # its reader left the roster


def test_no_longer_eligible_with_no_holder_known_just_moves():
    board = board_with(rad("b"))
    assert again(board, study(), Cause.NO_LONGER_ELIGIBLE).radiologist_id == "b"


def test_at_breach_a_gone_reader_with_nobody_to_take_over_keeps_it():
    board = board_with(rad("a"), rad("b", sites="h2"), shifts=[shift("a", 0, 60), shift("b")])
    s = study(site="h1")
    board.assign(s, "a", at(0))
    assert again(board, s, Cause.BREACHED, holder="a", minute=61) is None
