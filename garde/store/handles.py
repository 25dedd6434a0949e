"""Short study handles: what a person types instead of a 64-character StudyInstanceUID.

A study's handle is ``<site id>-<n>``: ``h03-12`` is the twelfth study hospital h03 sent
since the day's start (`day_start`, 12:00 UTC). Numbering restarts at midday, when a
night service has no night running (18:00 to 08:30 local in Europe is always on one
side of it), so a handle is unique for the night and stays short. The gateway gives it
when the study's first instance is indexed; a handle seen on several days names the
newest study (`garde.store.repositories.study.StudyRepository.find`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

DAY_STARTS = time(12, 0)
"""When (UTC) handle numbers restart."""

UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)+$")
"""A StudyInstanceUID (digits and dots); anything else given for a study is a handle."""


def day_start(at: datetime) -> datetime:
    """The latest `DAY_STARTS` at or before ``at`` (UTC)."""
    at = at.astimezone(UTC)
    start = datetime.combine(at.date(), DAY_STARTS, tzinfo=UTC)
    return start if start <= at else start - timedelta(days=1)


def handle_for(site_id: str, number: int) -> str:
    """The handle of the ``number``-th study of ``site_id`` of the day (1-based)."""
    return f"{site_id}-{number}"


def is_uid(reference: str) -> bool:
    """True if ``reference`` is a UID rather than a handle."""
    return bool(UID_PATTERN.match(reference))
