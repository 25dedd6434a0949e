"""Shared test helpers: required-tool switches, free ports, synthetic DICOM datasets."""

from __future__ import annotations

import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

# In CI (.ci/run) these are set, which turns a missing tool into a failure, not a skip.
REQUIRE_DCMTK = os.environ.get("GARDE_TEST_REQUIRE_DCMTK") == "1"
REQUIRE_CHROMIUM = os.environ.get("GARDE_TEST_REQUIRE_CHROMIUM") == "1"
TEST_DATABASE_URL = os.environ.get("GARDE_TEST_DATABASE_URL", "")


def require_executable(name: str, *, required: bool = REQUIRE_DCMTK) -> str:
    """Path of ``name`` on PATH; skip the test if absent, fail if CI requires it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: dcmtk / chromium)"
        if required:
            pytest.fail(f"{message}, and this run requires it")
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port free on loopback now (xdist-safe: the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_dataset(
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    modality: str = "CT",
    description: str = "TDM CEREBRALE SANS INJECTION",
    body_part: str = "HEAD",
    instance_number: int = 1,
    rows: int = 64,
    columns: int = 64,
    patient_id: str = "PAT-0001",
    series_description: str = "AXIAL",
    images_in_acquisition: int | None = None,
) -> Dataset:
    """A fresh, small, synthetic CT image dataset with file meta (a new object every call)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = modality
    ds.StudyDescription = description
    ds.SeriesDescription = series_description
    ds.BodyPartExamined = body_part
    ds.PatientName = "SYNTHETIC^PATIENT"
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19500101"
    now = datetime.now(tz=UTC)
    ds.StudyDate = now.strftime("%Y%m%d")
    ds.StudyTime = now.strftime("%H%M%S")
    ds.InstanceNumber = instance_number
    ds.SeriesNumber = 1
    if images_in_acquisition is not None:  # what CT/MR modalities commonly declare
        ds.ImagesInAcquisition = images_in_acquisition
    ds.Rows = rows
    ds.Columns = columns
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
    ds.ImagePositionPatient = [0.0, 0.0, float(instance_number)]
    ds.PixelSpacing = [0.5, 0.5]
    ds.SliceThickness = 1.0
    yy, xx = np.mgrid[0:rows, 0:columns]
    pixels = ((xx + yy + instance_number) % 256 * 8 + 900).astype(np.uint16)
    ds.PixelData = pixels.tobytes()
    return ds


def write_series(
    folder: Path, count: int, *, study_uid: str | None = None, **kwargs: object
) -> list[Path]:
    """Write ``count`` instances of one series to ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    paths = []
    for n in range(1, count + 1):
        ds = make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=n,
            **kwargs,  # type: ignore[arg-type]
        )
        path = folder / f"IM{n:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_on_call_roster(path: Path, *radiologist_ids: str) -> Path:
    """A roster CSV putting each radiologist on call, every site, from an hour ago for
    twelve hours (wall-clock now: for tests that run `garde serve` on the real clock)."""
    now = datetime.now(tz=UTC)
    start = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    end = (now + timedelta(hours=11)).strftime("%Y-%m-%dT%H:%MZ")
    lines = [f"{rid},{start},{end},oncall,all" for rid in radiologist_ids]
    path.write_text("radiologist,start,end,role,sites\n" + "\n".join(lines) + "\n", "utf-8")
    return path
