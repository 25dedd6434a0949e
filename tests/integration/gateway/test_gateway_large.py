"""A 512 MB instance costs a gateway process no more memory than a small one: the data
set is spooled to a file as it arrives (past 8 MB) and copied from it in 1 MB chunks."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from garde.bootstrap import sql_instance_index
from garde.config.model import GatewaySettings
from garde.dicom_gateway.workers import GatewayWorkers
from tests.helpers import require_executable
from tests.integration.gateway.conftest import SECRET, SITES, indexed
from tests.store_fixtures import sync_directory

pytestmark = [pytest.mark.dcmtk, pytest.mark.slow]

MB = 1 << 20
LIMIT_MB = 100


def large_instance(path: Path, megabytes: int) -> Path:
    """A CT instance with ``megabytes`` MB of pixels, written in chunks (never in memory)."""
    columns = 8192
    rows = megabytes * MB // (columns * 2)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = "CT", "PAT-LARGE"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.save_as(path, enforce_file_format=True)
    length = rows * columns * 2
    with path.open("ab") as fp:
        fp.write(b"\xe0\x7f\x10\x00OW\x00\x00" + length.to_bytes(4, "little"))
        chunk = bytes(8 * MB)
        for _ in range(length // len(chunk)):
            fp.write(chunk)
        fp.write(bytes(length % len(chunk)))
    return path


def rss_with_peak_reset(pid: int) -> int:
    """The process's resident KiB now, its peak (VmHWM) reset to it first: the peak read
    later is then this test's, not one left from the worker's start-up (Linux's
    clear_refs "5")."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return kib(pid, "VmRSS")


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def test_a_512_mb_instance_is_stored_with_bounded_memory(tmp_path, migrated_url, session_factory):
    sync_directory(session_factory, SITES, ())
    source = large_instance(tmp_path / "large.dcm", 512)
    settings = GatewaySettings(port=0, storage_dir=tmp_path / "storage", network_timeout_s=60)
    gateway = GatewayWorkers(
        settings,
        SITES,
        functools.partial(sql_instance_index, migrated_url),
        patient_key_secret=SECRET,
        workers=1,
    )
    with gateway:
        [pid] = gateway.pids
        before = rss_with_peak_reset(pid)
        exe = require_executable("storescu")
        run = subprocess.run(
            [exe, "-aet", "NORD_CT", "-aec", "GARDE", "127.0.0.1", str(gateway.port), str(source)],
            capture_output=True,
            text=True,
            env={**os.environ, "TCP_NODELAY": "1"},
            timeout=120,
            check=False,
        )
        peak = kib(pid, "VmHWM")
    assert run.returncode == 0, run.stderr
    growth_mb = (peak - before) / 1024
    assert growth_mb <= LIMIT_MB, f"the worker grew by {growth_mb:.0f} MB"
    uid = dcmread(source, stop_before_pixels=True).SOPInstanceUID
    row = indexed(session_factory)[uid]
    stored = tmp_path / "storage" / row.path
    assert stored.stat().st_size == row.size_bytes
    assert stored.stat().st_size - source.stat().st_size < 1024  # only the file meta differs
