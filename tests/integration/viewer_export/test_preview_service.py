"""The preview service on a real store: a triaged study gets every product and its page.

A stroke study with a plain axial series and a CT angiography series is received as the
gateway would index it, swept when stable (triage -> route -> previews), and its
previews are checked on disk, in the store and on the study page.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from garde.bootstrap import Runtime, build_runtime
from garde.config import load_settings
from garde.dispatch.model import Priority
from garde.services.clock import FrozenClock
from garde.viewer_export import PreviewPool
from garde.viewer_export.image_io import load_image
from garde.viewer_export.page import local_time
from tests.gateway_intake import index_as_received
from tests.helpers import write_series
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)

T0 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
STROKE = "SCANNER CEREBRAL - ALERTE THROMBOLYSE"


@pytest.fixture
def runtime(migrated_url: str, tmp_path: Path) -> Runtime:
    settings = load_settings()
    settings = replace(
        settings,
        data_dir=tmp_path,
        database_url=migrated_url,
        gateway=replace(settings.gateway, storage_dir=tmp_path / "storage", stable_age_s=60),
        previews=replace(settings.previews, dir=tmp_path / "previews", montage_slices=4),
    )
    rt = build_runtime(settings, clock=FrozenClock(T0))
    rt.sync_directory()
    rt.dispatch.restore(T0)
    yield rt
    rt.close()


def receive(rt: Runtime, files: list[Path], site_id: str = "h01") -> str:
    return index_as_received(rt, files, site_id, T0)


def stroke_study(folder: Path) -> list[Path]:
    study_uid = generate_uid()
    axial = write_series(folder / "axial", 6, study_uid=study_uid, description=STROKE)
    angio = write_series(
        folder / "angio",
        9,
        study_uid=study_uid,
        description=STROKE,
        series_description="ANGIO TSA",
    )
    return axial + angio


def test_a_triaged_study_gets_every_product_and_its_page(runtime: Runtime, tmp_path: Path) -> None:
    uid = receive(runtime, stroke_study(tmp_path / "in"))
    [decision] = runtime.dispatch.sweep(T0 + timedelta(seconds=61))  # inline: no workers
    assert decision.study_uid == uid
    with runtime.uow() as uow:
        record = uow.studies.get(uid)
        previews = uow.studies.previews(uid)
        series = {s.series_uid: s for s in uow.studies.series(uid)}
    assert record is not None
    assert record.priority is Priority.STROKE
    assert record.deadline is not None
    kinds: dict[str, set[str]] = {}
    for p in previews:
        assert p.series_uid is not None
        kinds.setdefault(p.series_uid, set()).add(p.kind)
        image = load_image(runtime.settings.previews.dir / p.path)
        assert image.std() > 0  # not blank
    by_count = {series[s].instance_count: k for s, k in kinds.items()}
    assert by_count[6] == {"thumbnail", "mid_slice", "montage"}  # stroke window, no MIP
    assert by_count[9] == {"thumbnail", "mid_slice", "montage", "mip"}  # the angio series

    page = (runtime.settings.previews.dir / uid / "index.html").read_text("utf-8")
    assert "CH de Villefranche-sur-Saône" in page
    assert ">stroke<" in page
    assert local_time(record.deadline, "Europe/Paris") in page
    assert "stroke-alert" in page  # the rule that set the priority
    assert "C35/L40" in page  # the stroke preset on the axial series
    assert "C170/L600" in page  # the CT angiography preset on the angio series
    assert "MIP" in page
    assert "SYNTHETIC" not in page and "PAT-0001" not in page and "19500101" not in page
    assert "<script" not in page


def test_started_workers_render_in_the_background(runtime: Runtime, tmp_path: Path) -> None:
    uid = receive(runtime, write_series(tmp_path / "in", 5, description="TDM abdomen"), "h02")
    runtime.previews.start()
    runtime.previews.submit(uid, Priority.URGENT)  # returns; a worker thread renders
    assert runtime.previews.wait_idle(timeout=60)
    with runtime.uow() as uow:
        kinds = {p.kind for p in uow.studies.previews(uid)}
    assert kinds == {"thumbnail", "mid_slice", "montage"}
    assert (runtime.settings.previews.dir / uid / "index.html").is_file()


def test_a_study_that_fails_to_render_does_not_stop_the_workers(
    runtime: Runtime, tmp_path: Path
) -> None:
    runtime.previews.start()
    runtime.previews.submit("1.2.3.4.5.999", Priority.STROKE)  # not stored: logged, skipped
    uid = receive(runtime, write_series(tmp_path / "in", 3, description="TDM abdomen"), "h02")
    runtime.previews.submit(uid, Priority.ROUTINE)
    assert runtime.previews.wait_idle(timeout=60)
    assert (runtime.settings.previews.dir / uid / "index.html").is_file()


def test_pool_takes_the_most_urgent_first_and_submit_never_waits() -> None:
    started, gate = threading.Event(), threading.Event()
    order: list[str] = []

    def hold() -> None:
        started.set()
        gate.wait(timeout=30)

    with PreviewPool(1) as pool:
        try:
            busy = pool.submit(0, hold)
            assert started.wait(timeout=30)  # the only worker is held...
            jobs = [
                pool.submit(rank, lambda name=name: order.append(name))  # ...yet submit returns
                for rank, name in (
                    (Priority.ROUTINE.rank, "routine"),
                    (Priority.URGENT.rank, "urgent"),
                    (Priority.STROKE.rank, "stroke"),
                    (Priority.STROKE.rank, "stroke-2"),
                )
            ]
            assert pool.pending == 4
            assert not busy.done()
        finally:
            gate.set()
        for job in jobs:
            job.result(timeout=30)
    assert order == ["stroke", "stroke-2", "urgent", "routine"]
