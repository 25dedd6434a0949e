"""A study stored for real (DICOM files in the storage folder, indexed), assigned and
being read: what report tests start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydicom.uid import generate_uid

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, StudyState, TriageResult
from garde.store.instance_index import SqlInstanceIndex
from garde.store.uow import SqlUnitOfWork
from tests.helpers import make_dataset
from tests.store_fixtures import make_instance

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

PATIENT_ID = "PAT-0001"
ACCESSION = "ACC-2026-42"


def stored_study(
    factory: sessionmaker[Session],
    storage: Path,
    *,
    site_id: str = "h1",
    calling_ae: str = "H1_CT",
    reader: str | None = "r1",
    state: StudyState = StudyState.IN_PROGRESS,
    priority: Priority = Priority.URGENT,
    patient_id: str = PATIENT_ID,
    accession: str = ACCESSION,
    instances: int = 2,
) -> str:
    """Write ``instances`` CT images of a new study under ``storage``, index them, and
    put the study in ``state`` with ``reader``; its StudyInstanceUID."""
    study_uid, series_uid = generate_uid(), generate_uid()
    now = datetime.now(tz=UTC)
    index = SqlInstanceIndex(factory)
    for n in range(1, instances + 1):
        ds = make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=n,
            rows=8,
            columns=8,
            patient_id=patient_id,
        )
        ds.AccessionNumber = accession
        ds.IssuerOfPatientID = "CH-ONE"
        ds.PatientName = "Éloïse^Müller"
        ds.SpecificCharacterSet = "ISO_IR 192"
        relative = f"{study_uid}/{series_uid}/{ds.SOPInstanceUID}.dcm"
        (storage / relative).parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(storage / relative, enforce_file_format=True)
        index.record(
            make_instance(
                study_uid,
                series_uid,
                str(ds.SOPInstanceUID),
                site_id=site_id,
                calling_ae=calling_ae,
                path=relative,
                instance_number=n,
                accession_number=accession,
                study_description="TDM CEREBRALE",
            )
        )
    with SqlUnitOfWork(factory) as uow:
        uow.studies.move(study_uid, StudyEvent.BECAME_STABLE, at=now)
        uow.studies.set_triage(
            study_uid,
            TriageResult(priority, frozenset({"neuro"}), 10.0, "r"),
            now + timedelta(hours=1),
        )
        if reader is not None:
            uow.studies.assign(study_uid, reader, at=now, by="router", explanation={"kind": "t"})
            uow.studies.move(study_uid, StudyEvent.ASSIGNED, at=now)
            if state is StudyState.IN_PROGRESS:
                uow.studies.move(study_uid, StudyEvent.STARTED, at=now)
        uow.commit()
    return study_uid
