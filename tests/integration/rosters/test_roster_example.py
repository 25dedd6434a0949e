"""The shipped example roster matches the example region and leaves no gap."""

from __future__ import annotations

from pathlib import Path

from garde.config.loader import example_path, load_settings
from garde.rosters import import_roster, validate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "roster-example.csv"


def test_example_roster_imports_and_validates_against_the_example_config() -> None:
    settings = load_settings(example_path())
    imported = import_roster(EXAMPLE, radiologists=settings.radiologists, sites=settings.sites)
    assert len(imported.shifts) == 25
    report = validate(
        imported.shifts,
        radiologists=settings.radiologists,
        sites=settings.sites,
        start=imported.start,
        end=imported.end,
    )
    assert report.ok, report.to_dict()
