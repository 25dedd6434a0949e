"""When a notification that failed to go out is tried again, or given up (issue 12,
"nobody unreachable"; issue 16 item 1: the webhook service decides nothing of it).

Each further try waits twice as long as the one before, from ``backoff_s`` up to
``backoff_max_s``. A notification about a study still open is retried for as long as
the study is open (a stroke's alert is never given up after a few seconds of a receiver
down); any other is given up after ``attempts`` tries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import StudyState

if TYPE_CHECKING:
    from datetime import datetime


def keeps_trying(state: StudyState | None) -> bool:
    """Whether a notification about a study in ``state`` (None: about no study, or one
    the store no longer has) is retried without end: the study is still open."""
    return state is not None and state is not StudyState.DONE


def next_attempt(
    tries: int,
    at: datetime,
    *,
    attempts: int,
    study_open: bool,
    backoff_s: float,
    backoff_max_s: float,
) -> datetime | None:
    """When to try again after the ``tries``-th try failed at ``at``; None: give it up
    (``attempts`` tries made, and no open study keeps it alive)."""
    if tries >= attempts and not study_open:
        return None
    delay = min(backoff_s * 2.0 ** min(tries - 1, 60), backoff_max_s)
    return at + timedelta(seconds=delay)
