"""Generation that is fair in hours and explains itself (issue 17, item 7): hours even
out between radiologists (nights and weekends weighted), the text output has a
per-person table, and an infeasible request still yields the best partial roster with
its unfilled seats marked, and why."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest

from garde.config.loader import example_path, load_settings
from garde.rosters import import_roster
from garde.rosters.generation import (
    GenerationRequest,
    HardRules,
    SoftWeights,
    SolverSettings,
    generate,
)
from tests.integration.rosters.test_roster_commands import garde, write_config

if TYPE_CHECKING:
    from pathlib import Path

    from garde.rosters.generation import RosterSolution

SOLVER = SolverSettings(time_limit_s=15, workers=2, seed=1, patience_s=3)


def _spread(solution: RosterSolution) -> float:
    hours = [load.hours for load in solution.loads]
    return max(hours) - min(hours)


def test_hours_are_balanced_within_what_the_skills_allow() -> None:
    # The example region: 4 of 8 radiologists read strokes, so they alone hold weekday
    # stroke days; balancing hours moves nights to the others.
    settings = load_settings(example_path())
    # As `garde roster generate` does: the medical director is on no shift.
    rostered = tuple(r for r in settings.radiologists if not r.medical_director)

    def month(soft: SoftWeights) -> RosterSolution:
        return generate(
            GenerationRequest(
                radiologists=rostered,
                sites=settings.sites,
                first_day=date(2026, 12, 1),
                days=31,
                hard=HardRules(),
                soft=soft,
                solver=SOLVER,
            )
        )

    unbalanced = month(SoftWeights(hours_fairness=0))
    balanced = month(SoftWeights())
    assert unbalanced.feasible
    assert balanced.feasible
    assert _spread(balanced) < _spread(unbalanced)
    stroke_readers = {"r01", "r03", "r06", "r08"}
    for group in (stroke_readers, {r.id for r in rostered} - stroke_readers):
        hours = [load.hours for load in balanced.loads if load.radiologist_id in group]
        assert max(hours) - min(hours) <= 24, hours  # two shifts at most within a group


@pytest.fixture
def config(tmp_path: Path, migrated_url: str) -> Path:
    return write_config(tmp_path, migrated_url)


def test_the_text_output_has_a_per_person_table(config: Path, tmp_path: Path) -> None:
    result = garde(
        config, "roster", "generate", "--from", "2026-12-01", "--days", "7", "--time-limit", "10"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[2].split()
    assert header == [
        "radiologist",
        "nights",
        "weekends",
        "holidays",
        "stroke",
        "days",
        "hours",
        "weighted",
        "even",
        "share",
    ]
    rows = {line.split()[0]: line.split() for line in lines[3:11]}
    assert sorted(rows) == [f"r0{n}" for n in range(1, 9)]
    assert sum(int(row[1]) for row in rows.values()) == 7 * 2  # two radiologists a night


def test_an_infeasible_month_yields_the_best_partial_roster(config: Path, tmp_path: Path) -> None:
    # Every stroke reader on leave on Wednesday 9 December: nobody can hold stroke then.
    availability = tmp_path / "leave.csv"
    availability.write_text(
        "radiologist,unavailable\n"
        + "".join(f"{rid},2026-12-09\n" for rid in ("r01", "r03", "r06", "r08")),
        encoding="utf-8",
    )
    out = tmp_path / "partial.csv"
    result = garde(
        config,
        "roster",
        "generate",
        "--from",
        "2026-12-07",
        "--days",
        "7",
        "--availability",
        str(availability),
        "--time-limit",
        "10",
        "--csv",
        str(out),
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("infeasible: ")
    assert "UNFILLED" in result.stdout
    assert "stroke day of Wed 2026-12-09: stroke not covered" in result.stdout
    assert "night of Wed 2026-12-09: stroke not covered" in result.stdout
    assert "stroke cannot be covered on the stroke day of Wed 2026-12-09" in result.stderr
    # The partial roster is written, its unfilled seats as comments the import skips.
    text = out.read_text(encoding="utf-8")
    assert "# unfilled: night of Wed 2026-12-09: stroke not covered" in text
    settings = load_settings(example_path())
    partial = import_roster(out, radiologists=settings.radiologists, sites=settings.sites)
    assert len(partial.shifts) > 7  # every other night and day is staffed
