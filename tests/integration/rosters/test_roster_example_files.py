"""Every roster format the README documents has an example in examples/, and each reads
against the example region: the grid CSV and XLSX and the .ics hold exactly the week of
examples/roster-example.csv, and the availability file feeds a generation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from garde.config.loader import example_path, load_settings
from garde.rosters import import_roster
from garde.rosters.availability import read_availability
from garde.services.rostering import import_rules

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("name", ["roster-grid.csv", "roster-grid.xlsx", "roster-example.ics"])
def test_each_format_holds_the_example_week(name: str) -> None:
    settings = load_settings(example_path())

    def read(path: Path) -> object:
        return import_roster(
            path,
            radiologists=settings.radiologists,
            sites=settings.sites,
            rules=import_rules(settings.rosters),
        ).shifts

    listed = read(EXAMPLES / "roster-example.csv")
    assert read(EXAMPLES / name) == listed


def test_the_availability_example_reads() -> None:
    settings = load_settings(example_path())
    wishes = read_availability(
        EXAMPLES / "availability-example.csv", {r.id for r in settings.radiologists}
    )
    assert [w.radiologist_id for w in wishes] == ["r01", "r03", "r07"]
    assert date(2026, 12, 25) in wishes[0].unavailable
    assert wishes[1].fraction == 0.5
