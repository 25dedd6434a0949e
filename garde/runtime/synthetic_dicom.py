"""Synthetic, identifier-free DICOM series for the demo and the simulator.

The images are a smooth phantom (a bright ring in soft tissue) so previews show
something recognisable; names and IDs are obviously fake.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

_SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
}


@dataclass(frozen=True, slots=True)
class SyntheticStudy:
    """What to synthesise: one study of ``series`` series with ``slices`` images each."""

    modality: str
    body_part: str
    description: str
    patient_ref: str
    acquired_at: datetime
    series: int = 1
    slices: int = 8
    size: int = 128
    # Images in Acquisition each instance declares, as CT/MR modalities commonly send
    # (None: not sent). A count larger than ``slices`` is a series that never completes.
    declared_images: int | None = None


@functools.lru_cache(maxsize=256)
def _phantom(size: int, slice_index: int, slices: int) -> bytes:
    """A head-like phantom in Hounsfield-ish stored values (intercept -1024), as pixel data.

    Cached: a night writes the same few slices thousands of times.
    """
    yy, xx = np.mgrid[-1.0 : 1.0 : size * 1j, -1.0 : 1.0 : size * 1j]
    z = (slice_index + 0.5) / slices * 2 - 1
    radius = np.sqrt(xx**2 + yy**2 + (0.6 * z) ** 2)
    image = np.full((size, size), 0, dtype=np.float64)  # air: -1024 HU
    image[radius < 0.85] = 1024 + 1000  # bone ring
    image[radius < 0.78] = 1024 + 35  # brain
    image += 8 * np.sin(12 * xx) * np.cos(9 * yy)  # texture
    return np.clip(image, 0, 4095).astype("<u2").tobytes()


def write_study(study: SyntheticStudy, folder: Path) -> tuple[str, list[Path]]:
    """Write ``study`` under ``folder``; returns its StudyInstanceUID and the files."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid()
    sop_class = _SOP_CLASSES.get(study.modality, _SOP_CLASSES["CT"])
    paths: list[Path] = []
    for series_number in range(1, study.series + 1):
        series_uid = generate_uid()
        for n in range(study.slices):
            ds = _instance(study, study_uid, series_uid, series_number, n, sop_class)
            path = folder / f"S{series_number:02d}_I{n + 1:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return study_uid, paths


def _instance(  # noqa: PLR0917 - private builder of one dataset
    study: SyntheticStudy,
    study_uid: str,
    series_uid: str,
    series_number: int,
    n: int,
    sop_class: str,
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPInstanceUID = UID(generate_uid())
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = study.modality
    ds.StudyDescription = study.description
    ds.SeriesDescription = f"{study.body_part} {series_number}"
    ds.BodyPartExamined = study.body_part
    ds.PatientName = "DEMO^SYNTHETIC"
    ds.PatientID = study.patient_ref
    ds.StudyDate = study.acquired_at.strftime("%Y%m%d")
    ds.StudyTime = study.acquired_at.strftime("%H%M%S")
    ds.SeriesNumber = series_number
    ds.InstanceNumber = n + 1
    if study.declared_images is not None:
        ds.ImagesInAcquisition = study.declared_images
    ds.Rows = ds.Columns = study.size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 80
    ds.PixelSpacing = [0.9, 0.9]
    ds.SliceThickness = 5.0
    ds.ImagePositionPatient = [0.0, 0.0, 5.0 * n]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelData = _phantom(study.size, n, study.slices)
    return ds
