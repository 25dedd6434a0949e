"""Times as a person reads them: the region's wall clock, its zone named once per output.

The store and the services keep aware UTC datetimes; only what is printed is local.
The region's zone is the config's ``[rosters] timezone`` (the zone its planners and
radiologists live in). JSON carries ISO 8601 with the region's offset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from datetime import datetime

    from garde.config.model import Settings


def region_zone(settings: Settings) -> ZoneInfo:
    """The region's time zone."""
    return ZoneInfo(settings.rosters.timezone)


def zone_note(zone: ZoneInfo, at: datetime) -> str:
    """How a header names the zone once: ``Europe/Paris, UTC+01:00``."""
    offset = at.astimezone(zone).strftime("%z")
    return f"{zone.key}, UTC{offset[:3]}:{offset[3:]}"


def clock(value: datetime | None, zone: ZoneInfo, *, now: datetime | None = None) -> str:
    """``HH:MM`` in the region; with the day (``Sat 05/12 14:30``) when not ``now``'s day."""
    if value is None:
        return "-"
    local = value.astimezone(zone)
    if now is not None and local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M}"
    return f"{local:%a %d/%m %H:%M}"


def stamp(value: datetime, zone: ZoneInfo) -> str:
    """A full local date and time, ``2026-12-05 08:30``."""
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"


def iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 with the region's offset (the JSON form)."""
    return None if value is None else value.astimezone(zone).isoformat()
