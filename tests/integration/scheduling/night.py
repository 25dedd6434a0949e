"""Helpers for whole-night tests with injected time: a runtime on the example region with
a roster of our choosing, and studies indexed as the gateway would index them."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydicom import dcmread

from garde.bootstrap import Runtime, build_runtime
from garde.config import load_settings
from garde.services.clock import FrozenClock
from tests.gateway_intake import index_as_received
from tests.helpers import write_series

if TYPE_CHECKING:
    from garde.config.model import Settings
    from garde.dispatch.model import Shift
    from garde.store.records import AuditEvent, StudyRecord

T0 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # 23:00 in Paris


def settings_for(db_url: str, tmp_path: Path, **scheduler: Any) -> Settings:
    settings = load_settings()
    return replace(
        settings,
        data_dir=tmp_path,
        database_url=db_url,
        gateway=replace(settings.gateway, storage_dir=tmp_path / "storage", stable_age_s=60),
        previews=replace(settings.previews, dir=tmp_path / "previews"),
        scheduler=replace(settings.scheduler, **scheduler),
    )


def start_night(settings: Settings, shifts: list[Shift], at: datetime = T0) -> Runtime:
    """A runtime at ``at`` with ``shifts`` stored and the board restored (no preview workers)."""
    rt = build_runtime(settings, clock=FrozenClock(at))
    rt.dispatch.previews = None  # pictures are not what these tests are about
    rt.sync_directory()
    with rt.uow() as uow:
        uow.roster.replace_shifts(at - timedelta(days=1), at + timedelta(days=1), shifts)
        uow.commit()
    rt.dispatch.restore(at)
    return rt


def advance_to(rt: Runtime, at: datetime) -> datetime:
    clock = rt.clock
    assert isinstance(clock, FrozenClock)
    clock.current = at
    return at


def receive(
    rt: Runtime, tmp_path: Path, site_id: str, at: datetime, count: int = 2, **kwargs: Any
) -> str:
    """Write ``count`` synthetic instances and index them as received at ``at``."""
    folder = tmp_path / "in" / uuid.uuid4().hex[:12]
    files = write_series(folder, count, rows=16, columns=16, **kwargs)
    uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    return index_as_received(rt, files, site_id, at, calling_ae="TEST", patient_key=f"k-{uid[-6:]}")


def record(rt: Runtime, uid: str) -> StudyRecord:
    with rt.uow() as uow:
        found = uow.studies.get(uid)
    assert found is not None
    return found


def audit(rt: Runtime, uid: str) -> list[AuditEvent]:
    with rt.uow() as uow:
        return uow.audit.for_study(uid)
