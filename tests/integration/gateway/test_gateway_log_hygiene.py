"""What a hostile peer sends never forges a log line nor puts patient data in the log.

A gateway worker process (as `garde serve` runs it) receives, from a pynetdicom SCU
sending files byte for byte: an instance whose SOP Instance UID holds a newline and a
NUL (pynetdicom warns "Non-conformant ... value '<the UID>'"), and a deflated one whose
PatientID is sent with VR IS and a value too long for it (pydicom warns "Invalid value
for VR IS: '<the PatientID>'"). The records the worker forwards are one line each and
carry neither value.
"""

from __future__ import annotations

import functools
import logging
import zlib
from io import BytesIO

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian
from pynetdicom import AE, _config

from garde.bootstrap import sql_instance_index
from garde.config.model import GatewaySettings
from garde.dicom_gateway import status
from garde.dicom_gateway.workers import GatewayWorkers
from garde.log_hygiene import WITHHELD
from tests.helpers import make_dataset
from tests.integration.gateway.conftest import SECRET, SITES
from tests.store_fixtures import sync_directory

pytestmark = pytest.mark.dcmtk

PATIENT_ID = "PAT-40701928"  # not an integer string
FORGED = "FORGED garde.dicom_gateway: ERROR all studies deleted"


@pytest.fixture
def worker(tmp_path, caplog, migrated_url, session_factory):
    sync_directory(session_factory, SITES, ())
    caplog.set_level(logging.INFO)
    settings = GatewaySettings(port=0, storage_dir=tmp_path / "storage", acse_timeout_s=5.0)
    index = functools.partial(sql_instance_index, migrated_url)
    gateway = GatewayWorkers(settings, SITES, index, patient_key_secret=SECRET, workers=1)
    gateway.start()
    yield gateway
    gateway.stop(timeout=5)


def raw_file(path, body: bytes, ds, sop_instance: str, ts: str):
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ts
    buffer = BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=False)
    path.write_bytes(buffer.getvalue() + body)
    return path


def explicit_le(ds) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, ds)
    return fp.getvalue()


def send(port: int, path, sop_class: str, ts: str, monkeypatch) -> int:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(sop_class, ts)
    assoc = ae.associate("127.0.0.1", port, ae_title="GARDE")
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(path).Status)
    finally:
        assoc.release()


def test_a_newline_uid_and_a_bad_vr_patient_id_leave_clean_one_line_records(
    worker, tmp_path, caplog, monkeypatch
):
    ds = make_dataset(rows=8, columns=8)
    forged_uid = f"1.2.3\n{FORGED}\x00"
    ds.SOPInstanceUID = forged_uid
    body = explicit_le(ds)
    path = raw_file(tmp_path / "newline.dcm", body, ds, forged_uid, ExplicitVRLittleEndian)
    assert send(worker.port, path, ds.SOPClassUID, ExplicitVRLittleEndian, monkeypatch) in {
        status.INVALID_UID,
        status.DECODE_FAILURE,
    }

    ds = make_dataset(rows=8, columns=8, patient_id=PATIENT_ID)
    body = explicit_le(ds).replace(b"\x10\x00\x20\x00LO", b"\x10\x00\x20\x00IS")
    deflater = zlib.compressobj(wbits=-15)
    deflated = deflater.compress(body) + deflater.flush()
    path = raw_file(
        tmp_path / "is.dcm", deflated, ds, ds.SOPInstanceUID, DeflatedExplicitVRLittleEndian
    )
    assert send(worker.port, path, ds.SOPClassUID, DeflatedExplicitVRLittleEndian, monkeypatch) in {
        status.SUCCESS,
        status.DECODE_FAILURE,
    }

    worker_records = [r for r in caplog.records if r.process in worker.pids]
    names = {r.name for r in worker_records}
    # The worker did see both problems (so the filter had something to clean)...
    assert "pynetdicom.utils" in names
    assert "pydicom" in names
    for record in worker_records:
        line = record.getMessage()
        assert "\n" not in line
        assert "\x00" not in line
        assert PATIENT_ID not in line
        assert not line.startswith("FORGED")
    assert any(WITHHELD in r.getMessage() for r in worker_records if r.name == "pydicom")
