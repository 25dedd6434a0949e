"""Judging re-plan moves against the live plan, and the explanation of each move."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from garde.dispatch._time import to_ms
from garde.dispatch.explanation import (
    Basis,
    ExclusionReason,
    Explanation,
    ReplanReason,
)
from garde.dispatch.model import Priority, Radiologist, SlaPolicy, Study
from garde.dispatch.optimizer import Move, ReaderCapacity, judge

NOW = datetime(2025, 1, 15, 21, 0, tzinfo=UTC)
POLICY = SlaPolicy()


def reader(rid: str, skills: set[str], *, free_in: float = 0, sites=("h1",)) -> ReaderCapacity:
    return ReaderCapacity(
        radiologist=Radiologist(rid, rid, frozenset(skills), frozenset(sites)),
        free_at=NOW + timedelta(minutes=free_in),
        shift_end=NOW + timedelta(hours=8),
    )


def study(uid: str, minutes: float, due_in: float, skills: set[str] | None = None) -> Study:
    return Study(
        uid=uid,
        site_id="h1",
        priority=Priority.URGENT,
        skills=frozenset(skills or set()),
        reading_minutes=minutes,
        arrived_at=NOW - timedelta(minutes=5),
        deadline=NOW + timedelta(minutes=due_in),
        rule="urgent-ct",
    )


READERS = [reader("a", {"body"}), reader("b", {"body"}), reader("c", set(), sites=("h2",))]
STUDIES = [study("s1", 30, 30), study("s2", 30, 30)]
PLAN = {"a": ["s1", "s2"], "b": [], "c": []}


def test_a_move_that_lowers_the_plan_cost_is_better_and_explained() -> None:
    verdict = judge(STUDIES, READERS, PLAN, NOW, POLICY, moves=[Move("s2", "a", "b", 0)])
    assert verdict.better
    assert verdict.dropped == ()
    assert verdict.after.lateness == 0 < verdict.before.lateness
    explanation = verdict.explanations["s2"]
    assert explanation.basis is Basis.REPLAN
    assert explanation.chosen == "b"
    assert explanation.rule == "urgent-ct"
    assert explanation.decided_at == NOW
    new, old = explanation.candidates
    assert (new.radiologist_id, new.finish_ms, new.late_ms) == ("b", to_ms(NOW) + 1_800_000, 0)
    assert (old.radiologist_id, old.finish_ms, old.late_ms) == (
        "a",
        to_ms(NOW) + 3_600_000,
        1_800_000,
    )
    assert explanation.eligible == 2
    assert explanation.excluded_reason("c") is ExclusionReason.NO_CREDENTIAL
    change = explanation.replan
    assert change is not None
    assert (change.from_radiologist, change.moved) == ("a", 1)
    assert change.before.total == verdict.before.total
    assert change.after.total == verdict.after.total
    assert change.reasons == (ReplanReason.LOWERS_LATENESS, ReplanReason.EVENS_WORKLOAD)
    assert Explanation.from_dict(json.loads(json.dumps(explanation.to_dict()))) == explanation
    text = explanation.render_text()
    assert "assigned to b: moved by the re-plan" in text
    assert f"re-plan: moved from a; plan cost {verdict.before.total:,} -> " in text
    assert "reason: lowers the plan's weighted lateness, evens the night's workload" in text


def test_moves_that_no_longer_apply_are_dropped() -> None:
    moves = [
        Move("s1", "b", "a", 0),  # not with b any more
        Move("gone", "a", "b", 0),  # started or finished: not queued
        Move("s2", "a", "c", 0),  # c may not read it
    ]
    verdict = judge(STUDIES, READERS, PLAN, NOW, POLICY, moves=moves)
    assert verdict.dropped == ("s1", "gone", "s2")
    assert verdict.moves == ()
    assert not verdict.better
    assert verdict.after == verdict.before


def test_a_move_that_does_not_pay_for_itself_is_not_better() -> None:
    plan = {"a": ["s1"], "b": ["s2"], "c": []}
    verdict = judge(STUDIES, READERS, plan, NOW, POLICY, moves=[Move("s2", "b", "a", 0)])
    assert verdict.moves
    assert not verdict.better
    assert verdict.after.total > verdict.before.total


def test_a_study_its_reader_may_not_read_stays_and_counts_where_it_is() -> None:
    # "kid" sits with "a" (fallback pool), who lacks the skill: it is not moved, and its
    # hour delays "s1" behind it in a's queue; moving s1 to b pays.
    kid = replace(study("kid", 60, 20, skills={"paediatric"}), priority=Priority.EMERGENCY)
    plan = {"a": ["kid", "s1"], "b": ["s2"], "c": []}
    moves = [Move("kid", "a", "b", 0), Move("s1", "a", "b", 1)]
    verdict = judge([kid, *STUDIES], READERS, plan, NOW, POLICY, moves=moves)
    assert verdict.dropped == ("kid",)
    assert [m.study_uid for m in verdict.moves] == ["s1"]
    new, old = verdict.explanations["s1"].candidates
    assert old.start_ms == to_ms(NOW) + 3_600_000  # after the kid's hour
    assert new.start_ms == to_ms(NOW)  # before s2: same priority and deadline, UID order


def test_reasons_and_exclusions_name_what_changed_and_who_could_not() -> None:
    short = replace(reader("a", {"body"}), shift_end=NOW + timedelta(minutes=40))
    readers = [
        short,
        reader("b", {"body"}),
        reader("n", {"neuro"}),  # lacks the skill
        replace(reader("s", {"body"}, sites=("h1", "h2")), sites=frozenset({"h2"})),
    ]
    studies = [study("s1", 30, 300, skills={"body"}), study("s2", 30, 300, skills={"body"})]
    plan = {"a": ["s1", "s2"], "b": [], "n": [], "s": []}
    verdict = judge(studies, readers, plan, NOW, POLICY, moves=[Move("s2", "a", "b", 0)])
    explanation = verdict.explanations["s2"]
    assert explanation.replan is not None
    assert explanation.replan.reasons == (
        ReplanReason.LOWERS_OVERRUN,
        ReplanReason.EVENS_WORKLOAD,
    )
    assert explanation.excluded_reason("n") is ExclusionReason.MISSING_SKILL
    assert explanation.excluded_reason("s") is ExclusionReason.SITE_NOT_IN_SHIFT
    assert "reason: lowers reading past shift ends" in explanation.render_text()
    # Stored without its old reader's prospects, it still renders.
    alone = replace(explanation, candidates=explanation.candidates[:1])
    assert "this study:" not in alone.render_text()
