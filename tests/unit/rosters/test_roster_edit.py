"""Roster edits as pure changes: merge, add, remove, swap (no store needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from garde.dispatch.model import Radiologist, Shift
from garde.rosters.edit import RosterEditError, add_shift, merge, swap_shifts

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2025, 11, 3, 19, tzinfo=UTC)  # 20:00 in Paris


def _night(rid: str, day: int, role: str = "night") -> Shift:
    start = MONDAY + timedelta(days=day)
    return Shift(rid, start, start + timedelta(hours=12), role=role)


def test_merge_adds_updates_and_keeps_the_rest() -> None:
    stored = [_night("r01", 0), _night("r02", 0)]
    change = merge(stored, [_night("r01", 0, "oncall"), _night("r03", 0)], PARIS)
    assert change.changed == ((stored[0], _night("r01", 0, "oncall")),)
    assert change.added == (_night("r03", 0),)
    assert change.removed == ()
    assert sorted(change.apply(stored), key=lambda s: s.radiologist_id) == [
        _night("r01", 0, "oncall"),
        _night("r02", 0),
        _night("r03", 0),
    ]


def test_a_shift_over_two_stored_ones_needs_a_replace_window() -> None:
    stored = [_night("r01", 0), _night("r01", 1)]
    long_one = Shift("r01", MONDAY, MONDAY + timedelta(hours=30))
    with pytest.raises(RosterEditError) as info:
        merge(stored, [long_one], PARIS)
    assert str(info.value) == (
        "r01 oncall Mon 03 Nov 2025 20:00 to Wed 05 Nov 02:00 overlaps the stored "
        "r01 night Mon 03 Nov 2025 20:00 to Tue 04 Nov 08:00; "
        "r01 night Tue 04 Nov 2025 20:00 to Wed 05 Nov 08:00 (name the days with --replace FROM TO)"
    )
    window = (MONDAY - timedelta(hours=19), MONDAY + timedelta(days=2))
    change = merge(stored, [long_one], PARIS, replace_window=window)
    assert change.changed == ((stored[0], long_one),)
    assert change.removed == (stored[1],)


def test_add_names_both_shifts_in_local_time() -> None:
    with pytest.raises(RosterEditError) as info:
        add_shift([_night("r01", 0)], _night("r01", 0), PARIS)
    assert str(info.value) == (
        "r01 night Mon 03 Nov 2025 20:00 to Tue 04 Nov 08:00 "
        "overlaps r01 night Mon 03 Nov 2025 20:00 to Tue 04 Nov 08:00"
    )


def test_swap_refuses_a_taker_without_the_credential() -> None:
    shift = Shift("r01", MONDAY, MONDAY + timedelta(hours=12), sites=frozenset({"h05"}))
    giver = Radiologist("r01", "Dr A", frozenset(), frozenset({"h05"}))
    taker = Radiologist("r02", "Dr B", frozenset(), frozenset({"h01"}))
    with pytest.raises(RosterEditError, match="r02 is not credentialed for h05"):
        swap_shifts([shift], (giver, MONDAY), (taker, None), PARIS)
