"""Periodic jobs. Each reads "now" once, works in its own unit(s) of work, calls the core
and is idempotent, so a missed or doubled run does no harm. A job is a boundary: it logs
and carries on (the next run retries), never crashes the scheduler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from garde.bootstrap import Runtime

logger = logging.getLogger(__name__)


def dispatch_stable_studies(runtime: Runtime) -> int:
    """Stability sweep: triage and route every study that became stable."""
    now = runtime.clock.now()
    try:
        decisions = runtime.dispatch.sweep(now)
    except Exception:
        logger.exception("stability sweep failed; it will run again")
        return 0
    return len(decisions)
