"""Garde's QIDO-RS against a reference server: the same study in Orthanc with its DICOMweb
plugin; every attribute Orthanc answers with, Garde answers with too, with equal values."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.web.conftest import Served  # noqa: TC001 - the fixture's type
from tests.orthanc import REQUIRE_ORTHANC, Orthanc

pytestmark = [pytest.mark.dcmtk, pytest.mark.xdist_group("web")]

PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
# Where each server is: never equal.
ADDRESSES = {"00081190"}


def _orthanc(folder) -> Orthanc:
    orthanc = Orthanc(folder)  # skips (or fails in CI) without Orthanc
    if not Path(PLUGIN).exists():
        message = "Orthanc's DICOMweb plugin is not installed (Debian package orthanc-dicomweb)"
        if REQUIRE_ORTHANC:
            pytest.fail(f"{message}, and this run requires it")
        pytest.skip(message)
    config = json.loads((folder / "orthanc.json").read_text())
    config["Plugins"] = [PLUGIN]
    config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
    (folder / "orthanc.json").write_text(json.dumps(config))
    return orthanc


def _missing_or_different(reference: dict, ours: dict) -> dict:
    return {
        tag: (value, ours.get(tag))
        for tag, value in reference.items()
        if tag not in ADDRESSES and ours.get(tag) != value
    }


def test_garde_answers_at_least_what_orthanc_does(served: Served, tmp_path) -> None:
    with _orthanc(tmp_path / "orthanc") as orthanc:
        for path in served.files:
            orthanc.upload(path)
        headers = {"Authorization": f"Bearer {served.operator}"}
        uid = served.study_uid
        for level in (f"/studies?StudyInstanceUID={uid}", f"/studies/{uid}/series"):
            reference = httpx.get(f"{orthanc.url}/dicom-web{level}").json()
            ours = httpx.get(f"{served.url}{level}", headers=headers).json()
            assert len(ours) == len(reference), level
            key = "0020000E" if "series" in level else "0020000D"
            ours_by_uid = {item[key]["Value"][0]: item for item in ours}
            for item in reference:
                mine = ours_by_uid[item[key]["Value"][0]]
                assert _missing_or_different(item, mine) == {}, level
