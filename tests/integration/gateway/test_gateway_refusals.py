"""What the gateway refuses, over real associations: each refusal gets its failure status,
leaves no file and no index row, and the server keeps serving.

dcmtk's storescu re-encodes into the negotiated transfer syntax and takes the request
UIDs from the dataset, so it cannot send a mis-encoded dataset or mismatched UIDs; a
pynetdicom SCU sending files byte for byte (``STORE_SEND_CHUNKED_DATASET``) can: the
request's UIDs come from the file meta, the bytes after it go out untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import subprocess
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from pynetdicom import AE, _config

from garde.dicom_gateway import status, writer
from tests.helpers import make_dataset, require_executable
from tests.integration.gateway.conftest import indexed, storage_files

pytestmark = pytest.mark.dcmtk

ENV = {**os.environ, "TCP_NODELAY": "1"}
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def storescu(port: int, *files: Path, aet: str = "NORD_CT") -> subprocess.CompletedProcess[str]:
    exe = require_executable("storescu")
    args = [exe, "-v", "-aet", aet, "-aec", "GARDE", "127.0.0.1", str(port)]
    return subprocess.run(
        [*args, *map(str, files)], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )


def store_statuses(run: subprocess.CompletedProcess[str]) -> list[str]:
    """The status text of each C-STORE response storescu received, in order."""
    return re.findall(r"Received Store Response \(([^)]*)\)", run.stdout + run.stderr)


def echo_ok(port: int) -> bool:
    exe = require_executable("echoscu")
    run = [exe, "-aet", "NORD_CT", "-aec", "GARDE", "127.0.0.1", str(port)]
    return subprocess.run(run, capture_output=True, env=ENV, check=False).returncode == 0


def raw_file(
    path: Path, body: bytes, sop_class: str, sop_instance: str, ts: str = ExplicitVRLittleEndian
) -> Path:
    """A DICOM file whose meta says ``sop_class``/``sop_instance``/``ts`` whatever ``body``
    (the encoded dataset) contains."""
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ts
    buffer = BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=True)
    path.write_bytes(buffer.getvalue() + body)
    return path


def encoded(ds: pydicom.Dataset, *, implicit: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def send_as_is(port: int, path: Path, monkeypatch, aet: str = "NORD_CT") -> int:
    """C-STORE ``path`` byte for byte from a pynetdicom SCU; the response status."""
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    meta = dcmread(path, stop_before_pixels=True).file_meta
    ae = AE(ae_title=aet)
    ae.add_requested_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="GARDE")
    assert assoc.is_established
    try:
        rsp = assoc.send_c_store(path)
        return int(rsp.Status)
    finally:
        assoc.release()


def assert_nothing_kept(gateway, session_factory):
    assert storage_files(gateway.service.writer.root) == []
    assert indexed(session_factory) == {}
    assert echo_ok(gateway.port)  # and the server still serves


def test_dataset_encoded_in_another_syntax_is_refused(
    gateway, session_factory, tmp_path, monkeypatch
):
    ds = make_dataset(rows=16, columns=16)
    body = encoded(ds, implicit=True)  # implicit VR on an explicit VR context
    path = raw_file(tmp_path / "wrong.dcm", body, ds.SOPClassUID, ds.SOPInstanceUID)
    assert send_as_is(gateway.port, path, monkeypatch) == status.DECODE_FAILURE
    assert_nothing_kept(gateway, session_factory)


@pytest.mark.parametrize("what", ["instance", "class"])
def test_dataset_uids_differing_from_the_request_are_refused(
    gateway, session_factory, tmp_path, monkeypatch, what
):
    ds = make_dataset(rows=16, columns=16)
    body = encoded(ds, implicit=False)
    sop_class, sop_instance = ds.SOPClassUID, ds.SOPInstanceUID
    if what == "instance":
        sop_instance = generate_uid()
    else:
        sop_class = MRImageStorage
    path = raw_file(tmp_path / "mismatch.dcm", body, sop_class, sop_instance)
    assert send_as_is(gateway.port, path, monkeypatch) == status.DATASET_MISMATCH
    assert_nothing_kept(gateway, session_factory)


@pytest.mark.parametrize(
    "body",
    [b"\xff" * 4096, b"\x08\x00\x16\x00UI\xff\xff" + b"1" * 40, b"\x08\x00"],
    ids=["noise", "cut-short", "half-a-tag"],
)
def test_malformed_datasets_are_refused(gateway, session_factory, tmp_path, monkeypatch, body):
    ds = make_dataset()
    path = raw_file(tmp_path / "junk.dcm", body, ds.SOPClassUID, ds.SOPInstanceUID)
    assert send_as_is(gateway.port, path, monkeypatch) in {
        status.DECODE_FAILURE,
        status.INVALID_UID,
        status.INCOMPLETE,  # an element longer than what arrived
    }
    assert_nothing_kept(gateway, session_factory)


@pytest.mark.parametrize(
    "bad", ["../../../../tmp/garde-pwned", "1.2.abc", "1." + "2" * 70, "1.2/../../3"]
)
@pytest.mark.parametrize("field", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
def test_hostile_uids_from_storescu_are_refused(gateway, session_factory, tmp_path, field, bad):
    ds = make_dataset(rows=8, columns=8)
    setattr(ds, field, bad)
    if field == "SOPInstanceUID":
        ds.file_meta.MediaStorageSOPInstanceUID = bad
    path = tmp_path / "hostile.dcm"
    ds.save_as(path, enforce_file_format=True)
    run = storescu(gateway.port, path)
    assert store_statuses(run) == ["Error: CannotUnderstand"], run.stderr  # 0xC000
    assert_nothing_kept(gateway, session_factory)
    assert not Path("/tmp/garde-pwned.dcm").exists()


def test_hostile_request_uid_from_a_raw_sender_is_refused(
    gateway, session_factory, tmp_path, monkeypatch
):
    ds = make_dataset(rows=8, columns=8)
    path = raw_file(tmp_path / "r.dcm", encoded(ds, implicit=False), ds.SOPClassUID, "1.2.abc")
    assert send_as_is(gateway.port, path, monkeypatch) == status.INVALID_UID
    assert_nothing_kept(gateway, session_factory)


def test_full_disk_answers_out_of_resources_and_leaves_nothing(
    gateway, session_factory, tmp_path, monkeypatch
):
    """A write that fails half-way (ENOSPC after the first bytes reached the disk)."""
    real_write = os.write

    def write_then_fill_up(fd: int, data) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    ds = make_dataset(rows=64, columns=64)
    path = tmp_path / "ct.dcm"
    ds.save_as(path, enforce_file_format=True)
    monkeypatch.setattr(writer.os, "write", write_then_fill_up)
    try:
        run = storescu(gateway.port, path)
    finally:
        monkeypatch.setattr(writer.os, "write", real_write)
    assert store_statuses(run) == ["Refused: OutOfResources"], run.stderr
    assert_nothing_kept(gateway, session_factory)
    # The sender retries once there is room again: stored.
    again = storescu(gateway.port, path)
    assert store_statuses(again) == ["Success"]
    assert list(indexed(session_factory)) == [ds.SOPInstanceUID]


def test_chunked_receive_stores_the_whole_dataset(gateway, session_factory, monkeypatch):
    """pynetdicom's STORE_RECV_CHUNKED_DATASET spools the dataset to a file, and then
    ``encoded_dataset()`` returns only a header: the stored file must still be whole."""
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", True)
    sources = [TEST_FILES / "CT_small.dcm", TEST_FILES / "MR_small.dcm"]
    run = storescu(gateway.port, *sources)
    assert store_statuses(run) == ["Success", "Success"], run.stderr
    rows = indexed(session_factory)
    for source in sources:
        original = dcmread(source)
        stored = dcmread(gateway.service.writer.root / rows[original.SOPInstanceUID].path)
        assert stored.PixelData == original.PixelData
        assert stored.SOPInstanceUID == original.SOPInstanceUID
        assert stored.file_meta.SourceApplicationEntityTitle == "NORD_CT"


def test_a_silent_connection_holds_no_slot_and_is_dropped(gateway_factory):
    gateway = gateway_factory(max_associations=1, acse_timeout_s=1.0)
    with socket.create_connection(("127.0.0.1", gateway.port)) as silent:
        # It never sends an A-ASSOCIATE-RQ: the one slot stays free for real senders.
        assert echo_ok(gateway.port)
        assert echo_ok(gateway.port)
        silent.settimeout(30)
        with contextlib.suppress(ConnectionResetError):  # closed after the ACSE timeout
            assert silent.recv(1) == b""
    assert echo_ok(gateway.port)
