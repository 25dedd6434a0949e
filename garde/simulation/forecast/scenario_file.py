"""A scenario TOML as an arrival model, for a region with no history in its store.

::

    name = "regional-night"
    [[rates]]                 # arrivals per hour, the region's wall clock
    from = "20:30"
    to = "00:00"              # past midnight: the next day's hours
    per_hour = 16.0
    days = ["fri", "sat"]     # optional: the days the band starts on (default: every day)
    site = "h01"              # optional: this hospital alone (default: split evenly)
    [[mix]]                   # optional: the case mix (default: NIGHTS.md's)
    key = "head-ct"
    priority = "urgent"
    share = 0.35
    minutes = 16              # mean true reading minutes at nominal speed
    skills = ["neuro"]
    [speeds]                  # optional: readers faster (> 1) or slower than nominal
    r01 = 1.2

Every problem is reported at once, naming the file and the key.
"""

from __future__ import annotations

import tomllib
from datetime import time
from typing import TYPE_CHECKING, Any

from garde.dispatch.model import Priority
from garde.simulation.forecast.errors import ScenarioError
from garde.simulation.forecast.model import ArrivalModel
from garde.simulation.scenario import ExamType, _default_exam_types

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from garde.dispatch.model import Site

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.found.append(f"{self.path}: {key}: {message}")


def load_scenario(path: Path, sites: Sequence[Site]) -> ArrivalModel:
    """The arrival model of a scenario file (raises `ScenarioError` listing every problem)."""
    problems = _Problems(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from exc
    site_ids = [s.id for s in sites]
    rates: dict[tuple[str, int], float] = {}
    for n, band in enumerate(_tables(data, "rates", problems)):
        _add_band(rates, band, f"rates[{n}]", site_ids, problems)
    if not rates and "rates" not in data:
        problems.add("rates", "expected at least one [[rates]] band")
    mix = tuple(
        exam
        for n, table in enumerate(_tables(data, "mix", problems))
        if (exam := _exam(table, f"mix[{n}]", problems)) is not None
    )
    speeds = _speeds(data, problems)
    for key in data:
        if key not in {"name", "rates", "mix", "speeds"}:
            problems.add(key, "unknown key")
    if problems.found:
        raise ScenarioError("\n".join(problems.found))
    name = str(data.get("name", path.stem))
    return ArrivalModel(
        rates=rates,
        mix=mix or _default_exam_types(),
        speeds=speeds,
        source=f"scenario {name} ({path.name})",
    )


def _speeds(data: dict[str, Any], problems: _Problems) -> dict[str, float]:
    speeds: dict[str, float] = {}
    raw = data.get("speeds", {})
    if not isinstance(raw, dict):
        problems.add("speeds", "expected a table of reader = speed")
        return speeds
    for reader, speed in raw.items():
        if isinstance(speed, int | float) and speed > 0:
            speeds[reader] = float(speed)
        else:
            problems.add(f"speeds.{reader}", f"expected a number > 0, got {speed!r}")
    return speeds


def _tables(data: dict[str, Any], key: str, problems: _Problems) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.add(key, f"expected [[{key}]] tables")
        return []
    return value


def _clock(value: object, key: str, problems: _Problems) -> time | None:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        problems.add(key, f"expected a time HH:MM, got {value!r}")
        return None


def _add_band(
    rates: dict[tuple[str, int], float],
    band: dict[str, Any],
    key: str,
    site_ids: list[str],
    problems: _Problems,
) -> None:
    begin = _clock(band.get("from"), f"{key}.from", problems)
    end = _clock(band.get("to"), f"{key}.to", problems)
    per_hour = band.get("per_hour")
    if not isinstance(per_hour, int | float) or per_hour < 0:
        problems.add(f"{key}.per_hour", f"expected a number >= 0, got {per_hour!r}")
        return
    days = band.get("days", list(DAYS))
    bad = [d for d in days if d not in DAYS] if isinstance(days, list) else [days]
    if bad:
        problems.add(f"{key}.days", f"expected days among {', '.join(DAYS)}, got {bad!r}")
        return
    site = band.get("site")
    if site is not None and site not in site_ids:
        problems.add(f"{key}.site", f"unknown site {site!r} (expected one of the config's)")
        return
    unknown = set(band) - {"from", "to", "per_hour", "days", "site"}
    for name in sorted(unknown):
        problems.add(f"{key}.{name}", "unknown key")
    if begin is None or end is None:
        return
    start_min = begin.hour * 60 + begin.minute
    end_min = end.hour * 60 + end.minute
    if end_min <= start_min:
        end_min += 24 * 60  # past midnight
    targets = [site] if site is not None else site_ids
    share = float(per_hour) / len(targets)
    for day in days:
        base = DAYS.index(day) * 24 * 60
        for minute_of_hour_start in range(start_min - start_min % 60, end_min, 60):
            covered = min(end_min, minute_of_hour_start + 60) - max(start_min, minute_of_hour_start)
            how = ((base + minute_of_hour_start) // 60) % 168
            for target in targets:
                rates[target, how] = rates.get((target, how), 0.0) + share * covered / 60


def _exam(table: dict[str, Any], key: str, problems: _Problems) -> ExamType | None:
    try:
        priority = Priority(str(table.get("priority")))
    except ValueError:
        allowed = ", ".join(p.value for p in Priority)
        problems.add(f"{key}.priority", f"expected one of {allowed}, got {table.get('priority')!r}")
        return None
    name = str(table.get("key", key))
    try:
        return ExamType(
            key=name,
            modality=str(table.get("modality", "CT")),
            body_part=str(table.get("body_part", "")),
            descriptions=(name,),
            priority=priority,
            share=float(table.get("share", 0.0)),
            mean_minutes=float(table.get("minutes", 15.0)),
            sigma=float(table.get("sigma", 0.45)),
            skills=frozenset(table.get("skills", [])),
            expected_minutes=(
                None if table.get("expected_minutes") is None else float(table["expected_minutes"])
            ),
        )
    except (TypeError, ValueError) as exc:
        problems.add(key, str(exc))
        return None
