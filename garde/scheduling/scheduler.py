"""APScheduler wiring: jobs registered by textual reference with explicit ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

if TYPE_CHECKING:
    from garde.bootstrap import Runtime


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """A background scheduler with Garde's periodic jobs (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    periods = runtime.settings.scheduler
    scheduler.add_job(
        "garde.scheduling.jobs:dispatch_stable_studies",
        "interval",
        seconds=periods.stability_sweep_s,
        args=[runtime],
        id="dispatch_stable_studies",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(max(1, periods.stability_sweep_s)),
    )
    return scheduler
