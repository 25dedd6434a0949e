"""Under ``overwrite_policy = "overwrite"``, a replaced instance of a study already assigned
is audited for its reader and its previews are rendered again once the study is quiet:
file, index and previews agree again (the night's clock is injected)."""

from __future__ import annotations

import hashlib
from copy import deepcopy
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.config.model import OverwritePolicy
from garde.dicom_gateway.scp import Gateway
from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.store.instance_index import SqlInstanceIndex
from tests.helpers import write_series
from tests.integration.gateway.test_gateway_refusals import store_statuses, storescu
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    audit,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.dcmtk
s = timedelta(seconds=1)


def digests(rt, study_uid: str) -> dict[tuple[str | None, str], str]:
    with rt.uow() as uow:
        previews = uow.studies.previews(study_uid)
    return {
        (p.series_uid, p.kind): hashlib.sha256(
            (rt.settings.previews.dir / p.path).read_bytes()
        ).hexdigest()
        for p in previews
        if (rt.settings.previews.dir / p.path).suffix in {".jpg", ".jpeg", ".webp"}
    }


def test_a_replaced_instance_is_told_to_the_reader_and_previewed_again(
    migrated_url: str, tmp_path: Path
) -> None:
    settings = settings_for(migrated_url, tmp_path)
    settings = replace(
        settings,
        gateway=replace(settings.gateway, port=0, overwrite_policy=OverwritePolicy.OVERWRITE),
    )
    rt = start_night(settings, [Shift("r01", T0 - timedelta(hours=1), T0 + timedelta(hours=8))])
    rt.dispatch.previews = rt.previews
    rt.previews.start()
    gateway = Gateway(
        settings.gateway,
        settings.sites,
        SqlInstanceIndex(rt.session_factory),
        patient_key_secret=b"k" * 32,
        clock=rt.clock,
    )
    gateway.start()
    try:
        files = write_series(tmp_path / "in", 3, rows=64, columns=64, description="TDM abdomen")
        run = storescu(gateway.port, *files, aet="VILLEFR_CT1")
        assert store_statuses(run) == ["Success"] * 3
        assert gateway.service.flush(10)
        from pydicom import dcmread

        first = dcmread(files[1])
        study = str(first.StudyInstanceUID)
        advance_to(rt, T0 + 61 * s)
        jobs.dispatch_stable_studies(rt)
        assert rt.previews.wait_idle(30)
        assigned = record(rt, study)
        assert assigned.state is StudyState.ASSIGNED
        before = digests(rt, study)
        assert before

        advance_to(rt, T0 + 100 * s)  # the modality sends the middle slice again, fixed
        fixed = deepcopy(first)
        fixed.PixelData = bytes(len(first.PixelData))
        path = tmp_path / "fixed" / "IM2.dcm"
        path.parent.mkdir()
        fixed.save_as(path, enforce_file_format=True)
        assert store_statuses(storescu(gateway.port, path, aet="VILLEFR_CT1")) == ["Success"]
        [told] = [e for e in audit(rt, study) if e.action == "instance_replaced"]
        assert told.radiologist_id == assigned.assignee == "r01"
        assert told.detail["sop_instance_uid"] == first.SOPInstanceUID

        advance_to(rt, T0 + 161 * s)  # quiet again: the previews show the new pixels
        jobs.dispatch_stable_studies(rt)
        assert rt.previews.wait_idle(30)
        after = digests(rt, study)
        assert after.keys() == before.keys()
        assert after != before
        assert record(rt, study).assignee == "r01"  # the reader keeps the study
    finally:
        gateway.stop(timeout=5)
        rt.close()
