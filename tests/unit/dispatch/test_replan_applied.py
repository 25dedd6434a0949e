"""The re-plan as the board applies it: never worse than the plan it replaces.

`replan_queues` applies only changes of reader; the board then sorts each queue by
priority, then deadline (`garde.dispatch.board.queue_key`). These tests score plans in
that order with a reference cost written here, independently of `optimizer.plan`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garde.dispatch.board import Board
from garde.dispatch.model import Priority, Radiologist, Shift, SlaPolicy, Study
from garde.dispatch.optimizer import CostWeights, ReaderCapacity, SolverSettings

NOW = datetime(2025, 1, 15, 21, 0, tzinfo=UTC)
POLICY = SlaPolicy()
WEIGHTS = CostWeights()


def _reader(rid: str, skills: set[str], free_in: float, end_in: float, speed: float = 1.0):
    return ReaderCapacity(
        radiologist=Radiologist(rid, rid, frozenset(skills), frozenset({"h1"}), speed=speed),
        free_at=NOW + timedelta(minutes=free_in),
        shift_end=NOW + timedelta(minutes=end_in),
    )


def _board(readers: list[ReaderCapacity], plan: dict[str, list[Study]]) -> Board:
    board = Board()
    board.set_roster(
        [r.radiologist for r in readers],
        [Shift(r.id, NOW - timedelta(hours=1), NOW + timedelta(hours=12)) for r in readers],
    )
    for rid, studies in plan.items():
        for s in studies:
            board.assign(s, rid, NOW)
    return board


def board_cost(
    readers: list[ReaderCapacity], plan: dict[str, list[Study]], shown: dict[str, str]
) -> int:
    """The plan cost of each reader's queue read back to back in the board's order."""
    board = _board(readers, plan)
    lateness = overrun = moves = 0
    loads = []
    for r in readers:
        t = max(0, math.ceil((r.free_at - NOW).total_seconds()))
        end = math.ceil((r.shift_end - NOW).total_seconds())
        load = round(r.read_minutes * 60)
        for s in board.queue(r.id):
            d = max(1, math.ceil(s.reading_minutes * 60.0 / r.radiologist.speed))
            t += d
            load += d
            due = math.ceil((s.deadline - NOW).total_seconds())
            weight = round(WEIGHTS.lateness_scale * POLICY.weights[s.priority])
            lateness += weight * max(0, t - due)
            overrun += WEIGHTS.overrun_weight * max(0, t - end)
            moves += WEIGHTS.move_penalty if shown[s.uid] != r.id else 0
        loads.append(load)
    return lateness + overrun + moves + WEIGHTS.imbalance_weight * (max(loads) - min(loads))


def _applied(
    current: dict[str, list[Study]], moves: dict[str, str], readers: list[ReaderCapacity]
) -> dict[str, list[Study]]:
    """The queues after moving each study of ``moves`` to its new reader (board order
    is the board's business)."""
    plan: dict[str, list[Study]] = {r.id: [] for r in readers}
    for rid, studies in current.items():
        for s in studies:
            plan[moves.get(s.uid, rid)].append(s)
    return plan


_priorities = st.sampled_from(list(Priority))
_skills = st.sampled_from([set(), {"neuro"}, {"body"}])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(
        st.tuples(_priorities, st.floats(2, 40), st.floats(-30, 240), _skills, st.integers(0, 2)),
        min_size=2,
        max_size=8,
    ),
    free=st.lists(st.floats(0, 30), min_size=3, max_size=3),
    ends=st.lists(st.floats(10, 300), min_size=3, max_size=3),
)
def test_property_applied_replan_is_never_worse_in_board_order(
    isolated_replan, specs, free, ends
) -> None:
    readers = [
        _reader("a", {"neuro", "body"}, free[0], ends[0]),
        _reader("b", {"neuro"}, free[1], ends[1], speed=1.2),
        _reader("c", {"body"}, free[2], ends[2]),
    ]
    current: dict[str, list[Study]] = {r.id: [] for r in readers}
    for i, (priority, minutes, due_in, skills, owner) in enumerate(specs):
        study = Study(
            uid=f"s{i}",
            site_id="h1",
            priority=priority,
            skills=frozenset(skills),
            reading_minutes=minutes,
            arrived_at=NOW - timedelta(minutes=i),
            deadline=NOW + timedelta(minutes=due_in),
        )
        eligible = [r for r in readers if r.may_read(study)]
        current[eligible[owner % len(eligible)].id].append(study)
    shown = {s.uid: rid for rid, studies in current.items() for s in studies}
    result = isolated_replan(
        [s for studies in current.values() for s in studies],
        readers,
        {rid: [s.uid for s in studies] for rid, studies in current.items()},
        NOW,
        POLICY,
        settings=SolverSettings(time_limit_s=0.5, workers=1),
    )
    moves = {m.study_uid: m.to_radiologist for m in result.moves}
    before = board_cost(readers, current, shown)
    after = board_cost(readers, _applied(current, moves, readers), shown)
    assert after <= before
    assert result.input_objective == before
    assert result.objective == after
