"""The CP-SAT re-planner: never worse than its input, optimal on small instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations, product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garde.dispatch.explanation import ExclusionReason
from garde.dispatch.model import Priority, Radiologist, SlaPolicy, Study
from garde.dispatch.optimizer import (
    CostWeights,
    Move,
    ReaderCapacity,
    SolverSettings,
    greedy_plan,
    judge,
    replan,
)
from garde.dispatch.optimizer.plan import build_instance, evaluate, sequences_from_plan
from garde.simulation.backlog import KINDS, make_backlog

NOW = datetime(2025, 1, 15, 21, 0, tzinfo=UTC)
POLICY = SlaPolicy()
FAST = SolverSettings(time_limit_s=2.0, workers=2, seed=1)


def reader(
    rid: str, skills: set[str], *, free_in: float = 0, end_in: float = 600, speed: float = 1.0
) -> ReaderCapacity:
    return ReaderCapacity(
        radiologist=Radiologist(rid, rid, frozenset(skills), frozenset({"h1", "h2"}), speed=speed),
        free_at=NOW + timedelta(minutes=free_in),
        shift_end=NOW + timedelta(minutes=end_in),
    )


def study(
    uid: str,
    priority: Priority,
    minutes: float,
    *,
    due_in: float,
    skills: set[str] | None = None,
    site: str = "h1",
) -> Study:
    return Study(
        uid=uid,
        site_id=site,
        priority=priority,
        skills=frozenset(skills or set()),
        reading_minutes=minutes,
        arrived_at=NOW - timedelta(minutes=5),
        deadline=NOW + timedelta(minutes=due_in),
    )


def test_stroke_queued_behind_long_read_moves_to_a_free_neuro_reader() -> None:
    readers = [reader("a", {"neuro", "body"}, free_in=20), reader("b", {"neuro"}, free_in=1)]
    studies = [
        study("poly", Priority.URGENT, 40, due_in=200, skills={"body"}),
        study("stroke", Priority.STROKE, 6, due_in=8, skills={"neuro"}),
    ]
    shown = {"a": ["poly", "stroke"], "b": []}
    result = replan(studies, readers, shown, NOW, POLICY, settings=FAST)
    assert result.improved
    assert result.plan["b"] == ("stroke",)
    assert [(m.study_uid, m.from_radiologist, m.to_radiologist) for m in result.moves] == [
        ("stroke", "a", "b")
    ]
    assert result.optimal


def test_nothing_better_returns_the_input_plan_without_moves() -> None:
    readers = [reader("a", {"neuro"}), reader("b", {"neuro"})]
    studies = [
        study("s1", Priority.URGENT, 10, due_in=100),
        study("s2", Priority.URGENT, 10, due_in=100),
    ]
    shown = {"a": ["s1"], "b": ["s2"]}
    result = replan(studies, readers, shown, NOW, POLICY, settings=FAST)
    assert result.moves == ()
    assert result.objective == result.input_objective
    assert result.plan == {"a": ("s1",), "b": ("s2",)}


def test_study_nobody_may_read_is_reported_not_dropped_silently() -> None:
    readers = [reader("a", {"body"})]
    studies = [study("kid", Priority.URGENT, 10, due_in=60, skills={"paediatric"})]
    result = replan(studies, readers, {}, NOW, POLICY, settings=FAST)
    assert result.unplaceable == ("kid",)


def test_unshown_studies_are_placed_and_reported_as_moves_from_nowhere() -> None:
    readers = [reader("a", {"neuro"})]
    result = replan([study("new", Priority.URGENT, 10, due_in=60)], readers, {}, NOW, POLICY)
    assert result.plan == {"a": ("new",)}
    assert [(m.from_radiologist, m.to_radiologist) for m in result.moves] == [(None, "a")]


def _brute_force_optimum(
    studies: list[Study], readers: list[ReaderCapacity], shown: dict[str, list[str]]
) -> int:
    instance = build_instance(studies, readers, shown, NOW, POLICY, weights=CostWeights())
    n, best = len(instance.studies), None
    for owners in product(range(len(instance.readers)), repeat=n):
        if any((s, r) not in instance.duration for s, r in enumerate(owners)):
            continue
        groups = [[s for s in range(n) if owners[s] == r] for r in range(len(instance.readers))]
        for orders in product(*(list(permutations(g)) for g in groups)):
            cost = evaluate(instance, [list(o) for o in orders]).total
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(4))
def test_small_instances_are_solved_to_the_brute_force_optimum(seed: int) -> None:
    backlog = make_backlog("stroke_queue", 5, 2, seed)
    plan, _ = greedy_plan(backlog.studies, backlog.readers, backlog.now, backlog.policy)
    result = replan(
        backlog.studies, backlog.readers, plan, backlog.now, backlog.policy, settings=FAST
    )
    global NOW  # noqa: PLW0603 - the brute force evaluates at the backlog's instant
    saved, NOW = NOW, backlog.now
    try:
        optimum = _brute_force_optimum(
            list(backlog.studies), list(backlog.readers), {k: list(v) for k, v in plan.items()}
        )
    finally:
        NOW = saved
    assert result.optimal
    assert result.objective == optimum


@pytest.mark.parametrize("kind", KINDS)
def test_regional_backlogs_never_get_worse_and_cost_is_recomputed_exactly(kind: str) -> None:
    backlog = make_backlog(kind, 20, 5, 7)
    plan, greedy_objective = greedy_plan(
        backlog.studies, backlog.readers, backlog.now, backlog.policy
    )
    result = replan(
        backlog.studies, backlog.readers, plan, backlog.now, backlog.policy, settings=FAST
    )
    assert result.input_objective == greedy_objective
    assert result.objective <= greedy_objective
    instance = build_instance(
        backlog.studies, backlog.readers, plan, backlog.now, backlog.policy, weights=CostWeights()
    )
    assert evaluate(instance, sequences_from_plan(instance, result.plan)).total == result.objective
    placed = sorted(uid for uids in result.plan.values() for uid in uids)
    assert placed == sorted(s.uid for s in backlog.studies)


_priorities = st.sampled_from(list(Priority))
_skills = st.sampled_from([set(), {"neuro"}, {"body"}])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(
        st.tuples(_priorities, st.floats(2, 40), st.floats(-30, 240), _skills),
        min_size=1,
        max_size=7,
    ),
    owners=st.lists(st.integers(0, 2), min_size=7, max_size=7),
    free=st.lists(st.floats(0, 30), min_size=3, max_size=3),
    ends=st.lists(st.floats(10, 300), min_size=3, max_size=3),
)
def test_property_replan_is_never_worse_than_its_input(
    isolated_replan, specs, owners, free, ends
) -> None:
    readers = [
        reader("a", {"neuro", "body"}, free_in=free[0], end_in=ends[0]),
        reader("b", {"neuro"}, free_in=free[1], end_in=ends[1], speed=1.2),
        reader("c", {"body"}, free_in=free[2], end_in=ends[2]),
    ]
    studies = [study(f"s{i}", p, m, due_in=d, skills=k) for i, (p, m, d, k) in enumerate(specs)]
    shown: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    for i, s in enumerate(studies):
        shown["abc"[owners[i]]].append(s.uid)  # possibly ineligible: the input is completed
    result = isolated_replan(
        studies, readers, shown, NOW, POLICY, settings=SolverSettings(time_limit_s=0.5, workers=1)
    )
    assert result.objective <= result.input_objective
    instance = build_instance(studies, readers, shown, NOW, POLICY, weights=CostWeights())
    assert evaluate(instance, sequences_from_plan(instance, result.plan)).total == result.objective
    placed = sorted(uid for uids in result.plan.values() for uid in uids)
    assert placed == sorted(s.uid for s in studies)


def test_reordering_a_queue_is_no_gain_because_the_board_keeps_queue_order() -> None:
    # Alone, reading the overdue routine study first would be cheaper; but the board
    # runs the urgent study first (priority, then deadline), so no plan beats this one.
    readers = [reader("a", {"body"})]
    studies = [
        study("urgent", Priority.URGENT, 30, due_in=200),
        study("routine", Priority.ROUTINE, 10, due_in=5),
    ]
    result = replan(studies, readers, {"a": ["routine", "urgent"]}, NOW, POLICY, settings=FAST)
    assert not result.improved
    assert result.plan == {"a": ("urgent", "routine")}  # queue order, as the board shows it
    late_s = (30 + 10 - 5) * 60
    assert result.input_objective == 10 * late_s  # routine: weight 1 x lateness scale 10
    assert result.optimal


def test_pinned_study_stays_with_its_reader_and_counts_in_the_cost() -> None:
    # "kid" is with the fallback reader "a", who lacks the skill: pinned, it stays, and
    # its 30 minutes delay what "a" reads after it.
    readers = [reader("a", {"body"}), reader("b", {"body", "paediatric"})]
    studies = [
        study("kid", Priority.EMERGENCY, 30, due_in=30, skills={"paediatric"}),
        study("chest", Priority.URGENT, 20, due_in=40),
    ]
    shown = {"a": ["kid", "chest"], "b": []}
    result = replan(studies, readers, shown, NOW, POLICY, settings=FAST, pinned={"kid": "a"})
    assert result.unplaceable == ()
    assert result.plan == {"a": ("kid",), "b": ("chest",)}
    assert [(m.study_uid, m.to_radiologist) for m in result.moves] == [("chest", "b")]


def test_a_study_is_never_moved_back_to_the_reader_who_released_it() -> None:
    # "b" is free and "a" has two studies: moving "stroke" to "b" is the obvious gain,
    # but "b" released it. Before, the solver proposed exactly that move, the store
    # refused it and the run's better plan (if any) was lost until the next one.
    readers = [reader("a", {"neuro", "body"}, free_in=20), reader("b", {"neuro"}, free_in=1)]
    studies = [
        study("poly", Priority.URGENT, 40, due_in=200, skills={"body"}),
        study("stroke", Priority.STROKE, 6, due_in=8, skills={"neuro"}),
    ]
    shown = {"a": ["poly", "stroke"], "b": []}
    barred = {"stroke": "b"}
    result = replan(studies, readers, shown, NOW, POLICY, settings=FAST, barred=barred)
    assert ("stroke", "a", "b") not in [
        (m.study_uid, m.from_radiologist, m.to_radiologist) for m in result.moves
    ]
    assert result.plan["a"] == ("stroke", "poly")  # queue order
    move = Move("stroke", "a", "b", 0)
    verdict = judge(studies, readers, shown, NOW, POLICY, moves=[move], barred=barred)
    assert verdict.dropped == ("stroke",)
    assert verdict.moves == ()
    # Claimed back by "b" (a deliberate act): it may stay with them.
    back = {"a": ["poly"], "b": ["stroke"]}
    kept = replan(studies, readers, back, NOW, POLICY, settings=FAST, barred=barred)
    assert kept.plan["b"] == ("stroke",)


def test_a_replan_explanation_names_the_releaser_as_excluded_not_lacking_a_skill() -> None:
    readers = [
        reader("a", {"neuro"}, free_in=30),
        reader("b", {"neuro"}, free_in=0),
        reader("c", {"neuro"}, free_in=1),
    ]
    studies = [study("s", Priority.URGENT, 10, due_in=20, skills={"neuro"})]
    shown = {"a": ["s"], "b": [], "c": []}
    verdict = judge(
        studies, readers, shown, NOW, POLICY, moves=[Move("s", "a", "c", 0)], barred={"s": "b"}
    )
    assert [m.to_radiologist for m in verdict.moves] == ["c"]
    excluded = {e.reason: e.radiologist_ids for e in verdict.explanations["s"].excluded}
    assert excluded == {ExclusionReason.EXCLUDED: ("b",)}  # b has the skill: it released it
