"""Roster validation: exact gaps per site and for stroke, rest rules, report outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from PIL import Image

from garde.dispatch.model import Shift
from garde.rosters.heatmap import render_heatmap
from garde.rosters.oncall import OnCallHours
from garde.rosters.report_text import render_text
from garde.rosters.validation import STROKE, RosterReport, ValidationRules, validate
from tests.unit.rosters.registry import RADIOLOGISTS, SITES

if TYPE_CHECKING:
    from pathlib import Path

# Monday 2025-11-03 00:00 Paris (CET, UTC+1) to Monday 2025-11-10.
WEEK = (datetime(2025, 11, 2, 23, tzinfo=UTC), datetime(2025, 11, 9, 23, tzinfo=UTC))


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2025 Paris wall-clock time (CET = UTC+1) as UTC."""
    return datetime(2025, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def _night(rid: str, day: int, **kwargs: object) -> Shift:
    return Shift(rid, _utc(day, 20), _utc(day + 1, 8), "night", **kwargs)  # type: ignore[arg-type]


def _validate(shifts: list[Shift], start: datetime, end: datetime, **rules: object):
    return validate(
        shifts,
        radiologists=RADIOLOGISTS,
        sites=SITES,
        start=start,
        end=end,
        rules=ValidationRules(**rules),  # type: ignore[arg-type]
    )


# Stroke is checked every hour by default; tests about the on-call hours check it there.
ON_CALL_STROKE = OnCallHours()


def test_a_full_night_has_no_gap() -> None:
    report = _validate([_night("r01", 5)], _utc(5, 12), _utc(6, 12), stroke_cover=ON_CALL_STROKE)
    assert report.ok
    assert report.gaps == ()


def test_a_gap_names_the_exact_hour_and_site() -> None:
    # r04 (body, all sites) covers the night but leaves at 02:00; r03 (neuro, h03/h04)
    # stays: from 02:00 to 08:00 h01 and h02 have nobody credentialed on shift.
    shifts = [
        Shift("r04", _utc(5, 20), _utc(6, 2), "night"),
        Shift("r03", _utc(5, 20), _utc(6, 8), "night"),
    ]
    report = _validate(shifts, _utc(5, 12), _utc(6, 12), stroke_cover=ON_CALL_STROKE)
    gaps = [(g.site, g.start, g.end, g.on_shift) for g in report.gaps]
    assert gaps == [
        ("h01", _utc(6, 2), _utc(6, 8), ("r03",)),
        ("h02", _utc(6, 2), _utc(6, 8), ("r03",)),
    ]
    assert report.gaps[0].hours == 6.0
    # 20:00-21:00 local, cover needed from night_start: no gap before 02:00.
    hour_02 = report.hours.index(_utc(6, 2))
    assert report.coverage["h01"][hour_02 - 1] == 1
    assert report.coverage["h01"][hour_02] == 0
    assert report.coverage["h03"][hour_02] == 1


def test_a_partial_hour_gap_is_exact_to_the_minute() -> None:
    shifts = [
        Shift("r01", _utc(5, 20), _utc(6, 1, 30), "night"),
        Shift("r01", _utc(6, 2), _utc(6, 8), "night"),
    ]
    report = _validate(shifts, _utc(5, 20), _utc(6, 8))
    assert {(g.site, g.start, g.end) for g in report.gaps} == {
        (site, _utc(6, 1, 30), _utc(6, 2)) for site in ("h01", "h02", "h03", "h04", STROKE)
    }


def test_stroke_cover_needs_the_neuro_skill_or_the_pool() -> None:
    shifts = [_night("r04", 5)]  # body and chest, every site: no stroke reader
    report = _validate(shifts, _utc(5, 20), _utc(6, 8))
    assert [(g.site, g.start, g.end) for g in report.gaps] == [(STROKE, _utc(5, 20), _utc(6, 8))]
    pooled = _validate(shifts, _utc(5, 20), _utc(6, 8), stroke_pool=frozenset({"r04"}))
    assert pooled.ok


def test_stroke_cover_is_checked_around_the_clock() -> None:
    # Wednesday 5 November: r01 (neuro) holds both nights, r04 (no neuro) the day between.
    # Sites need no weekday daytime cover; stroke does, and r04 cannot give it.
    shifts = [_night("r01", 4), Shift("r04", _utc(5, 8), _utc(5, 20), "day"), _night("r01", 5)]
    report = _validate(shifts, _utc(4, 20), _utc(6, 8))
    assert [(g.site, g.start, g.end, g.on_shift) for g in report.gaps] == [
        (STROKE, _utc(5, 8), _utc(5, 20), ("r04",))
    ]
    noon = report.hours.index(_utc(5, 12))
    assert report.required[STROKE][noon]
    assert not report.required["h01"][noon]
    assert report.coverage[STROKE][noon] == 0
    # A stroke reader by the pool closes it; so does checking stroke on on-call hours only.
    assert _validate(shifts, _utc(4, 20), _utc(6, 8), stroke_pool=frozenset({"r04"})).ok
    assert _validate(shifts, _utc(4, 20), _utc(6, 8), stroke_cover=ON_CALL_STROKE).ok


def _site_gaps(report: RosterReport) -> set[tuple[datetime, datetime]]:
    return {(g.start, g.end) for g in report.gaps if g.site != STROKE}


def test_weekend_days_need_cover_weekday_days_do_not() -> None:
    shifts = [_night("r01", 7), _night("r01", 8)]  # Friday and Saturday nights, no day
    report = _validate(shifts, _utc(7, 8), _utc(9, 8), max_consecutive_nights=3)
    assert _site_gaps(report) == {(_utc(8, 8), _utc(8, 20))}
    around = _validate(shifts, _utc(7, 8), _utc(9, 8), cover=None)
    assert _site_gaps(around) == {(_utc(7, 8), _utc(7, 20)), (_utc(8, 8), _utc(8, 20))}


def test_public_holiday_daytime_needs_cover() -> None:
    # Tuesday 11 November 2025 (Armistice) is a French public holiday.
    report = _validate([_night("r01", 10), _night("r01", 11)], _utc(10, 20), _utc(12, 8))
    assert {(g.start, g.end) for g in report.gaps} == {(_utc(11, 8), _utc(11, 20))}


def test_repos_de_securite_after_a_night() -> None:
    shifts = [
        Shift("r01", _utc(5, 18), _utc(6, 8, 30), "night"),
        Shift("r01", _utc(6, 18), _utc(7, 8, 30), "night"),
    ]
    report = _validate(shifts, _utc(5, 12), _utc(7, 12), cover=None)
    (violation,) = report.violations
    assert violation.rule == "rest"
    assert violation.radiologist_id == "r01"
    assert violation.at == _utc(6, 18)
    assert "9.5 h rest" in violation.detail


def test_consecutive_nights_and_weekly_hours() -> None:
    shifts = [_night("r01", d) for d in range(3, 8)]  # Monday to Friday nights: 5 x 12 h
    report = _validate(shifts, *WEEK, max_consecutive_nights=3, max_weekly_hours=48)
    rules = [(v.rule, v.at) for v in report.violations]
    assert ("consecutive_nights", _utc(6, 20)) in rules  # the 4th night
    assert ("weekly_hours", _utc(3, 0)) in rules
    assert len(rules) == 2
    weekly = next(v for v in report.violations if v.rule == "weekly_hours")
    assert weekly.detail.startswith("60 h in the week of 2025-11-03")


def test_restricted_sites_and_credentials_both_apply() -> None:
    # r02 lists h01 only: h02 (credentialed but not listed) and h03 (never) are uncovered.
    shifts = [Shift("r02", _utc(5, 20), _utc(6, 8), "night", frozenset({"h01"})), _night("r03", 5)]
    report = _validate(shifts, _utc(5, 20), _utc(6, 8))
    assert [g.site for g in report.gaps] == ["h02"]


def test_unknown_radiologist_is_a_violation() -> None:
    report = _validate([_night("r99", 5), _night("r01", 5)], _utc(5, 20), _utc(6, 8))
    assert [(v.rule, v.radiologist_id) for v in report.violations] == [
        ("unknown_radiologist", "r99")
    ]


def test_dict_text_and_heat_map(tmp_path: Path) -> None:
    shifts = [Shift("r04", _utc(5, 20), _utc(6, 2), "night"), _night("r03", 5)]
    report = _validate(shifts, *WEEK, cover=OnCallHours())
    data = json.loads(json.dumps(report.to_dict(include_coverage=True)))
    assert data["ok"] is False
    first = data["gaps"][0]
    assert first["site"] == "h01"
    assert first["start_local"] == "2025-11-03T00:00:00+01:00"  # the Sunday night, uncovered
    assert len(data["hours"]) == 168
    text = render_text(report)
    assert "h01 (CH 1)" in text
    assert "Thu 2025-11-06 02:00" in text
    png = render_heatmap(report, tmp_path / "cover.png")
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.width >= 168 * 2
        # A gap cell is red somewhere, a covered one green.
        colours = {c for _, c in image.getcolors(maxcolors=1 << 16) or []}
    assert (214, 39, 40) in colours
    assert (166, 217, 106) in colours
