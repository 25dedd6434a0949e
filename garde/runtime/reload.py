"""Live reload: a changed config or roster applied without a restart (SIGHUP, `garde reload`).

Every node of a region reloads: `garde reload` bumps the store's config generation,
which each `garde serve` watches (`garde.services.store_watch`), and signals the local
one at once. The settings file is read again and validated; a bad file is refused whole (logged, the
running config stays). Sites, radiologists, SLA policy, triage rules, scheduler periods
and notifications take effect at once; the data directory, the database and the
gateway's address need a restart (a change there is logged and ignored). After the
directory and roster are written to the store, the board is rebuilt and what the change
affects is re-dispatched: studies of a radiologist who left the roster, unstarted
studies of one who went off shift or lost the credential or skill they need.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.config import load_settings
from garde.dispatch.model import Priority
from garde.dispatch.triage import DEFAULT_RULES, Triager
from garde.services.handover import hand_over, redispatch_ineligible
from garde.services.notifier import build_notifier
from garde.services.rostering import import_roster_file

if TYPE_CHECKING:
    from datetime import datetime

    from apscheduler.schedulers.base import BaseScheduler

    from garde.bootstrap import Runtime
    from garde.config.model import Settings
    from garde.dicom_gateway.scp import Gateway
    from garde.dicom_gateway.workers import GatewayWorkers
    from garde.dispatch.model import Study

logger = logging.getLogger(__name__)

# [gateway] keys read by the stability sweep, not by the gateway processes: live.
_SWEEP_KEYS = frozenset({"stable_age_s", "stroke_stable_age_s"})


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What a reload changed."""

    rerouted: int
    ignored: tuple[str, ...]  # keys that need a restart and were left as they were


def reload_runtime(
    runtime: Runtime,
    *,
    gateway: Gateway | GatewayWorkers | None = None,
    scheduler: BaseScheduler | None = None,
) -> ReloadReport:
    """Re-read the settings file and apply it to a running runtime.

    Raises
    ------
    garde.config.ConfigError
        If the file is invalid; nothing was changed.
    """
    old = runtime.settings
    fresh = load_settings(old.source, os.environ)
    settings, ignored = _keep_restart_only(old, fresh)
    now = runtime.clock.now()
    runtime.settings = settings
    runtime.sync_directory()
    if settings.roster_file is not None:
        import_roster_file(runtime, settings.roster_file)
    dispatch = runtime.dispatch
    if settings.notify != old.notify:
        previous = runtime.notifier
        runtime.notifier = build_notifier(
            settings.notify,
            runtime.uow,
            backoff_max_s=settings.night_safety.webhook_backoff_max_s,
        )
        dispatch.notifier = runtime.notifier
        previous.close()
        runtime.notifier.start_delivery()  # reloads happen in the serving process
    with dispatch.lock:
        dispatch.triager = Triager(settings.triage_rules or DEFAULT_RULES, settings.reading_times)
        dispatch.policy = settings.sla
        dispatch.sites = {s.id: s for s in settings.sites}
        dispatch.default_stable_age_s = settings.gateway.stable_age_s
        dispatch.stroke_stable_age_s = settings.gateway.stroke_stable_age_s
        dispatch.uncovered_routine_delay = timedelta(
            seconds=settings.scheduler.uncovered_routine_delay_s
        )
        # Issue 12: who answers when nobody may, and which assignments are told.
        dispatch.medical_director = settings.region.medical_director
        dispatch.notify_priorities = frozenset(
            Priority(p) for p in settings.night_safety.assigned_priorities
        )
        orphans = dispatch.refresh_roster(now, force=True)
        rerouted = _redispatch(runtime, orphans, now, actor="reload")
    if gateway is not None:
        gateway.update_sites(settings.sites)  # in every gateway process
    if scheduler is not None:
        from garde.scheduling.scheduler import schedule_jobs  # noqa: PLC0415 - no cycle

        schedule_jobs(scheduler, runtime)
    with runtime.uow() as uow:
        uow.audit.append(
            at=now,
            actor="operator",
            action="reload",
            detail={"file": str(old.source or "<example>"), "rerouted": rerouted},
        )
        uow.commit()
    for key in ignored:
        logger.warning("reload: %s changed; it takes effect at the next restart", key)
    logger.info("configuration reloaded: %d studies re-dispatched", rerouted)
    return ReloadReport(rerouted, ignored)


def apply_roster(runtime: Runtime) -> int:
    """A roster another process changed, applied to this running node (`StoreWatch`):
    the board takes it, and the job leader re-dispatches what it affects (studies of a
    reader gone off shift or off the roster; studies waiting that a new reader may take).
    Returns the studies re-dispatched."""
    dispatch = runtime.dispatch
    now = runtime.clock.now()
    with dispatch.lock:
        orphans = dispatch.refresh_roster(now)
        rerouted = _redispatch(runtime, orphans, now, actor="roster")
    logger.info("roster changed in the store: board updated, %d studies re-dispatched", rerouted)
    return rerouted


def _redispatch(runtime: Runtime, orphans: tuple[Study, ...], now: datetime, actor: str) -> int:
    """What a roster or config change affects, re-dispatched by the job leader only
    (a standby's board follows the store; the leader decides)."""
    leadership = runtime.leadership
    if not leadership.held():
        return 0
    dispatch = runtime.dispatch
    token = leadership.fence()  # as a job: committed only while this node leads
    try:
        rerouted = dispatch.reroute_orphans(orphans, now, actor=actor)
        rerouted += len(hand_over(dispatch, now))
        rerouted += len(redispatch_ineligible(dispatch, now))
        rerouted += dispatch.broaden(now)
    finally:
        leadership.unfence(token)
    return rerouted


def _keep_restart_only(old: Settings, new: Settings) -> tuple[Settings, tuple[str, ...]]:
    """``new`` with the keys that need a restart kept at their running values."""
    ignored = [k for k in ("data_dir", "database_url") if getattr(old, k) != getattr(new, k)]
    # Every gateway key but the stable ages (read by the sweep) is fixed in the running
    # gateway processes: listening socket, AE, timeouts, limits, TLS.
    ignored += [
        f"gateway.{f.name}"
        for f in fields(old.gateway)
        if f.name not in _SWEEP_KEYS
        and getattr(old.gateway, f.name) != getattr(new.gateway, f.name)
    ]
    if old.previews != new.previews:
        ignored.append("previews")
    kept = replace(
        new,
        data_dir=old.data_dir,
        database_url=old.database_url,
        gateway=replace(
            old.gateway,
            stable_age_s=new.gateway.stable_age_s,
            stroke_stable_age_s=new.gateway.stroke_stable_age_s,
        ),
        previews=old.previews,
    )
    return kept, tuple(ignored)
