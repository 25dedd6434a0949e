"""Priors for real: Orthanc is the hospital's PACS, preloaded with two earlier studies of
the patient and one of another patient; C-FIND then C-MOVE to Garde's priors receiver
bring exactly the two, kept as priors of the new study; an instance of another patient
is refused, never attached."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pydicom.uid import generate_uid

from garde.config.reporting import PriorsPeer
from garde.dicom_gateway.scp import configure_pynetdicom
from garde.reporting.priors import NewStudy, PriorsReceiver, fetch_priors
from tests.helpers import free_port, make_dataset, require_executable
from tests.orthanc import Orthanc

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PATIENT = "PAT-0001"
YEARS_AGO = (datetime.now(tz=UTC) - timedelta(days=700)).strftime("%Y%m%d")


def _study(folder: Path, patient: str, *, instances: int = 2, date: str = YEARS_AGO) -> list[Path]:
    study_uid, series_uid = generate_uid(), generate_uid()
    paths = []
    for n in range(1, instances + 1):
        ds = make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=n,
            rows=8,
            columns=8,
            patient_id=patient,
        )
        ds.StudyDate = date
        ds.IssuerOfPatientID = "CH-ONE"
        path = folder / f"{study_uid}-{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Orthanc, PriorsReceiver]]:
    # The receiver runs in serve's process, where the gateway spools C-STORE data sets
    # (in memory when small: event.dataset names no file there). Process-wide and
    # idempotent, as in serve.
    configure_pynetdicom()
    port = free_port()
    receiver = PriorsReceiver(tmp_path / "storage", "GARDE_PRIORS", "127.0.0.1", port)
    pacs = Orthanc(tmp_path / "orthanc", modalities={"garde": ["GARDE_PRIORS", "127.0.0.1", port]})
    try:
        with pacs:
            yield pacs, receiver
    finally:
        receiver.close()


def test_exactly_the_patients_two_priors_arrive_through_c_move(
    setup: tuple[Orthanc, PriorsReceiver], tmp_path: Path
) -> None:
    pacs, receiver = setup
    files = tmp_path / "files"
    files.mkdir()
    first, second = _study(files, PATIENT), _study(files, PATIENT, instances=3)
    other = _study(files, "PAT-9999")
    for path in [*first, *second, *other]:
        pacs.upload(path)
    new = NewStudy(generate_uid(), PATIENT, "", frozenset({"CT"}), "HEAD", "")
    peer = PriorsPeer("h1", "127.0.0.1", pacs.dicom_port, pacs.ae_title, timeout_s=10)
    result = fetch_priors(peer, new, receiver, now=datetime.now(tz=UTC))
    uids = {first[0].name.split("-")[0]: 2, second[0].name.split("-")[0]: 3}
    assert {p.study_uid for p in result.relevant} == set(uids)
    assert result.stored == uids
    kept = tmp_path / "storage" / "priors" / new.study_uid
    assert sorted(p.name for p in kept.iterdir()) == sorted(uids)
    assert result.refused == 0


def test_a_prior_of_another_patient_is_refused_not_attached(
    setup: tuple[Orthanc, PriorsReceiver], tmp_path: Path
) -> None:
    storescu = require_executable("storescu")
    _, receiver = setup
    files = tmp_path / "files"
    files.mkdir()
    (intruder,) = _study(files, "PAT-9999", instances=1)
    prior_uid = intruder.name.split("-")[0]
    from garde.reporting.priors import PriorsResult

    result = PriorsResult()
    receiver.expect(prior_uid, "1.2.3", PATIENT, result)
    sent = subprocess.run(
        [
            storescu,
            "-aet",
            "PACS",
            "-aec",
            "GARDE_PRIORS",
            "127.0.0.1",
            str(receiver.port),
            str(intruder),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "0xa900" in (sent.stdout + sent.stderr).lower() or sent.returncode != 0
    assert result.refused == 1
    assert result.stored == {}
    assert not (tmp_path / "storage" / "priors").exists()


def test_the_serve_thread_keeps_the_priors_of_a_new_study_once(
    setup: tuple[Orthanc, PriorsReceiver], tmp_path: Path, session_factory: Any, migrated_url: str
) -> None:
    from garde.config.reporting import ReportingSettings
    from garde.services.priors import PriorsService
    from garde.store.repositories.reports import PriorRepository
    from garde.store.uow import SqlUnitOfWork
    from tests.integration.reporting.test_report_to_pacs import _directory
    from tests.reporting_fixtures import stored_study

    pacs, receiver = setup
    files = tmp_path / "files"
    files.mkdir()
    for path in [*_study(files, PATIENT), *_study(files, PATIENT), *_study(files, "PAT-9999")]:
        pacs.upload(path)
    _directory(session_factory)
    storage = tmp_path / "storage"
    storage.mkdir(exist_ok=True)
    new = stored_study(session_factory, storage, patient_id=PATIENT)
    peer = PriorsPeer("h1", "127.0.0.1", pacs.dicom_port, pacs.ae_title, timeout_s=10)
    service = PriorsService(
        lambda: SqlUnitOfWork(session_factory),
        ReportingSettings(priors=(peer,)),
        storage,
        receiver,
    )
    assert service.run_due() == 1
    assert service.run_due() == 0  # one lookup per study
    with SqlUnitOfWork(session_factory) as uow:
        priors = PriorRepository(uow.session).of_study(new)
    assert [p.instances for p in priors] == [2, 2]
    assert all(p.study_date == YEARS_AGO for p in priors)
    from garde.store.lean import LeanStore

    with LeanStore(migrated_url) as lean:
        (row,) = lean.studies.worklist("r1")
    assert row.priors == 2  # the worklist's PRI column
