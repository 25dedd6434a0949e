"""Periodic jobs. Each reads "now" once, works in its own unit(s) of work, calls the core
and is idempotent, so a missed or doubled run does no harm. A job is a boundary: it logs
and carries on (the next run retries), never crashes the scheduler. With several servers
on one database only the leader runs them (`garde.store.leader`).

Before deciding, the jobs that route fold into the board what other processes changed in
the store (`DispatchService.reconcile`): a radiologist's start or finish through the CLI.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.optimizer import SolverSettings
from garde.services.escalation import escalate_overdue
from garde.services.handover import hand_over
from garde.services.night_watch import NightWatch, escalate_unacknowledged, remind_unassigned
from garde.services.replanning import replan_queues
from garde.services.retention import purge_pixels
from garde.services.solver_process import SolverDiedError
from garde.services.study_attributes import fill_missing
from garde.store.dicomweb_index import DicomWebIndex
from garde.store.errors import LeaseLostError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.bootstrap import Runtime

logger = logging.getLogger(__name__)

REPLAN_WORKERS = 2  # the machine's cores; the gateway and the other jobs share them
# How far back the arrival watch looks for a series completed by its declared count:
# two of its periods (`garde.scheduling.scheduler.ARRIVAL_WATCH_S`).
DECLARED_LOOKBACK = timedelta(seconds=2)


def _leader_only(job: Callable[[Runtime], int]) -> Callable[[Runtime], int]:
    """Run ``job`` only in the process that leads (`garde.store.leader`); 0 elsewhere."""

    @functools.wraps(job)
    def run(runtime: Runtime) -> int:
        leadership = runtime.leadership
        if not leadership.held():
            logger.debug("%s: another server runs the jobs; standing by", job.__name__)
            return 0
        token = leadership.fence()  # every commit of the job checks the lease first
        try:
            return job(runtime)
        finally:
            leadership.unfence(token)

    return run


def _stopped(what: str, exc: LeaseLostError) -> None:
    """A job whose node lost the job lease mid-run: its unit of work rolled back."""
    logger.error("%s stopped: %s; nothing of it was committed", what, exc)


@_leader_only
def dispatch_stable_studies(runtime: Runtime) -> int:
    """Stability sweep: triage and route every study that became stable, and give the
    studies waiting for a reader (uncovered site) another chance."""
    now = runtime.clock.now()
    try:
        runtime.dispatch.reconcile(now)
        decisions = runtime.dispatch.sweep(now)
        # The patient context the worklist shows, read once per new study.
        fill_missing(DicomWebIndex(runtime.session_factory), runtime.settings.gateway.storage_dir)
        if runtime.sweep_at is not None:  # under the scheduler: run again when due
            due = runtime.dispatch.next_sweep_at(now)
            if due is not None:
                runtime.sweep_at(due)
    except LeaseLostError as exc:
        _stopped("stability sweep", exc)
        return 0
    except Exception:
        logger.exception("stability sweep failed; it will run again")
        return 0
    return len(decisions)


@_leader_only
def watch_arrivals(runtime: Runtime) -> int:
    """Time the stability sweep by what arrived since it last ran (any node's gateway
    indexes into the store): a stroke's first series is swept the moment its quiet
    window ends, not up to a sweep period later. Returns 1 if the sweep was brought
    forward.

    A series that reached its declared number of instances is complete now: the sweep
    runs at once. Looking back two watch periods covers an instance stamped before the
    last watch but committed after it (a second sweep then finds nothing: harmless).
    """
    if runtime.sweep_at is None:
        return 0
    now = runtime.clock.now()
    try:
        if runtime.dispatch.declared_complete_since(now - DECLARED_LOOKBACK):
            due: datetime | None = now
        else:
            due = runtime.dispatch.next_sweep_at(now)
    except LeaseLostError as exc:
        _stopped("arrival watch", exc)
        return 0
    except Exception:
        logger.exception("arrival watch failed; it will run again")
        return 0
    if due is None:
        return 0
    runtime.sweep_at(due)
    return 1


@_leader_only
def watch_sla(runtime: Runtime) -> int:
    """SLA watch: escalate studies that reached a new tier (alert, reassign, supervisor)."""
    now = runtime.clock.now()
    try:
        runtime.dispatch.reconcile(now)
        escalated = len(escalate_overdue(runtime.dispatch, now))
        watch = night_watch_of(runtime)
        remind_unassigned(runtime.dispatch, watch, now)
        escalate_unacknowledged(runtime.dispatch, watch, now)
    except LeaseLostError as exc:
        _stopped("SLA watch", exc)
        return 0
    except Exception:
        logger.exception("SLA watch failed; it will run again")
        return 0
    return escalated


def night_watch_of(runtime: Runtime) -> NightWatch:
    """The night watch's settings (``[region]``, ``[notify]``)."""
    safety = runtime.settings.night_safety
    return NightWatch(
        medical_director=runtime.settings.region.medical_director,
        unassigned_repeat=timedelta(minutes=safety.unassigned_repeat_min),
        ack_timeout=timedelta(minutes=safety.ack_timeout_min),
    )


@_leader_only
def hand_over_shifts(runtime: Runtime) -> int:
    """Shift handover: re-dispatch the unstarted studies of radiologists off shift."""
    now = runtime.clock.now()
    try:
        runtime.dispatch.reconcile(now)
        return len(hand_over(runtime.dispatch, now))
    except LeaseLostError as exc:
        _stopped("shift handover", exc)
        return 0
    except Exception:
        logger.exception("shift handover failed; it will run again")
        return 0


@_leader_only
def replan(runtime: Runtime) -> int:
    """CP-SAT re-plan of the unstarted queues; returns the studies moved."""
    now = runtime.clock.now()
    settings = SolverSettings(
        time_limit_s=runtime.settings.scheduler.replan_time_limit_s, workers=REPLAN_WORKERS
    )
    try:
        runtime.dispatch.reconcile(now)
        outcome = replan_queues(runtime.dispatch, now, settings, replanner=runtime.replanner)
    except LeaseLostError as exc:
        _stopped("re-plan", exc)
        return 0
    except SolverDiedError as exc:
        logger.error("re-plan skipped: %s", exc)  # noqa: TRY400 - no traceback: it is the child's
        return 0
    except Exception:
        logger.exception("re-plan failed; it will run again")
        return 0
    return 0 if outcome is None else len(outcome.moved)


@_leader_only
def purge_expired_pixels(runtime: Runtime) -> int:
    """Retention: purge the pixel data of studies reported long enough ago."""
    settings = runtime.settings
    try:
        report = purge_pixels(
            runtime.uow,
            storage_dir=settings.gateway.storage_dir,
            previews_dir=settings.previews.dir,
            now=runtime.clock.now(),
            retention_days=settings.scheduler.retention_days,
        )
    except LeaseLostError as exc:
        _stopped("retention purge", exc)
        return 0
    except Exception:
        logger.exception("retention purge failed; it will run again")
        return 0
    return report.studies
