"""Putting files in a runtime's store as the gateway would, without a network peer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread

from garde.dicom_gateway.header import header_from_dataset
from garde.dispatch.model import InstanceReceived
from garde.store.instance_index import SqlInstanceIndex

if TYPE_CHECKING:
    from datetime import datetime

    from garde.bootstrap import Runtime


def index_as_received(
    rt: Runtime,
    files: list[Path],
    site_id: str,
    at: datetime,
    *,
    calling_ae: str = "VILLEFR_CT1",
    patient_key: str = "k-1",
) -> str:
    """Copy ``files`` into the runtime's storage and index them; returns the study UID."""
    index = SqlInstanceIndex(rt.session_factory)
    storage = rt.settings.gateway.storage_dir
    study_uid = ""
    for f in files:
        ds = dcmread(f, stop_before_pixels=True)
        study_uid = ds.StudyInstanceUID
        relative = Path(study_uid) / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        (storage / relative).parent.mkdir(parents=True, exist_ok=True)
        (storage / relative).write_bytes(f.read_bytes())
        index.record(
            InstanceReceived(
                sop_instance_uid=ds.SOPInstanceUID,
                sop_class_uid=ds.SOPClassUID,
                series_uid=ds.SeriesInstanceUID,
                study_uid=study_uid,
                transfer_syntax=ds.file_meta.TransferSyntaxUID,
                site_id=site_id,
                calling_ae=calling_ae,
                path=str(relative),
                size_bytes=f.stat().st_size,
                received_at=at,
                modality=ds.Modality,
                instance_number=int(ds.InstanceNumber),
                study_description=ds.StudyDescription,
                body_part=ds.BodyPartExamined,
                patient_key=patient_key,
                declared_images=header_from_dataset(ds).declared_images,
            )
        )
    return study_uid
