"""The store contract for the attributes read from the stored files (a study's patient
context, its study-level DICOM JSON): `services.study_attributes.fill_missing` through
the `garde.store.ports.StudyAttributeIndex` port, on real DICOM files, the same cases on
SQLite, PostgreSQL (when configured) and the memory store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.services.study_attributes import fill_missing
from garde.store.records import PatientContext, StudyAttributes
from tests.helpers import make_dataset

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.store.contract_store import Store


def _write(storage: Path, study: str, series: int, number: int, **tags: str) -> None:
    """The real file of an instance `Store.receive` indexed (same relative path)."""
    series_uid, sop = f"{study}.{series}", f"{study}.{series}.{number}"
    ds = make_dataset(study_uid=study, series_uid=series_uid, sop_uid=sop, rows=8, columns=8)
    ds.StudyDate, ds.PatientBirthDate = "20260306", "19590101"
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    path = storage / study / series_uid / f"{sop}.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _context(store: Store, uid: str) -> PatientContext:
    with store.uow_factory() as uow:
        return uow.studies.patient_context(uid)


def test_each_study_is_read_once_from_its_first_stored_file(store: Store, tmp_path: Path) -> None:
    study = store.receive(series=2, per=2, accession_number="A12")
    for series in (1, 2):
        for number in (1, 2):
            first = (series, number) == (1, 1)
            _write(
                tmp_path,
                study,
                series,
                number,
                PatientSex="F" if first else "M",
                ReasonForTheRequestedProcedure="chute, TC" if first else "other",
                RequestingPhysician="DR^URGENCES",
            )
    assert _context(store, study) == PatientContext(accession="A12")  # not read yet

    assert fill_missing(store.attributes, tmp_path) == 1
    assert _context(store, study) == PatientContext(
        age="067Y",
        sex="F",
        accession="A12",
        requesting_physician="DR^URGENCES",
        indication="chute, TC",
    )
    assert fill_missing(store.attributes, tmp_path) == 0  # kept: never read again
    assert store.attributes.missing_attributes() == []


def test_an_unreadable_file_gives_empty_attributes_once(store: Store, tmp_path: Path) -> None:
    gone = store.receive(accession_number="B7")  # indexed, its file never written
    other = store.receive()
    _write(tmp_path, other, 1, 1, PatientSex="M")
    assert fill_missing(store.attributes, tmp_path) == 2
    assert _context(store, gone) == PatientContext(accession="B7")
    assert _context(store, other).sex == "M"
    assert fill_missing(store.attributes, tmp_path) == 0


def test_saving_keeps_the_first_attributes_of_a_study(store: Store, tmp_path: Path) -> None:
    study = store.receive()
    _write(tmp_path, study, 1, 1, PatientSex="F")
    (missing,) = store.attributes.missing_attributes()
    assert missing.path == f"{study}/{study}.1/{study}.1.1.dcm"
    assert fill_missing(store.attributes, tmp_path) == 1
    store.attributes.save_attributes([(missing.study_id, StudyAttributes())])
    assert _context(store, study).sex == "F"
