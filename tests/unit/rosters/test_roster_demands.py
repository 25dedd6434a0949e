"""The demands file between `garde forecast` and `roster generate`: round trip, every bad
line named."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest

from garde.rosters.demands import read_demands, write_demands
from garde.rosters.errors import RosterImportError
from garde.rosters.generation import HardRules

if TYPE_CHECKING:
    from pathlib import Path


def test_round_trip_and_the_rules_take_it(tmp_path: Path) -> None:
    path = tmp_path / "demands.csv"
    write_demands(path, [(date(2026, 12, 24), 3, "+4 h neuro"), (date(2026, 12, 31), 4, "")])
    demands = read_demands(path)
    assert demands == {date(2026, 12, 24): 3, date(2026, 12, 31): 4}
    hard = HardRules(night_staff=2, night_demands=tuple(demands.items()))
    assert hard.night_staff_on(date(2026, 12, 24)) == 3
    assert hard.night_staff_on(date(2026, 12, 25)) == 2


def test_every_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "demands.csv"
    path.write_text(
        "# a comment\nnight,night_staff\n2026-13-01,3\n2026-12-24,0\n2026-12-25,2\n2026-12-25,3\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterImportError) as caught:
        read_demands(path)
    text = str(caught.value)
    assert "line 3: night: expected a date" in text
    assert "line 4: night_staff: expected a whole number >= 1" in text
    assert "line 6: night 2026-12-25 is given twice" in text
    missing = tmp_path / "bad.csv"
    missing.write_text("day,staff\n", encoding="utf-8")
    with pytest.raises(RosterImportError, match="missing column"):
        read_demands(missing)
