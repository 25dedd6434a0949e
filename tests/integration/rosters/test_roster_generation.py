"""Roster generation with CP-SAT: valid by the validator, explained when impossible,
exported files that re-import identically."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Radiologist, Site
from garde.rosters import ValidationRules, import_roster, validate, write_csv, write_ics
from garde.rosters.generation import (
    Availability,
    GenerationRequest,
    HardRules,
    Progress,
    SolverSettings,
    generate,
)
from garde.rosters.generation.slots import NIGHT, STROKE, build_slots

if TYPE_CHECKING:
    from pathlib import Path

SITES = tuple(
    Site(id=f"h0{n}", name=f"CH {n}", ae_titles=frozenset({f"CT{n}"})) for n in range(1, 7)
)
ALL = frozenset(s.id for s in SITES)


def _rad(rid: str, skills: set[str], sites: set[str] | frozenset[str]) -> Radiologist:
    return Radiologist(id=rid, name=f"Dr {rid}", skills=frozenset(skills), sites=frozenset(sites))


# The example region's shape: three credentialed everywhere, four neuro readers.
RADIOLOGISTS = (
    _rad("r01", {"neuro", "body"}, ALL),
    _rad("r02", {"body", "chest"}, {"h01", "h02", "h03", "h04"}),
    _rad("r03", {"neuro", "paediatric"}, {"h01", "h03", "h05", "h06"}),
    _rad("r04", {"msk", "body"}, {"h02", "h04", "h05", "h06"}),
    _rad("r05", {"chest", "body"}, ALL),
    _rad("r06", {"neuro"}, {"h01", "h02", "h04"}),
    _rad("r07", {"body", "msk", "paediatric"}, {"h03", "h05", "h06"}),
    _rad("r08", {"neuro", "body", "chest", "msk"}, ALL),
)
FIRST = date(2025, 11, 1)  # a Saturday and a French holiday (Toussaint)
FAST = SolverSettings(time_limit_s=10, workers=2, seed=3, relative_gap=0.0)


def _request(days: int = 14, **kwargs: object) -> GenerationRequest:
    values: dict[str, object] = {
        "radiologists": RADIOLOGISTS,
        "sites": SITES,
        "first_day": FIRST,
        "days": days,
        "solver": FAST,
    }
    values.update(kwargs)
    return GenerationRequest(**values)  # type: ignore[arg-type]


def _period(request: GenerationRequest):
    slots = build_slots(request)
    return slots[0].start, slots[-1].end


def test_generated_roster_passes_the_validator() -> None:
    seen: list[Progress] = []
    request = _request(
        availability=(
            Availability("r02", fraction=0.5),
            Availability("r03", unavailable=frozenset({date(2025, 11, 5), date(2025, 11, 6)})),
            Availability("r07", wished_nights=frozenset({date(2025, 11, 12)}), max_nights=3),
        ),
        progress=seen.append,
    )
    solution = generate(request)
    assert solution.feasible, solution.explanation
    assert solution.bound <= solution.objective
    assert seen
    assert seen[-1].objective == solution.objective
    start, end = _period(request)
    report = validate(
        solution.shifts,
        radiologists=RADIOLOGISTS,
        sites=SITES,
        start=start,
        end=end,
        rules=ValidationRules(max_consecutive_nights=3, max_weekly_hours=48),
    )
    assert report.ok, report.to_dict()
    nights = [s for s in solution.shifts if s.role == NIGHT]
    assert len(nights) == 14 * request.hard.night_staff
    # Leave is respected, including the night that ends on a day of leave: no shift of
    # r03 touches 5 or 6 November, Paris time (the daytime of the 4th is free to take).
    leave = (datetime(2025, 11, 4, 23, tzinfo=UTC), datetime(2025, 11, 6, 23, tzinfo=UTC))
    r03 = [s for s in solution.shifts if s.radiologist_id == "r03"]
    assert not [s for s in r03 if s.start < leave[1] and s.end > leave[0]]
    assert [s for s in solution.shifts if s.role == STROKE]  # weekday daytime stroke cover
    loads = {load.radiologist_id: load for load in solution.loads}
    assert loads["r07"].nights <= 3
    assert loads["r02"].nights < loads["r05"].nights  # half time gets about half the nights
    assert any(s.radiologist_id == "r07" and s.start.date() == date(2025, 11, 12) for s in nights)
    assert solution.to_dict()["shifts"] == len(solution.shifts)


def test_penalties_have_structured_names() -> None:
    # Nine nights for one radiologist cannot all pair up: some cost is explained by name.
    # Two neuro readers cannot also hold every weekday's stroke cover: rostered elsewhere.
    request = _request(
        days=7,
        radiologists=(RADIOLOGISTS[0], RADIOLOGISTS[4], RADIOLOGISTS[7]),
        hard=HardRules(night_staff=1, day_staff=1, stroke_day_staff=0, max_consecutive_nights=2),
    )
    solution = generate(request)
    assert solution.feasible
    for hit in solution.penalties:
        assert hit.name.startswith(
            ("isolated_night(rad=r", "unfair_", "wish_unmet(rad=", "hours_spread")
        )
        assert hit.cost > 0
    assert sum(h.cost for h in solution.penalties) == solution.objective


def test_a_site_nobody_available_can_cover_is_named_with_the_reason() -> None:
    # h05 and h06: r01, r03, r04, r05, r07, r08. Put them all on leave on 10 November.
    off = frozenset({date(2025, 11, 10)})
    request = _request(
        days=14,
        availability=tuple(
            Availability(rid, unavailable=off) for rid in ("r01", "r03", "r04", "r05", "r07", "r08")
        ),
    )
    solution = generate(request)
    assert solution.status == "infeasible"
    assert not solution.feasible
    # The best partial roster: everything but what nobody can cover on the 10th.
    assert solution.shifts
    assert "night of Mon 2025-11-10: h05 (CH 5) not covered" in solution.unfilled
    assert all("2025-11-09" in u or "2025-11-10" in u for u in solution.unfilled)
    assert solution.to_dict()["unfilled"] == list(solution.unfilled)
    text = "\n".join(solution.explanation)
    assert "h05 (CH 5) cannot be covered on the night of Mon 2025-11-10 (20:00-08:00)" in text
    assert "r03 is on leave" in text
    assert "h06 (CH 6) cannot be covered on the night of Sun 2025-11-09" in text  # ends on the 10th
    assert "stroke" not in text  # r06 (neuro) is there


def test_a_weekday_without_a_free_stroke_reader_is_named() -> None:
    # Wednesday 12 November: the four neuro readers are all on leave, so nobody can hold
    # that day's stroke cover (sites need none on a weekday daytime).
    off = frozenset({date(2025, 11, 12)})
    request = _request(
        availability=tuple(
            Availability(rid, unavailable=off) for rid in ("r01", "r03", "r06", "r08")
        )
    )
    solution = generate(request)
    assert solution.status == "infeasible"
    assert (
        "stroke cannot be covered on the stroke day of Wed 2025-11-12 (08:00-20:00): every one "
        "who could is unavailable (r01 is on leave, r03 is on leave, r06 is on leave, "
        "r08 is on leave)"
    ) in solution.explanation
    assert not [line for line in solution.explanation if line.startswith("h0")]


def test_rules_that_cannot_hold_together_are_explained() -> None:
    # Two neuro readers credentialed everywhere, one per night, at most 24 h a week each:
    # the week of 3 November has 60 h of nights for 48 h of allowed work.
    request = _request(
        days=7,
        radiologists=(RADIOLOGISTS[0], RADIOLOGISTS[7]),
        hard=HardRules(night_staff=1, day_staff=1, max_weekly_hours=24),
    )
    solution = generate(request)
    assert solution.status == "infeasible"
    assert solution.explanation[0] == "these requirements cannot all hold together:"
    lines = solution.explanation[1:]
    assert "r01 may work at most 24 h in the week of 2025-11-03" in lines
    assert "r08 may work at most 24 h in the week of 2025-11-03" in lines
    assert any(
        line.startswith("exactly 1 radiologists are needed on the night of") for line in lines
    )


def test_a_lone_stroke_reader_owed_rest_is_the_explanation() -> None:
    # Only r01 reads strokes: Saturday night then Sunday day breaks the repos de sécurité.
    request = _request(
        days=2,
        radiologists=(RADIOLOGISTS[0], RADIOLOGISTS[4]),
        hard=HardRules(night_staff=1, day_staff=1),
    )
    solution = generate(request)
    assert solution.explanation == (
        "these requirements cannot all hold together:",
        "r01 is owed 11 h rest after each night",
        "stroke must be covered on the night of Sat 2025-11-01, the day of Sun 2025-11-02",
    )


@pytest.mark.parametrize("suffix", [".ics", ".csv"])
def test_exported_roster_reimports_identically(tmp_path: Path, suffix: str) -> None:
    request = _request(days=7)
    solution = generate(request)
    assert solution.feasible
    path = tmp_path / f"generated{suffix}"
    (write_ics if suffix == ".ics" else write_csv)(solution.shifts, path)
    imported = import_roster(path, radiologists=RADIOLOGISTS, sites=SITES)
    assert imported.shifts == tuple(
        sorted(solution.shifts, key=lambda s: (s.start, s.radiologist_id))
    )
    start, end = _period(request)
    assert (imported.start, imported.end) == (start, end)


def test_dst_month_has_a_13_hour_night() -> None:
    request = _request(days=3, first_day=date(2025, 10, 25))
    solution = generate(request)
    assert solution.feasible
    lengths = {s.start.date(): s.end - s.start for s in solution.shifts if s.role == NIGHT}
    assert lengths[date(2025, 10, 25)] == timedelta(hours=13)  # 20:00 CEST to 08:00 CET


def test_the_forecasts_demands_staff_the_nights_at_risk(tmp_path: Path) -> None:
    from garde.rosters.demands import read_demands, write_demands

    demands = tmp_path / "demands.csv"
    write_demands(demands, [(date(2025, 11, 7), 3, "+8 h neuro")])  # a Friday night
    wanted = read_demands(demands)
    request = _request(
        days=7,
        hard=HardRules(stroke_day_staff=0, night_demands=tuple(wanted.items())),
    )
    solution = generate(request)
    assert solution.feasible, solution.explanation
    per_night: dict[date, int] = {}
    for shift in solution.shifts:
        if shift.role == NIGHT:
            day = (shift.start + timedelta(hours=1)).date()  # Paris evening, in November
            per_night[day] = per_night.get(day, 0) + 1
    assert per_night.pop(date(2025, 11, 7)) == 3
    assert set(per_night.values()) == {request.hard.night_staff}
