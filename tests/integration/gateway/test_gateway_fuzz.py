"""A seeded, bounded fuzz of the gateway: a few hundred mutated PDUs and data sets from
raw sockets and a pynetdicom peer, in seconds; afterwards the same worker process (never
crashed, never restarted) stores a normal storescu push."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import socket
import subprocess
import time
from io import BytesIO

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, _config
from pynetdicom.sop_class import CTImageStorage, Verification  # type: ignore[attr-defined]
from pynetdicom.transport import AssociationSocket

from garde.bootstrap import sql_instance_index
from garde.config.model import GatewaySettings
from garde.dicom_gateway import scu
from garde.dicom_gateway.workers import GatewayWorkers
from tests.helpers import make_dataset, require_executable, write_series
from tests.integration.gateway.conftest import SECRET, SITES, indexed
from tests.store_fixtures import sync_directory

pytestmark = pytest.mark.dcmtk

SEED = 15
PDUS = 120  # mutated association requests, each on its own connection
DATASETS = 120  # mutated data sets, C-STOREd on established associations
P_DATA = 20  # mutated P-DATA PDUs after association acceptance


@pytest.fixture(autouse=True)
def _no_leaked_sockets(monkeypatch):
    """pynetdicom leaks the socket of a connection the gateway cut (see `scu`)."""
    monkeypatch.setattr(AssociationSocket, "_shutdown_socket", scu._shutdown_and_close)


@pytest.fixture
def worker(tmp_path, migrated_url, session_factory):
    sync_directory(session_factory, SITES, ())
    settings = GatewaySettings(
        port=0, storage_dir=tmp_path / "storage", acse_timeout_s=2.0, network_timeout_s=5.0
    )
    index = functools.partial(sql_instance_index, migrated_url)
    gateway = GatewayWorkers(settings, SITES, index, patient_key_secret=SECRET, workers=1)
    gateway.start()
    yield gateway
    gateway.stop(timeout=5)


def recorded_request() -> bytes:
    """The A-ASSOCIATE-RQ PDU pynetdicom sends (recorded by a listening socket)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        ae = AE(ae_title="NORD_CT")
        ae.acse_timeout = 0.5
        ae.add_requested_context(Verification)
        ae.add_requested_context(CTImageStorage)
        # No answer comes: pynetdicom gives up after its ACSE timeout, the request sent.
        assoc = ae.associate("127.0.0.1", port, ae_title="GARDE")
        assert not assoc.is_established
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            data = conn.recv(65536)
    assert data[0] == 0x01
    return data


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One of a few mutations: flipped bits, random bytes, cut, grown, a length rewritten."""
    out = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 2:
        del out[rng.randrange(1, len(out)) :]
    elif kind == 3:
        at = rng.randrange(len(out))
        out[at:at] = rng.randbytes(rng.randint(1, 64))
    elif kind == 4:  # a 4-byte big- or little-endian length somewhere set to a wild value
        at = rng.randrange(max(1, len(out) - 4))
        value = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 2**31, rng.randrange(2**32)])
        out[at : at + 4] = value.to_bytes(4, rng.choice(["big", "little"]))
    else:  # a 2-byte length
        at = rng.randrange(max(1, len(out) - 2))
        out[at : at + 2] = rng.randrange(2**16).to_bytes(2, rng.choice(["big", "little"]))
    return bytes(out)


def send_raw(port: int, payload: bytes) -> None:
    """Send ``payload`` on a new connection, say no more, and wait until it is closed."""
    with socket.create_connection(("127.0.0.1", port)) as peer:
        peer.settimeout(5)
        with contextlib.suppress(OSError):
            peer.sendall(payload)
            peer.shutdown(socket.SHUT_WR)
            while peer.recv(65536):
                pass


def associate(port: int) -> AE:
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="GARDE")
    assert assoc.is_established
    return assoc


def dataset_file(path, body: bytes, ds) -> None:
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=True)
    path.write_bytes(buffer.getvalue() + body)


def test_the_gateway_survives_a_seeded_fuzz_and_still_stores(
    worker, tmp_path, session_factory, monkeypatch
):
    rng = random.Random(SEED)
    port = worker.port
    [pid] = worker.pids
    started = time.monotonic()

    request = recorded_request()
    for _ in range(PDUS):
        send_raw(port, mutate(rng, request))

    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    ds = make_dataset(rows=16, columns=16)
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    body = fp.getvalue()
    path = tmp_path / "fuzz.dcm"
    assoc = associate(port)
    statuses = []
    for _ in range(DATASETS):
        dataset_file(path, mutate(rng, body), ds)
        if not assoc.is_established:
            assoc = associate(port)
        rsp = assoc.send_c_store(path)
        statuses.append(int(rsp.Status) if "Status" in rsp else None)
    if assoc.is_established:
        assoc.release()
    assert any(s not in {None, 0} for s in statuses)  # the mutations were noticed

    for _ in range(P_DATA):
        assoc = associate(port)
        pdu = bytes([0x04, 0]) + (200).to_bytes(4, "big") + rng.randbytes(200)
        with contextlib.suppress(OSError):
            assoc.dul.socket.socket.sendall(mutate(rng, pdu))
        deadline = time.monotonic() + 0.2  # refused or not, the process must live on
        while assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.01)
        assoc.abort()
    fuzzed_in = time.monotonic() - started

    assert worker.pids == [pid]  # the same process: it never crashed
    files = write_series(tmp_path / "after", 3, rows=16, columns=16)
    exe = require_executable("storescu")
    run = subprocess.run(
        [exe, "-aet", "NORD_CT", "-aec", "GARDE", "127.0.0.1", str(port), *map(str, files)],
        capture_output=True, text=True, env={**os.environ, "TCP_NODELAY": "1"}, timeout=60,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}
    deadline = time.monotonic() + 20
    while not uids <= set(indexed(session_factory)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert uids <= set(indexed(session_factory))
    assert fuzzed_in < 60  # about 12 s on a loaded 2-core machine
