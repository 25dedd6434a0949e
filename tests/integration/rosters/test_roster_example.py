"""The shipped example roster matches the example region: no gap in the on-call hours,
and the weekday daytime stroke gaps it leaves are reported (stroke is around the clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from garde.config.loader import example_path, load_settings
from garde.rosters import OnCallHours, ValidationRules, import_roster, validate
from garde.rosters.validation import STROKE

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "roster-example.csv"


def test_example_roster_imports_and_validates_against_the_example_config() -> None:
    settings = load_settings(example_path())
    imported = import_roster(EXAMPLE, radiologists=settings.radiologists, sites=settings.sites)
    assert len(imported.shifts) == 25

    def check(rules: ValidationRules):
        return validate(
            imported.shifts,
            radiologists=settings.radiologists,
            sites=settings.sites,
            start=imported.start,
            end=imported.end,
            rules=rules,
        )

    on_call = check(ValidationRules(stroke_cover=OnCallHours()))
    assert on_call.ok, on_call.to_dict()
    # The file holds nights and weekend days only: Tuesday to Friday, 08:00-20:00 Paris
    # (07:00-19:00 UTC), nobody reads a stroke. Sites need no weekday daytime cover.
    around = check(ValidationRules())
    assert [(g.site, g.start, g.end) for g in around.gaps] == [
        (STROKE, datetime(2025, 11, day, 7, tzinfo=UTC), datetime(2025, 11, day, 19, tzinfo=UTC))
        for day in (4, 5, 6, 7)
    ]
    assert around.violations == ()
