"""Misses against the offline reference: one definition for every side."""

from __future__ import annotations

import pytest

from garde.dispatch.model import Priority
from garde.simulation.offline import OfflineNight, OfflineRead, Tier
from garde.simulation.offline_figures import MissCount, miss_counts, ratios, solver_status


def _read(priority: str, arrived: float, finished: float) -> OfflineRead:
    return OfflineRead("u", priority, "r1", arrived, arrived + 60, arrived, finished)


def _night(*reads: OfflineRead, unread: tuple[str, ...] = (), optimal: bool = True) -> OfflineNight:
    tiers = (Tier("weighted_misses", optimal, 1000, 1000 if optimal else 500),)
    return OfflineNight(reads, unread, tiers)


def test_within_is_the_report_done_by_the_target_and_unread_is_a_miss() -> None:
    mine = [
        _night(
            _read("urgent", 0, 60),  # exactly 60: within
            _read("urgent", 0, 60.5),  # a miss
            _read("stroke", 10, 26),  # 16 min: a miss
            unread=("urgent",),
        )
    ]
    reference = [_night(_read("urgent", 0, 30), _read("urgent", 0, 61))]
    counts = miss_counts(mine, reference)
    assert counts[Priority.URGENT] == MissCount(2, 1)
    assert counts[Priority.STROKE] == MissCount(1, 0)
    assert counts[Priority.EMERGENCY] == MissCount(0, 0)


def test_the_ratio_is_none_only_when_the_reference_misses_nothing_and_the_policy_does() -> None:
    assert MissCount(6, 3).ratio == 2.0
    assert MissCount(0, 0).ratio == 1.0
    assert MissCount(1, 0).ratio is None
    assert ratios({Priority.URGENT: MissCount(3, 2)}) == {
        "urgent": {"policy": 3, "offline": 2, "ratio": 1.5}
    }


def test_nights_must_pair() -> None:
    with pytest.raises(ValueError, match="differ in number"):
        miss_counts([_night()], [])


def test_solver_status_counts_proven_nights_and_the_open_gap() -> None:
    status = solver_status([_night(), _night(optimal=False)])
    assert status["proven_optimal_nights"] == 1
    assert status["weighted_misses"] == {
        "proven_nights": 1,
        "value": 2000,
        "bound": 1500,
        "mean_gap_unproven": 0.5,
    }
