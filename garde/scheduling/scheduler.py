"""APScheduler wiring: jobs registered by textual reference with explicit ids."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

if TYPE_CHECKING:
    from datetime import datetime

    from apscheduler.schedulers.base import BaseScheduler

    from garde.bootstrap import Runtime
    from garde.config.model import SchedulerSettings

JOBS = "garde.scheduling.jobs"
SWEEP = "dispatch_stable_studies"
# How often the leader looks for new arrivals to time the sweep by (`jobs.watch_arrivals`):
# a stroke's quiet window is seconds, the sweep's period is not.
ARRIVAL_WATCH_S = 1.0


def job_periods(periods: SchedulerSettings) -> dict[str, float]:
    """Job id (a function of `garde.scheduling.jobs`) -> period in seconds."""
    return {
        "dispatch_stable_studies": periods.stability_sweep_s,
        "watch_arrivals": min(ARRIVAL_WATCH_S, periods.stability_sweep_s),
        "watch_sla": periods.sla_watch_s,
        "hand_over_shifts": periods.handover_s,
        "replan": periods.replan_s,
        "purge_expired_pixels": periods.retention_s,
    }


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """A background scheduler with Garde's periodic jobs (not started).

    The stability sweep also runs at the moments the store says a study becomes
    stable (`jobs.dispatch_stable_studies` asks for them through ``runtime.sweep_at``):
    a study is dispatched, and previewed, when it is stable, not up to a period later.
    """
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, runtime)
    runtime.sweep_at = functools.partial(_sweep_at, scheduler)
    return scheduler


def _sweep_at(scheduler: BaseScheduler, when: datetime) -> None:
    """Bring the stability sweep's next run forward to ``when`` (never push it back)."""
    job = scheduler.get_job(SWEEP)
    if job is not None and (job.next_run_time is None or when < job.next_run_time):
        job.modify(next_run_time=when)


def schedule_jobs(scheduler: BackgroundScheduler, runtime: Runtime) -> None:
    """(Re)register every job with the runtime's periods (start-up and live reload)."""
    for job_id, seconds in job_periods(runtime.settings.scheduler).items():
        scheduler.add_job(
            f"{JOBS}:{job_id}",
            "interval",
            seconds=seconds,
            args=[runtime],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(max(1, seconds)),
        )
