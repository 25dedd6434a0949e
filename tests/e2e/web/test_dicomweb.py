"""DICOMweb against a running `garde serve`, through the real client `dicomweb-client`:
search, retrieval byte for byte, metadata, frames; access by token; bad requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

from tests.e2e.web.conftest import Served  # noqa: TC001 - fixtures' type, read at runtime by nobody

# One server for the package: on one xdist worker (`make test` runs --dist loadgroup).
pytestmark = [pytest.mark.dcmtk, pytest.mark.xdist_group("web")]


def client(served: Served, token: str) -> DICOMwebClient:
    return DICOMwebClient(url=served.url, headers={"Authorization": f"Bearer {token}"})


def _after_meta(data: bytes) -> bytes:
    """A Part 10 file's dataset, after its file meta group (what the modality sent)."""
    assert data[128:132] == b"DICM"
    # (0002,0000) UL group length: its value starts at 140, the group after it at 144.
    return data[144 + int.from_bytes(data[140:144], "little") :]


def _parts(response: httpx.Response) -> list[bytes]:
    boundary = response.headers["content-type"].split("boundary=")[1].strip('"')
    pieces = response.content.split(b"--" + boundary.encode())[1:-1]
    return [p.split(b"\r\n\r\n", 1)[1][:-2] for p in pieces]


def test_search_by_patient_id_date_range_and_modality(served: Served) -> None:
    dw = client(served, served.operator)
    today = datetime.now(tz=UTC).strftime("%Y%m%d")
    found = dw.search_for_studies(
        search_filters={
            "PatientID": "PAT-0001",
            "StudyDate": f"19990101-{today}",
            "ModalitiesInStudy": "CT",
        }
    )
    assert [s["0020000D"]["Value"][0] for s in found] == [served.study_uid]
    [study] = found
    assert study["00201206"]["Value"] == [2]
    assert study["00201208"]["Value"] == [6]
    assert study["00100020"]["Value"] == ["PAT-0001"]
    assert dw.search_for_studies(search_filters={"PatientID": "SOMEONE-ELSE"}) == []
    assert dw.search_for_studies(search_filters={"ModalitiesInStudy": "MR"}) == []
    assert dw.search_for_studies(search_filters={"StudyDate": "19900101-19901231"}) == []
    series = dw.search_for_series(served.study_uid)
    assert len(series) == 2
    instances = dw.search_for_instances(served.study_uid)
    assert len(instances) == 6


def test_every_instance_is_retrieved_as_pushed(served: Served) -> None:
    dw = client(served, served.reader)
    retrieved = dw.retrieve_study(served.study_uid)
    pushed = {pydicom.dcmread(f).SOPInstanceUID: f.read_bytes() for f in served.files}
    assert sorted(ds.SOPInstanceUID for ds in retrieved) == sorted(pushed)
    # Byte for byte, after the file meta (the gateway writes its own, naming the sender).
    raw = httpx.get(
        f"{served.url}/studies/{served.study_uid}",
        headers={"Authorization": f"Bearer {served.reader}"},
    )
    assert raw.status_code == 200
    parts = _parts(raw)
    assert len(parts) == len(pushed)
    for part in parts:
        uid = pydicom.dcmread(__import__("io").BytesIO(part)).SOPInstanceUID
        assert _after_meta(part) == _after_meta(pushed[uid])


def test_metadata_is_pydicoms_json_of_the_stored_file_and_frames_decode_the_same(
    served: Served,
) -> None:
    dw = client(served, served.reader)
    stored = sorted((served.data / "storage").rglob("*.dcm"))
    assert len(stored) == 6
    ds = pydicom.dcmread(stored[0])
    metadata = dw.retrieve_instance_metadata(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
    )
    expected = pydicom.dcmread(stored[0], stop_before_pixels=True).to_json_dict(
        1024, lambda e: "bulk"
    )
    pixel = metadata.pop("7FE00010")
    assert pixel["BulkDataURI"].endswith("/bulk/7FE00010")
    assert {k: v for k, v in metadata.items() if "BulkDataURI" not in v} == {
        k: v for k, v in expected.items() if "BulkDataURI" not in v
    }
    [frame] = dw.retrieve_instance_frames(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, frame_numbers=[1]
    )
    pixels = np.frombuffer(frame, dtype=np.uint16).reshape(ds.Rows, ds.Columns)
    assert np.array_equal(pixels, ds.pixel_array)
    rendered = httpx.get(
        f"{served.url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/rendered",
        headers={"Authorization": f"Bearer {served.reader}", "Accept": "image/png"},
    )
    assert rendered.status_code == 200
    assert rendered.content.startswith(b"\x89PNG")


def test_access_no_token_outsider_and_bad_paths(served: Served) -> None:
    study = f"{served.url}/studies/{served.study_uid}"
    assert httpx.get(f"{served.url}/studies").status_code == 401
    assert httpx.get(study, headers={"Authorization": "Bearer garde_nope"}).status_code == 401
    outsider = {"Authorization": f"Bearer {served.outsider}"}
    refused = httpx.get(f"{study}/metadata", headers=outsider)
    assert refused.status_code == 403
    assert "r02 may not read" in refused.json()["error"]
    # The outsider's search finds nothing of another hospital.
    assert httpx.get(f"{served.url}/studies", headers=outsider).json() == []
    reader = {"Authorization": f"Bearer {served.reader}"}
    assert (
        httpx.get(f"{served.url}/studies/..%2F..%2Fetc/metadata", headers=reader).status_code == 400
    )
    assert httpx.get(f"{served.url}/studies/passwd/metadata", headers=reader).status_code == 400
    assert httpx.get(f"{served.url}/studies/1.2.3.999/metadata", headers=reader).status_code == 404
    bad = httpx.get(f"{served.url}/studies?StudyDate=2026-13", headers=reader)
    assert bad.status_code == 400 and "StudyDate" in bad.json()["error"]
    unknown = httpx.get(f"{served.url}/studies?Colour=blue", headers=reader)
    assert unknown.status_code == 400 and "Colour" in unknown.json()["error"]
    refused_type = httpx.get(study, headers={**reader, "Accept": "image/gif"})
    assert refused_type.status_code == 406
    assert "application/dicom" in refused_type.json()["error"]
    cors = httpx.options(
        f"{served.url}/studies",
        headers={
            "Origin": "http://viewer.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert cors.headers["access-control-allow-origin"] == "http://viewer.example"
    audit = json.loads(_garde_json(served, "audit", "--study", served.study_uid))
    refusals = [e for e in audit if e.get("actor") == "r02"]
    assert refusals, audit


def _garde_json(served: Served, *args: str) -> str:
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(served.config), *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GARDE_TOKEN": served.operator},
    ).stdout


def test_a_browser_signs_in_once_and_reads_with_its_cookie(served: Served) -> None:
    base = served.url.removesuffix("/dicom-web")
    with httpx.Client() as browser:
        assert "Sign in" in browser.get(f"{base}/login?next=/viewer").text
        refused = browser.post(f"{base}/login", data={"token": "garde_wrong", "next": "/"})
        assert refused.status_code == 401
        signed = browser.post(
            f"{base}/login", data={"token": served.reader, "next": "//elsewhere.example/"}
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"  # never another site
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        found = browser.get(f"{served.url}/studies")  # the cookie, no header
        assert found.status_code == 200
        assert served.study_uid in {s["0020000D"]["Value"][0] for s in found.json()}
