"""Priors over the web (issue 14), against a running `garde serve`: the study page lists
each prior (date, modality, description, a viewer link); QIDO-RS and WADO-RS give the
prior's series and instances to whoever may read the study, refuse the others, audited.

The prior is kept as the priors service keeps one (a `priors` row and the moved files
under `storage/priors/<study>/<prior>/`); the C-FIND + C-MOVE that bring it are tested
with Orthanc in `tests/integration/reporting/test_priors.py`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydicom import dcmread
from pydicom.uid import generate_uid

from garde.store.engine import make_engine, make_session_factory
from garde.store.repositories.reports import PriorRecord, PriorRepository
from tests.e2e.web.test_dicomweb import _garde_json
from tests.helpers import write_series

if TYPE_CHECKING:
    from tests.e2e.web.conftest import Served


def _keep_prior(served: Served, tmp: Path) -> tuple[str, list[Path]]:
    prior_uid = generate_uid()
    files = write_series(
        tmp / "prior", 3, study_uid=prior_uid, rows=16, columns=16, series_description="AXIAL"
    )
    folder = served.data / "storage" / "priors" / served.study_uid / prior_uid
    folder.mkdir(parents=True)
    kept = []
    for path in files:
        sop = dcmread(path, stop_before_pixels=True).SOPInstanceUID
        kept.append(Path(shutil.copy(path, folder / f"{sop}.dcm")))
    engine = make_engine(f"sqlite:///{served.data / 'garde.sqlite'}")
    try:
        with make_session_factory(engine)() as session:
            PriorRepository(session).add(
                PriorRecord(served.study_uid, prior_uid, "20240312", "CT", "TDM cérébral", 3),
                datetime.now(tz=UTC),
            )
            session.commit()
    finally:
        engine.dispose()
    return prior_uid, kept


def test_priors_on_the_page_and_over_dicomweb_with_the_studys_access(
    served: Served, tmp_path: Path
) -> None:
    prior_uid, kept = _keep_prior(served, tmp_path)
    reader = {"Authorization": f"Bearer {served.reader}"}
    outsider = {"Authorization": f"Bearer {served.outsider}"}
    base = served.url.removesuffix("/dicom-web")

    page = httpx.get(f"{base}/pages/{served.study_uid}/", headers=reader)
    assert page.status_code == 200
    assert "id='garde-priors'" in page.text
    assert f"data-uid='{prior_uid}'" in page.text
    for shown in ("2024-03-12", "<td>CT</td>", "TDM cérébral", "3 images"):
        assert shown in page.text
    assert (
        "class='garde-prior-link'" in page.text
        and prior_uid in page.text.split("garde-prior-link")[1]
    )

    series = httpx.get(f"{served.url}/studies/{prior_uid}/series", headers=reader)
    assert series.status_code == 200, series.text
    [one] = series.json()
    assert one["0008103E"]["Value"] == ["AXIAL"]
    assert one["00201209"]["Value"] == [3]
    series_uid = one["0020000E"]["Value"][0]
    instances = httpx.get(f"{served.url}/studies/{prior_uid}/instances", headers=reader).json()
    sops = [i["00080018"]["Value"][0] for i in instances]
    assert sorted(sops) == sorted(p.stem for p in kept)

    wado = httpx.get(
        f"{served.url}/studies/{prior_uid}/series/{series_uid}/instances/{sops[0]}",
        headers={**reader, "Accept": 'multipart/related; type="application/dicom"'},
    )
    assert wado.status_code == 200
    assert (kept[0].parent / f"{sops[0]}.dcm").read_bytes() in wado.content
    metadata = httpx.get(f"{served.url}/studies/{prior_uid}/metadata", headers=reader)
    assert metadata.status_code == 200 and len(metadata.json()) == 3

    # Who may not read the study may not read its priors; the refusal is audited.
    refused = httpx.get(f"{served.url}/studies/{prior_uid}/series", headers=outsider)
    assert refused.status_code == 403
    assert (
        httpx.get(f"{served.url}/studies/{prior_uid}/metadata", headers=outsider).status_code == 403
    )
    audit = json.loads(_garde_json(served, "audit", "--study", served.study_uid))
    reads = [e for e in audit if e.get("actor") == "r01" and "prior" in json.dumps(e)]
    assert reads, audit
    assert any(e.get("actor") == "r02" and prior_uid in json.dumps(e) for e in audit), audit
