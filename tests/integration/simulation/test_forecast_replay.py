"""A forecast on the benchmark region: a full night is safe, a night two readers short is
at risk, and the addition found clears it on the same arrivals. The nights are an
evening's four hours (busy, then quiet so the backlog clears): each replication replays
the services on a store, so whole nights would take minutes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import garde
from garde.dispatch.model import Priority, Shift, SlaPolicy
from garde.simulation.forecast import Region, Request, forecast
from garde.simulation.forecast.scenario_file import load_scenario
from garde.simulation.scenario import default_night

ZONE = "Europe/Paris"
FIRST = date(2026, 1, 5)
REGIONAL = Path(garde.__file__).parent / "simulation/forecast/regional.toml"
EVENING = """
name = "evening"
[[rates]]
from = "18:00"
to = "20:00"
per_hour = 12.0
[[rates]]
from = "20:00"
to = "22:00"
per_hour = 0.0
"""


def _evening(tmp_path: Path, region: Region):  # type: ignore[no-untyped-def]
    path = tmp_path / "evening.toml"
    path.write_text(EVENING, encoding="utf-8")
    return load_scenario(path, region.sites)


def _month(nights: int, missing_on_second: frozenset[str]) -> tuple[Region, list[Shift]]:
    night = default_night()
    # The example region's targets: urgent work within the hour.
    sla = SlaPolicy(targets={**night.sla.targets, Priority.URGENT: timedelta(minutes=60)})
    region = Region(night.sites, night.radiologists, sla, ZONE, night_end=time(22, 0))
    shifts = []
    for k in range(nights):
        evening = datetime.combine(
            FIRST + timedelta(days=k), region.night_start, tzinfo=ZoneInfo(ZONE)
        )
        offset = evening.astimezone(UTC) - night.start
        shifts.extend(
            Shift(s.radiologist_id, s.start + offset, s.end + offset)
            for s in night.shifts
            if not (k == 1 and s.radiologist_id in missing_on_second)
        )
    return region, shifts


def test_a_night_short_of_readers_is_at_risk_and_an_addition_clears_it(tmp_path: Path) -> None:
    region, shifts = _month(2, frozenset({"r02", "r03"}))
    model = _evening(tmp_path, region)
    request = Request(FIRST, 2, tuple(shifts), replications=2, workers=1)
    seen: list[date] = []
    result = forecast(region, model, request, on_night=seen.append)
    assert seen == [FIRST, FIRST + timedelta(days=1)]
    full, short = result.nights
    assert (full.readers, short.readers) == (4, 2)
    assert not full.at_risk and full.addition is None
    assert short.at_risk
    urgent = next(o for o in short.outlooks if o.priority is Priority.URGENT)
    assert urgent.low <= urgent.median <= urgent.high < urgent.required
    addition = short.addition
    assert addition is not None and addition.hours is not None
    assert not any(o.at_risk for o in addition.outlooks)
    assert addition.skill in {"", "neuro", "body", "chest"}
    # The evening's load against capacity: the short night has less reading on shift.
    assert sum(h.capacity_min for h in short.hours) < sum(h.capacity_min for h in full.hours)
    data = result.to_dict()
    assert data["nights_at_risk"] == [short.night.isoformat()]
    assert data["nights"][1]["priorities"]["urgent"]["at_risk"] is True


def test_the_same_request_gives_the_same_forecast(tmp_path: Path) -> None:
    region, shifts = _month(1, frozenset())
    model = _evening(tmp_path, region)
    request = Request(FIRST, 1, tuple(shifts), replications=2, workers=1, staffing=False)
    first = forecast(region, model, request).nights[0].outlooks
    assert forecast(region, model, request).nights[0].outlooks == first
