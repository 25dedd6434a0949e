"""The one composition root: builds the engine, sessions, services, gateway and scheduler
from settings and injects them. Nothing is built at import time.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.board import Board
from garde.dispatch.model import Priority
from garde.dispatch.triage import DEFAULT_RULES, Triager
from garde.services.clock import SystemClock
from garde.services.dispatcher import DispatchService
from garde.services.notifier import FanoutNotifier, build_notifier
from garde.services.previewing import PreviewService
from garde.services.reporting import ReportService
from garde.services.solver_process import IsolatedReplanner
from garde.services.worklist import WorklistService
from garde.store.engine import make_engine, make_session_factory
from garde.store.leader import JobLeadership
from garde.store.migrate import check_up_to_date
from garde.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker
    from starlette.routing import BaseRoute

    from garde.config.model import Settings
    from garde.dicom_gateway.scp import Gateway
    from garde.dicom_gateway.workers import GatewayWorkers
    from garde.dispatch.ports import Clock, InstanceIndex
    from garde.reporting.delivery import ReportDelivery
    from garde.store.records import PatientContext
    from garde.web.access import Gate
    from garde.web.server import WebServer

logger = logging.getLogger(__name__)

SECRET_NAME = "patient-key.secret"  # noqa: S105 - a file name, not a secret


def patient_key_secret(data_dir: Path) -> bytes:
    """The key hashing patient IDs, created once per data dir (mode 0600)."""
    path = data_dir / SECRET_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
        return secret


def sql_instance_index(database_url: str) -> InstanceIndex:
    """An instance index over its own engine: what each gateway worker process indexes into."""
    from garde.store.instance_index import SqlInstanceIndex  # noqa: PLC0415

    return SqlInstanceIndex(make_session_factory(make_engine(database_url)))


@dataclass
class Runtime:
    """Everything one Garde process needs, built from settings."""

    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    dispatch: DispatchService = field(init=False)
    notifier: FanoutNotifier = field(init=False)
    leadership: JobLeadership = field(init=False)
    previews: PreviewService = field(init=False)
    worklist: WorklistService = field(init=False)
    reports: ReportService = field(init=False)
    # The leader's re-plan solves in a child process: a CP-SAT abort must not end serve.
    replanner: IsolatedReplanner = field(init=False)
    # Set by the scheduler: run the stability sweep at this moment (see `jobs`).
    sweep_at: Callable[[datetime], None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.replanner = IsolatedReplanner()
        self.notifier = build_notifier(
            settings.notify,
            self.uow,
            backoff_max_s=settings.night_safety.webhook_backoff_max_s,
        )
        self.leadership = JobLeadership(
            self.engine,
            lease_s=settings.scheduler.leader_lease_s,
            renew_s=settings.scheduler.leader_renew_s,
        )
        self.previews = PreviewService(
            self.uow, settings.previews, settings.gateway.storage_dir, clock=self.clock
        )
        self.dispatch = DispatchService(
            uow_factory=self.uow,
            triager=Triager(settings.triage_rules or DEFAULT_RULES, settings.reading_times),
            policy=settings.sla,
            sites={s.id: s for s in settings.sites},
            board=Board(),
            notifier=self.notifier,
            default_stable_age_s=settings.gateway.stable_age_s,
            stroke_stable_age_s=settings.gateway.stroke_stable_age_s,
            previews=self.previews,
            uncovered_routine_delay=timedelta(seconds=settings.scheduler.uncovered_routine_delay_s),
            medical_director=settings.region.medical_director,
            notify_priorities=frozenset(
                Priority(p) for p in settings.night_safety.assigned_priorities
            ),
        )
        self.worklist = WorklistService(self.uow, settings.previews.dir)
        self.reports = ReportService(
            self.uow,
            settings.reporting,
            settings.gateway.storage_dir,
            {s.id: s.name for s in settings.sites},
        )

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work (one per received study, job run or CLI command)."""
        return SqlUnitOfWork(self.session_factory)

    def sync_directory(self) -> None:
        """Write the configured sites and radiologists to the store (config is the truth)."""
        with self.uow() as uow:
            uow.directory.sync_sites(self.settings.sites)
            uow.directory.sync_radiologists(self.settings.radiologists)
            uow.commit()

    def build_gateway(self) -> Gateway | GatewayWorkers:
        """The DICOM SCP, indexing into this runtime's store.

        With ``gateway.workers`` above 1 (0: one per core), several processes share the
        port. An injected clock (demo, tests) cannot cross processes: one in-process SCP.
        """
        from garde.dicom_gateway.scp import Gateway  # noqa: PLC0415 - pynetdicom only when serving
        from garde.dicom_gateway.workers import GatewayWorkers, worker_count  # noqa: PLC0415
        from garde.store.instance_index import SqlInstanceIndex  # noqa: PLC0415

        workers = worker_count(self.settings.gateway.workers)
        if workers > 1 and isinstance(self.clock, SystemClock):
            return GatewayWorkers(
                self.settings.gateway,
                self.settings.sites,
                functools.partial(sql_instance_index, self.settings.effective_database_url),
                patient_key_secret=patient_key_secret(self.settings.data_dir),
                workers=workers,
            )
        return Gateway(
            self.settings.gateway,
            self.settings.sites,
            SqlInstanceIndex(self.session_factory),
            patient_key_secret=patient_key_secret(self.settings.data_dir),
            clock=self.clock,
        )

    def _patient_context(self, study_uid: str) -> PatientContext:
        with self.uow() as uow:
            return uow.studies.patient_context(study_uid)

    def build_web(self, *, port: int | None = None) -> WebServer:
        """The web part (DICOMweb, pages, viewer) over this runtime's store, bound to its
        port (``port`` overrides the configured one; 0: any free port)."""
        from garde.config.model import Environment  # noqa: PLC0415
        from garde.dicom_gateway.intake import IntakeService  # noqa: PLC0415
        from garde.dicom_gateway.policy import AssociationPolicy  # noqa: PLC0415
        from garde.dicom_gateway.writer import DurableWriter  # noqa: PLC0415
        from garde.store.dicomweb_index import DicomWebIndex  # noqa: PLC0415 - web only
        from garde.store.instance_index import SqlInstanceIndex  # noqa: PLC0415
        from garde.web.access import Gate  # noqa: PLC0415
        from garde.web.app import WebContext, build_app  # noqa: PLC0415
        from garde.web.server import WebServer  # noqa: PLC0415

        web = self.settings.web
        index = DicomWebIndex(self.session_factory)
        gate = Gate(
            self.uow,
            index,
            self.clock.now,
            open_mode=self.settings.environment is not Environment.PRODUCTION,
        )
        gateway = self.settings.gateway
        secret = patient_key_secret(self.settings.data_dir)
        # STOW-RS goes through the gateway's intake (policy, durable write, index); the
        # instance is indexed before the answer, and the stability sweep dispatches.
        intake = IntakeService(
            DurableWriter(gateway.storage_dir, gateway.conflicts_dir),
            SqlInstanceIndex(self.session_factory),
            AssociationPolicy(self.settings.sites, gateway.ae_title, check_called_ae=False),
            patient_key_secret=secret,
            clock=self.clock,
            overwrite_policy=gateway.overwrite_policy,
        )
        context = WebContext(
            index=index,
            gate=gate,
            storage_dir=gateway.storage_dir,
            site_ids=lambda: [s.id for s in self.settings.sites],
            patient_key_secret=secret,
            previews_dir=self.settings.previews.dir,
            patient_context=self._patient_context,
            # The page links the viewer on the origin it was asked on (behind a proxy:
            # public_url).
            viewer_url=lambda uid, base: web.viewer_url.format(
                base=web.public_url.rstrip("/") or base, study=uid
            ),
            intake=intake,
            sites=lambda: {s.id: s for s in self.settings.sites},
            spool_dir=self.settings.data_dir / "stow-spool",
        )
        sign_in = self._sign_in(gate) if web.oidc is not None else []
        app = build_app(
            context,
            cors_origins=web.cors_origins,
            viewer_dir=web.viewer_dir,
            secure=web.tls is not None,
            sign_in=sign_in,
        )
        return WebServer(app, web.host, web.port if port is None else port, web.tls)

    def _sign_in(self, gate: Gate) -> list[BaseRoute]:
        """Single sign-on's routes; the gate accepts its sessions (`garde.web.sso`)."""
        from garde.services.identity import Identity, Role  # noqa: PLC0415
        from garde.web.sso import OidcLogin, Sessions, SsoPages  # noqa: PLC0415

        web = self.settings.web
        oidc = web.oidc
        assert oidc is not None
        base = web.base_url

        def resolve(subject: str) -> Identity | None:
            with self.uow() as uow:
                readers = uow.directory.radiologists()
            found = [r for r in readers if subject in {r.id, r.rpps}]
            return Identity(found[0].id, Role.RADIOLOGIST) if found else None

        def on_event(action: str, subject: str, outcome: str) -> None:
            with self.uow() as uow:
                uow.audit.append(
                    at=self.clock.now(),
                    actor=subject or "anonymous",
                    action=action,
                    radiologist_id=subject or None,
                    origin="http sso",
                    detail={"outcome": outcome},
                )
                uow.commit()

        gate.sessions = Sessions(ttl_s=oidc.session_ttl_min * 60)
        pages = SsoPages(
            OidcLogin(oidc, base + "/sso/callback", resolve),
            gate.sessions,
            secure=base.startswith("https://"),
            base_url=base,
            on_event=on_event,
        )
        return list(pages.routes())

    def build_report_delivery(self) -> ReportDelivery:
        """The thread sending reports to the hospitals (started by `serve`)."""
        from garde.reporting.delivery import ReportDelivery  # noqa: PLC0415 - pynetdicom

        return ReportDelivery(
            self.uow,
            self.settings.reporting,
            calling_ae=self.settings.gateway.ae_title,
            notifier=self.notifier,
        )

    def close(self) -> None:
        """Stop the workers, flush notifications and dispose of the engine."""
        self.previews.stop()
        self.replanner.close()
        self.notifier.close()
        self.leadership.release()
        self.engine.dispose()


def build_runtime(
    settings: Settings, *, clock: Clock | None = None, check_schema: bool = True
) -> Runtime:
    """Build a runtime; with ``check_schema`` refuse a database that needs `garde db upgrade`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    if check_schema:
        check_up_to_date(engine)
    factory = make_session_factory(engine)
    return Runtime(settings, clock or SystemClock(), engine, factory)
