"""The patient context where the reader decides: worklist (table and --json), next,
explain and the study page show age, sex, accession, requester and indication; the
server's log carries none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.e2e.web.conftest import Served  # noqa: TC001 - the fixture's type
from tests.helpers import make_dataset

pytestmark = [pytest.mark.dcmtk, pytest.mark.xdist_group("web")]


def _garde(served: Served, token: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(served.config), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GARDE_TOKEN": token},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _stroke_with_context() -> tuple[str, list[Dataset]]:
    study_uid, series_uid = generate_uid(), generate_uid()
    datasets = []
    for n in (1, 2):
        ds = make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=n,
            rows=16,
            columns=16,
            description="AVC alerte thrombolyse",
            patient_id="PAT-CTX",
        )
        ds.PatientSex = "F"
        ds.PatientBirthDate = "19590310"
        ds.StudyDate = "20261205"
        ds.AccessionNumber = "ACC-4242"
        ds.RequestingPhysician = "HOUSE^GREGORY"
        request = Dataset()
        request.ReasonForTheRequestedProcedure = "Deficit brutal hemicorps droit"
        ds.RequestAttributesSequence = [request]
        datasets.append(ds)
    return study_uid, datasets


def test_worklist_next_explain_and_page_show_the_patient_context(served: Served) -> None:
    study_uid, datasets = _stroke_with_context()
    DICOMwebClient(
        url=f"{served.url}/sites/h01", headers={"Authorization": f"Bearer {served.operator}"}
    ).store_instances(datasets)
    deadline = time.monotonic() + 30
    item = None
    while time.monotonic() < deadline and item is None:
        rows = json.loads(_garde(served, served.reader, "worklist", "--json"))
        item = next((r for r in rows if r["study_uid"] == study_uid and r["patient"]["age"]), None)
        time.sleep(0.3)
    assert item is not None, rows
    assert item["patient"] == {
        "age": "067Y",
        "sex": "F",
        "accession": "ACC-4242",
        "requesting_physician": "HOUSE^GREGORY",
        "indication": "Deficit brutal hemicorps droit",
    }
    table = _garde(served, served.reader, "worklist")
    assert all(len(line) <= 120 for line in table.splitlines()), table
    assert "67Y F" in table and "Deficit" in table
    explained = _garde(served, served.reader, "explain", study_uid)
    assert (
        "patient: 67Y F, accession ACC-4242, asked by HOUSE GREGORY: "
        "Deficit brutal hemicorps droit" in explained
    )
    as_json = json.loads(_garde(served, served.reader, "explain", study_uid, "--json"))
    assert as_json["patient"]["accession"] == "ACC-4242"
    started = json.loads(_garde(served, served.reader, "next", "--json"))
    assert started["study_uid"] == study_uid  # the stroke comes first
    assert started["patient"]["indication"] == "Deficit brutal hemicorps droit"
    opened = _garde(served, served.reader, "open", study_uid)
    assert opened.splitlines()[0].endswith(f"/viewer?StudyInstanceUIDs={study_uid}")
    page = httpx.get(
        f"{served.url.removesuffix('/dicom-web')}/pages/{study_uid}/",
        headers={"Authorization": f"Bearer {served.reader}"},
    )
    assert page.status_code == 200
    assert "Deficit brutal hemicorps droit" in page.text and "ACC-4242" in page.text
    refused = httpx.get(
        f"{served.url.removesuffix('/dicom-web')}/pages/{study_uid}/",
        headers={"Authorization": f"Bearer {served.outsider}"},
    )
    assert refused.status_code == 403
    log = (served.data.parent / "serve.log").read_text(errors="replace")
    assert "PAT-CTX" not in log and "HOUSE" not in log and "Deficit" not in log
