"""Waiting for stability: when a received study is dispatched.

A study is stable when no instance arrived for its site's stable age (``stable_age_s``
of the site, else the gateway's default; `site_stable_ages`); it is then triaged and
routed. A stroke goes
earlier, at its first complete series, and only a stroke: anything else waits for the
whole study. The store finds the quiet studies (a query over every receiving study);
these rules say what quiet means and what becomes of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from garde.dispatch.model import Site


def site_stable_ages(sites: Iterable[Site]) -> dict[str, float]:
    """The sites whose stable age overrides the default, by site id."""
    return {s.id: s.stable_age_s for s in sites if s.stable_age_s}


def dispatch_event(priority: Priority, *, first_series: bool) -> StudyEvent | None:
    """The lifecycle event that dispatches a study triaged ``priority``: stable as a
    whole, or (``first_series``: a series is complete, the rest still arriving) at its
    first series if it is a stroke; None: not yet, it waits for the whole study."""
    if not first_series:
        return StudyEvent.BECAME_STABLE
    return StudyEvent.FIRST_SERIES_STROKE if priority is Priority.STROKE else None


def next_quiet(moments: Iterable[datetime], now: datetime) -> datetime | None:
    """The first of ``moments`` (when studies or series become quiet) after ``now``;
    earlier ones were the sweep at ``now``'s to take."""
    return min((m for m in moments if m > now), default=None)
