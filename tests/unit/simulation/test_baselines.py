"""The baselines as routing policies: whom each sends a study to, in what order a free
reader takes work, and whom a stroke interrupts, on small hand-built boards."""

from __future__ import annotations

from garde.dispatch.model import Priority, SlaPolicy
from garde.dispatch.routing import GARDE
from garde.simulation.baselines import CherryPick, LeastLoaded, PullEdf, PushGreedy, RoundRobin
from garde.simulation.policies import POLICIES, policy_spec
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, study

POLICY = SlaPolicy()
NOW = at(0)


def _place(policy, board, s, minute=0):
    decision = policy.route(s, board, POLICY, at(minute))
    if decision.radiologist_id is not None:
        board.assign(s, decision.radiologist_id, at(minute))
    return decision.radiologist_id


def test_round_robin_rotates_regardless_of_load() -> None:
    board, policy = board_with(rad("a"), rad("b")), RoundRobin()
    chosen = [_place(policy, board, study(minutes=60 if i == 0 else 5)) for i in range(4)]
    assert chosen == ["a", "b", "a", "b"]


def test_least_loaded_ignores_deadlines_and_reads_first_come_first() -> None:
    board, policy = board_with(rad("a"), rad("b")), LeastLoaded()
    first = study(priority=Priority.ROUTINE, minutes=30, arrived=0)
    assert _place(policy, board, first) == "a"
    assert _place(policy, board, study(priority=Priority.ROUTINE, minutes=30)) == "b"
    emergency = study(priority=Priority.EMERGENCY, minutes=10, arrived=1)
    assert _place(policy, board, emergency) == "a"  # ties on load: by id
    # The emergency waits behind routine work: first come, first read.
    assert sorted([emergency, first], key=policy.take_order) == [first, emergency]


def test_push_greedy_picks_the_earliest_predicted_finish() -> None:
    board, policy = board_with(rad("a"), rad("b", speed=0.5)), PushGreedy()
    assert _place(policy, board, study(minutes=30)) == "a"
    assert _place(policy, board, study(minutes=10)) == "b"  # 20 min on b beats 40 on a
    urgent, emergency = study(arrived=2), study(priority=Priority.EMERGENCY, arrived=5)
    assert sorted([urgent, emergency], key=policy.take_order) == [emergency, urgent]


def test_pull_policies_assign_nobody_and_order_the_shared_queue() -> None:
    board = board_with(rad("a"))
    routine = study(priority=Priority.ROUTINE, minutes=2)
    emergency = study(priority=Priority.EMERGENCY, minutes=30)
    urgent = study(priority=Priority.URGENT, minutes=10)
    edf, pick = PullEdf(), CherryPick()
    decision = edf.route(emergency, board, POLICY, NOW)
    assert (decision.radiologist_id, decision.fallback) == (None, False)
    assert pick.route(routine, board, POLICY, NOW).radiologist_id is None
    shared = [routine, emergency, urgent]
    assert min(shared, key=edf.take_order) is emergency
    assert min(shared, key=pick.take_order) is routine
    assert edf.next_pull("a", board, NOW) is None  # no late binding


def test_pull_edf_interrupts_the_busy_reader_whose_read_is_due_last() -> None:
    board = board_with(rad("a"), rad("b"))
    soon = study(priority=Priority.EMERGENCY, minutes=30)
    late = study(priority=Priority.ROUTINE, minutes=30)
    for s, rid in ((soon, "a"), (late, "b")):
        board.assign(s, rid, NOW)
        board.start(s.uid, NOW)
    stroke = study(priority=Priority.STROKE, minutes=6, arrived=1)
    policy = PullEdf()
    decision, alert = policy.preempt(
        stroke, policy.route(stroke, board, POLICY, at(1)), board, POLICY, at(1)
    )
    assert decision.radiologist_id == "b"
    assert alert is not None and alert.interrupted_uid == late.uid
    # With a reader free, the pull takes it: nobody is interrupted.
    free = board_with(rad("a"), rad("b"))
    assert (
        policy.preempt(stroke, policy.route(stroke, free, POLICY, at(1)), free, POLICY, at(1))[1]
        is None
    )
    assert PullEdf(preempt_stroke=False).preempt(stroke, decision, board, POLICY, at(1))[1] is None


def test_push_greedy_interrupts_a_busy_reader_the_stroke_would_wait_for() -> None:
    board = board_with(rad("a"))
    held = study(priority=Priority.URGENT, minutes=30)
    board.assign(held, "a", NOW)
    board.start(held.uid, NOW)
    stroke = study(priority=Priority.STROKE, minutes=6, arrived=1)
    policy = PushGreedy()
    decision = policy.route(stroke, board, POLICY, at(1))
    decision, alert = policy.preempt(stroke, decision, board, POLICY, at(1))
    assert decision.radiologist_id == "a"
    assert alert is not None and alert.interrupted_uid == held.uid


def test_every_named_policy_routes_through_a_fresh_policy_object() -> None:
    assert list(POLICIES)[:7] == [
        "garde",
        "garde_optimized",
        "round_robin",
        "least_loaded",
        "push_greedy",
        "pull_edf",
        "cherry_pick",
    ]
    assert policy_spec("garde").routing().name == GARDE.name
    assert policy_spec("garde_optimized").replan
    assert policy_spec("round_robin").routing() is not policy_spec("round_robin").routing()
