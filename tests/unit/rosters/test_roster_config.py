"""The ``[rosters]`` config table: typed, validated with located one-line errors, and
the very rules that validation and generation apply."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from garde.config import ConfigError, load_settings
from garde.config.loader import example_path
from garde.config.model import RosterSettings, SiteCover
from garde.dispatch.model import Shift
from garde.rosters import validate
from garde.rosters.validation import STROKE
from garde.services.rostering import hard_rules, validation_rules

if TYPE_CHECKING:
    from pathlib import Path

REGION = """
[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH One"
ae_titles = ["ONE_CT"]

[[radiologists]]
id = "r01"
name = "Dr One"
skills = ["neuro"]
sites = ["h01"]

[[radiologists]]
id = "r02"
name = "Dr Two"
skills = ["body"]
sites = ["h01"]
"""


def _config(tmp_path: Path, rosters: str = "") -> Path:
    path = tmp_path / "garde.toml"
    path.write_text(REGION + (f"\n[rosters]\n{rosters}\n" if rosters else ""), encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    lines = str(info.value).splitlines()
    assert all(line.startswith(f"{path}: rosters.") for line in lines), lines
    return [line.removeprefix(f"{path}: ") for line in lines]


def test_without_a_rosters_table_the_documented_defaults_apply(tmp_path: Path) -> None:
    assert load_settings(_config(tmp_path)).rosters == RosterSettings()


def test_example_documents_every_key_with_its_default() -> None:
    table = tomllib.loads(example_path().read_text(encoding="utf-8"))["rosters"]
    assert set(table) == set(RosterSettings.__slots__)
    assert load_settings(example_path()).rosters == RosterSettings()


def test_a_full_table_is_read_and_typed(tmp_path: Path) -> None:
    rosters = load_settings(
        _config(
            tmp_path,
            'timezone = "Europe/Brussels"\n'
            'stroke_pool = ["r02"]\n'
            "rest_after_night_h = 12.5\n"
            "max_consecutive_nights = 2\n"
            "max_weekly_hours = 40\n"
            "night_staff = 1\n"
            "day_staff = 3\n"
            "stroke_day_staff = 0\n"
            'site_cover = "always"\n',
        )
    ).rosters
    assert rosters == RosterSettings(
        timezone="Europe/Brussels",
        stroke_pool=frozenset({"r02"}),
        rest_after_night_h=12.5,
        max_consecutive_nights=2,
        max_weekly_hours=40.0,
        night_staff=1,
        day_staff=3,
        stroke_day_staff=0,
        site_cover=SiteCover.ALWAYS,
    )


def test_an_unknown_radiologist_in_the_stroke_pool_is_a_config_error(tmp_path: Path) -> None:
    path = _config(tmp_path, 'stroke_pool = ["r02", "r99"]')
    assert _problems(path) == ["rosters.stroke_pool: unknown radiologist 'r99' (known: r01, r02)"]


def test_every_bad_key_gets_its_own_located_line(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        'timezone = "Mars/Olympus"\n'
        'stroke_pool = "r01"\n'
        "rest_after_night_h = -1\n"
        "max_consecutive_nights = 0\n"
        "max_weekly_hours = 200\n"
        'night_staff = "two"\n'
        "day_staff = 0\n"
        "stroke_day_staff = -1\n"
        'site_cover = "weekdays"\n'
        "max_nights = 4\n",
    )
    assert _problems(path) == [
        (
            "rosters.timezone: unknown time zone 'Mars/Olympus' (expected an IANA name such as "
            "Europe/Paris)"
        ),
        "rosters.stroke_pool: expected a list of strings, got 'r01'",
        "rosters.max_weekly_hours: expected at most 168 hours, got 200",
        "rosters.rest_after_night_h: expected a number >= 0.0, got -1.0",
        "rosters.max_consecutive_nights: expected an integer >= 1, got 0",
        "rosters.night_staff: expected an integer, got str 'two'",
        "rosters.day_staff: expected an integer >= 1, got 0",
        "rosters.stroke_day_staff: expected an integer >= 0, got -1",
        "rosters.site_cover: expected one of on_call, always, got 'weekdays'",
        "rosters.max_nights: unknown key",
    ]


def test_environment_overrides_the_table(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path),
        {"GARDE_ROSTERS__STROKE_POOL": '["r02"]', "GARDE_ROSTERS__SITE_COVER": "always"},
    )
    assert settings.rosters.stroke_pool == frozenset({"r02"})
    assert settings.rosters.site_cover is SiteCover.ALWAYS


def test_configured_rules_reach_the_validator(tmp_path: Path) -> None:
    # Wednesday 5 November 2025, Paris (UTC+1): r02 (body, no neuro) holds the night.
    night = Shift(
        "r02", datetime(2025, 11, 5, 19, tzinfo=UTC), datetime(2025, 11, 6, 7, tzinfo=UTC)
    )
    period = (night.start, night.end)
    settings = load_settings(_config(tmp_path))

    def gaps(rules_source: RosterSettings) -> list[str]:
        report = validate(
            [night],
            radiologists=settings.radiologists,
            sites=settings.sites,
            start=period[0],
            end=period[1],
            rules=validation_rules(rules_source),
        )
        return [g.site for g in report.gaps]

    assert gaps(settings.rosters) == [STROKE]
    pooled = load_settings(_config(tmp_path, 'stroke_pool = ["r02"]')).rosters
    assert gaps(pooled) == []

    strict = load_settings(
        _config(tmp_path, "rest_after_night_h = 13\nmax_consecutive_nights = 1\n")
    ).rosters
    rules = validation_rules(strict)
    assert rules.rest_after_night == timedelta(hours=13)
    assert rules.max_consecutive_nights == 1
    assert rules.cover is not None  # sites: on-call hours
    assert rules.stroke_cover is None  # stroke: every hour
    assert validation_rules(strict, site_cover="always").cover is None


def test_configured_rules_reach_the_generator(tmp_path: Path) -> None:
    rosters = load_settings(
        _config(
            tmp_path,
            'stroke_pool = ["r02"]\nnight_staff = 1\nday_staff = 3\nstroke_day_staff = 2\n'
            "rest_after_night_h = 12\nmax_consecutive_nights = 2\nmax_weekly_hours = 40\n",
        )
    ).rosters
    hard = hard_rules(rosters)
    assert (hard.night_staff, hard.day_staff, hard.stroke_day_staff) == (1, 3, 2)
    assert hard.stroke_pool == frozenset({"r02"})
    assert hard.rest_after_night == timedelta(hours=12)
    assert (hard.max_consecutive_nights, hard.max_weekly_hours) == (2, 40.0)


def test_planner_keys_load_and_extend_the_defaults(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        'max_shift_hours = 13\nroles = ["oncall", "night", "day", "stroke", "backup", "renfort"]\n'
        "hours_fairness = 2\n"
        '[rosters.role_aliases]\nrenfort = "renfort"\n'
        '[rosters.grid_codes]\nG = { role = "oncall", start = "18:30", end = "08:30" }\n',
    )
    rosters = load_settings(path).rosters
    assert rosters.max_shift_hours == 13
    assert rosters.role_aliases["nuit"] == "night"  # the defaults stay
    assert rosters.role_aliases["renfort"] == "renfort"
    assert rosters.grid_codes["G"].start.isoformat() == "18:30:00"
    assert "N" in rosters.grid_codes
    assert rosters.hours_fairness == 2


def test_bad_planner_keys_are_named(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        "max_shift_hours = 0\n"
        '[rosters.role_aliases]\nvacances = "holiday"\n'
        '[rosters.grid_codes]\nX = { role = "night", start = "late" , end = "08:00" }\n'
        'Y = { role = "sleep", start = "20:00", end = "08:00" }\n',
    )
    assert sorted(_problems(path)) == [
        "rosters.grid_codes.X: unexpected value {'role': 'night', 'start': 'late', 'end': '08:00'}",
        (
            "rosters.grid_codes.Y: role 'sleep' is not one of ['oncall', 'night', 'day', 'stroke', "
            "'backup']"
        ),
        "rosters.max_shift_hours: expected a number > 0.0, got 0.0",
        (
            "rosters.role_aliases.vacances: 'holiday' is not one of roles ['oncall', 'night', 'day', "
            "'stroke', 'backup']"
        ),
    ]
