"""STOW-RS through the gateway's intake: stored, indexed, triaged and dispatched like a
DICOM push; a body that is not DICOM is refused with the reason, nothing stored."""

from __future__ import annotations

import time

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid

from tests.e2e.web.conftest import Served  # noqa: TC001 - the fixture's type
from tests.e2e.web.test_dicomweb import _garde_json
from tests.helpers import make_dataset

# One server for the package: on one xdist worker (`make test` runs --dist loadgroup).
pytestmark = [pytest.mark.dcmtk, pytest.mark.xdist_group("web")]


def test_a_stowed_study_is_stored_and_dispatched_like_a_push(served: Served) -> None:
    study_uid, series_uid = generate_uid(), generate_uid()
    datasets = [
        make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=n,
            rows=16,
            columns=16,
            description="AVC alerte thrombolyse",
            patient_id="PAT-STOW",
        )
        for n in (1, 2, 3)
    ]
    uploader = DICOMwebClient(
        url=f"{served.url}/sites/h01",
        headers={"Authorization": f"Bearer {served.operator}"},
    )
    answer = uploader.store_instances(datasets)
    assert len(answer.ReferencedSOPSequence) == 3
    assert "FailedSOPSequence" not in answer
    reader = DICOMwebClient(url=served.url, headers={"Authorization": f"Bearer {served.operator}"})
    [found] = reader.search_for_studies(search_filters={"PatientID": "PAT-STOW"})
    assert found["00201208"]["Value"] == [3]
    retrieved = reader.retrieve_study(study_uid)
    assert sorted(ds.PixelData for ds in retrieved) == sorted(ds.PixelData for ds in datasets)
    import json

    deadline = time.monotonic() + 20  # the stability sweep triages and routes it
    while time.monotonic() < deadline:
        studies = json.loads(_garde_json(served, "studies", "--state", "assigned"))
        if any(s.get("study_uid") == study_uid for s in studies):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"study {study_uid} was not dispatched: {studies}")


def test_a_body_that_is_not_dicom_is_refused_and_nothing_is_stored(served: Served) -> None:
    before = sorted((served.data / "storage").rglob("*"))
    boundary = "xyz"
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\nhello, not DICOM\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    answer = httpx.post(
        f"{served.url}/sites/h01/studies",
        content=body,
        headers={
            "Authorization": f"Bearer {served.operator}",
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        },
    )
    assert answer.status_code == 400
    assert "not a DICOM Part 10 file" in answer.json()["error"]
    wrong_type = httpx.post(
        f"{served.url}/sites/h01/studies",
        content=b"{}",
        headers={"Authorization": f"Bearer {served.operator}", "Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415
    outsider = httpx.post(
        f"{served.url}/sites/h01/studies",
        content=body,
        headers={"Authorization": f"Bearer {served.outsider}"},
    )
    assert outsider.status_code == 403
    assert sorted((served.data / "storage").rglob("*")) == before
    assert list((served.data / "stow-spool").iterdir()) == []
