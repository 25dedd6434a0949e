"""A stroke whose series declares how many images it holds (Images in Acquisition,
0020,1002) is dispatched the moment that many are stored by a running `garde serve`,
not after its quiet window; a declared count larger than what arrives blocks nothing:
the quiet window still dispatches it. Real pushes (`garde push`'s SCU), a real serve
and a real webhook receiver (the stroke_to_reader benchmark's harness, one push each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from benchmarks.stroke_to_reader import run_mode

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow
SLICES = 12


def test_a_series_holding_its_declared_count_goes_long_before_its_window(
    tmp_path: Path,
) -> None:
    [row] = run_mode(
        tmp_path,
        "declared",
        pushes=1,
        slices=SLICES,
        stable_age_s=60,
        stroke_stable_age_s=30,  # the window alone would take 30 s
        together=False,
        declared=SLICES,
    )
    assert row["assigned_s"] < 5
    assert row["notified_s"] < 6


def test_a_declared_count_never_reached_leaves_the_window_to_dispatch(tmp_path: Path) -> None:
    [row] = run_mode(
        tmp_path,
        "short",
        pushes=1,
        slices=SLICES,
        stable_age_s=60,
        stroke_stable_age_s=2,
        together=False,
        declared=SLICES + 50,  # the modality promised more than it sent
    )
    assert 1.5 <= row["assigned_s"] < 10  # after the quiet window, long before the minute
