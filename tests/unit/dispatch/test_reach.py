"""Who must hear of a study nobody took, or of a notification nobody answered."""

from __future__ import annotations

from datetime import timedelta

from garde.dispatch.model import StudyState
from garde.dispatch.reach import (
    Tier,
    alert_moot,
    must_acknowledge,
    next_tier,
    notice_due,
    waits_for_a_taker,
)
from tests.unit.dispatch.dispatch_factories import at


def test_a_tier_with_nobody_falls_through_to_the_medical_director() -> None:
    assert next_tier(Tier.READER, ["r08"], "r00") == (Tier.SUPERVISORS, ("r08",))
    assert next_tier(Tier.READER, [], "r00") == (Tier.MEDICAL_DIRECTOR, ("r00",))
    assert next_tier("supervisors", ["r08"], "+33 4") == (Tier.MEDICAL_DIRECTOR, ("+33 4",))
    # Already at the director: told again, never nobody while there is one.
    assert next_tier(Tier.MEDICAL_DIRECTOR, ["r08"], "r00") == (Tier.MEDICAL_DIRECTOR, ("r00",))
    assert next_tier(Tier.READER, [], "") == (Tier.MEDICAL_DIRECTOR, ())


def test_who_waits_for_a_taker() -> None:
    directors = {"r00"}
    assert waits_for_a_taker(StudyState.PENDING, None, flagged=True, directors=directors)
    assert not waits_for_a_taker(StudyState.PENDING, None, flagged=False, directors=directors)
    assert waits_for_a_taker(StudyState.ASSIGNED, "r00", flagged=True, directors=directors)
    assert not waits_for_a_taker(StudyState.ASSIGNED, "r01", flagged=True, directors=directors)
    assert not waits_for_a_taker(StudyState.IN_PROGRESS, "r00", flagged=True, directors=directors)


def test_notices_repeat_on_their_period() -> None:
    every = timedelta(minutes=5)
    assert notice_due(None, at(0), every)
    assert not notice_due(at(0), at(4.9), every)
    assert notice_due(at(0), at(5), every)


def test_stroke_and_emergency_notifications_must_be_acknowledged() -> None:
    assert must_acknowledge("assigned", "stroke")
    assert must_acknowledge("unassigned", "emergency")
    assert not must_acknowledge("assigned", "urgent")
    assert not must_acknowledge("assigned", None)
    assert not must_acknowledge("withdrawn", "stroke")  # tells, asks nothing


def test_which_moves_are_told_and_which_routings_found_nobody():
    from garde.dispatch.model import Priority, SlaPolicy
    from garde.dispatch.reach import nobody_may_take, tells_assignment
    from garde.dispatch.router import route
    from tests.unit.dispatch.dispatch_factories import at, board_with, rad, study

    told = frozenset({Priority.STROKE, Priority.EMERGENCY})
    assert tells_assignment(Priority.STROKE, "a", told)
    assert not tells_assignment(Priority.ROUTINE, "a", told)
    assert tells_assignment(Priority.ROUTINE, None, told)  # left with nobody: everyone hears
    policy = SlaPolicy()
    assert not nobody_may_take(route(study(), board_with(rad("a")), policy, at(0)))
    director = board_with(rad("d", director=True), shifts=[])
    assert nobody_may_take(route(study(), director, policy, at(0)))
    assert nobody_may_take(route(study(site="h9"), board_with(rad("a")), policy, at(0)))


def test_an_alert_is_moot_once_someone_reads_or_has_read_the_study() -> None:
    assert alert_moot(StudyState.IN_PROGRESS)
    assert alert_moot(StudyState.DONE)
    assert not alert_moot(StudyState.ASSIGNED)
    assert not alert_moot(StudyState.PENDING)
