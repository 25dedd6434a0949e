"""The watch's rules: a new tier, the supervisors on shift, who may acknowledge."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from garde.dispatch.escalation import (
    TIER_LEVEL,
    may_acknowledge,
    new_tier,
    supervisors_on_shift,
)
from garde.dispatch.model import Priority, SlaPolicy, Study
from garde.dispatch.sla import EscalationTier
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study

POLICY = SlaPolicy()


def _stroke_after(minutes: float) -> tuple[Study, datetime]:
    s = study(priority=Priority.STROKE)  # due 20 min after arrival: tiers at 10, 15, 20
    return s, s.arrived_at + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("minutes", "reached", "expected"),
    [
        (5, 0, None),  # no tier yet
        (10, 0, EscalationTier.ALERT),
        (12, 1, None),  # the alert was sent already
        (15, 1, EscalationTier.REASSIGN),
        (25, 0, EscalationTier.SUPERVISOR),  # two tiers crossed between runs: the higher
        (25, 3, None),
    ],
)
def test_a_tier_escalates_once_and_only_when_above_the_stored_level(
    minutes: float, reached: int, expected: EscalationTier | None
) -> None:
    s, now = _stroke_after(minutes)
    assert new_tier(POLICY, s, now, reached) is expected


def test_the_stored_levels_follow_the_tiers_order() -> None:
    assert [TIER_LEVEL[t] for t in EscalationTier] == [1, 2, 3]


def test_the_supervisors_on_shift_now_in_board_order() -> None:
    board = board_with(
        dataclasses.replace(rad("s2"), supervisor=True),
        rad("r1"),
        dataclasses.replace(rad("s1"), supervisor=True),
        dataclasses.replace(rad("s3"), supervisor=True),
        shifts=[shift("s2"), shift("r1"), shift("s1"), shift("s3", start=600)],
    )
    assert supervisors_on_shift(board, at(60)) == ("s1", "s2")  # s3 is not on shift yet
    assert supervisors_on_shift(board, at(700)) == ("s1", "s2", "s3")
    assert supervisors_on_shift(board_with(rad("r1")), at(60)) == ()


def test_who_may_acknowledge_a_studys_alerts() -> None:
    supervisor = dataclasses.replace(rad("s1"), supervisor=True)
    director = rad("d0", director=True)
    assert may_acknowledge("op", "r1", operator=True, reader=None)
    assert may_acknowledge("r1", "r1", operator=False, reader=rad("r1"))
    assert may_acknowledge("s1", "r1", operator=False, reader=supervisor)
    assert may_acknowledge("d0", None, operator=False, reader=director)
    assert not may_acknowledge("r2", "r1", operator=False, reader=rad("r2"))
    assert not may_acknowledge("r2", None, operator=False, reader=rad("r2"))
    assert not may_acknowledge("ghost", "r1", operator=False, reader=None)
