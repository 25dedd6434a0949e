"""Bounded before trust: what a peer can make a gateway process hold before its AE title
is checked, and the PDU size it must respect after (`garde.dicom_gateway.pdu_guard`).

The gateway runs as a worker process, as `garde serve` runs it, so its memory can be read
from /proc; the peers are raw sockets (and pynetdicom where an association is needed).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import socket
import struct
import time

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRBigEndian
from pynetdicom import AE, _config
from pynetdicom.sop_class import CTImageStorage, Verification  # type: ignore[attr-defined]
from pynetdicom.transport import AssociationSocket

from garde.bootstrap import sql_instance_index
from garde.config.model import GatewaySettings
from garde.dicom_gateway import scu
from garde.dicom_gateway.contexts import TRANSFER_SYNTAXES, storage_sop_classes
from garde.dicom_gateway.workers import GatewayWorkers
from tests.integration.gateway.conftest import SECRET, SITES, indexed
from tests.integration.gateway.test_gateway_large import kib, large_instance, rss_with_peak_reset
from tests.store_fixtures import sync_directory

pytestmark = pytest.mark.dcmtk

MB = 1 << 20
ACSE_TIMEOUT_S = 2.0
PER_ADDRESS = 4


@pytest.fixture(autouse=True)
def _no_leaked_sockets(monkeypatch):
    """pynetdicom leaks the socket of a connection the gateway cut (see `scu`)."""
    monkeypatch.setattr(AssociationSocket, "_shutdown_socket", scu._shutdown_and_close)


@pytest.fixture
def worker(tmp_path, migrated_url, session_factory):
    sync_directory(session_factory, SITES, ())
    settings = GatewaySettings(
        port=0,
        storage_dir=tmp_path / "storage",
        acse_timeout_s=ACSE_TIMEOUT_S,
        network_timeout_s=10.0,
        max_pending_per_address=PER_ADDRESS,
    )
    index = functools.partial(sql_instance_index, migrated_url)
    gateway = GatewayWorkers(settings, SITES, index, patient_key_secret=SECRET, workers=1)
    gateway.start()
    yield gateway
    gateway.stop(timeout=5)


def echo_ok(port: int) -> bool:
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="GARDE")
    if not assoc.is_established:
        return False
    try:
        return int(assoc.send_c_echo().Status) == 0
    finally:
        assoc.release()


def flood(sock: socket.socket, megabytes: int) -> float:
    """Send up to ``megabytes`` MB of zeros; the MB sent before the peer closed."""
    chunk = bytes(MB)
    sock.settimeout(5)
    for sent in range(megabytes):
        try:
            sock.sendall(chunk)
        except OSError:  # reset or broken pipe: the gateway closed the connection
            return sent
    return megabytes


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer closes ``sock`` within ``seconds`` (EOF or reset)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_an_association_request_claiming_2_gb_is_refused_unread(worker):
    [pid] = worker.pids
    before = rss_with_peak_reset(pid)
    with socket.create_connection(("127.0.0.1", worker.port)) as peer:
        peer.sendall(struct.pack(">BBL", 0x01, 0, 2**31))
        sent = flood(peer, 256)
        assert closed_within(peer, 5)
    growth_mb = (kib(pid, "VmHWM") - before) / 1024
    assert growth_mb < 8, f"the worker grew by {growth_mb:.1f} MB ({sent} MB sent)"
    assert echo_ok(worker.port)


@pytest.mark.parametrize("pdu_type", [0x04, 0x07, 0x42])
def test_anything_but_an_association_request_first_is_refused(worker, pdu_type):
    with socket.create_connection(("127.0.0.1", worker.port)) as peer:
        peer.sendall(struct.pack(">BBL", pdu_type, 0, 4) + b"\x00" * 4)
        assert closed_within(peer, 2)
    assert echo_ok(worker.port)


def test_a_trickling_peer_is_dropped_at_the_acse_timeout(worker):
    with socket.create_connection(("127.0.0.1", worker.port)) as peer:
        started = time.monotonic()
        peer.sendall(struct.pack(">BBL", 0x01, 0, 200))  # a plausible request, 1 byte at a time
        closed_at = None
        for _ in range(200):
            try:
                peer.sendall(b"\x00")
            except OSError:
                closed_at = time.monotonic()
                break
            readable, _, _ = select.select([peer], [], [], 0.2)
            if readable:
                with contextlib.suppress(OSError):
                    assert peer.recv(1) == b""
                closed_at = time.monotonic()
                break
    assert closed_at is not None, "still connected after 40 s"
    assert ACSE_TIMEOUT_S - 0.5 < closed_at - started < ACSE_TIMEOUT_S + 1.5


def test_connections_not_yet_associated_are_capped_per_address(worker):
    port = worker.port
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(PER_ADDRESS)]
    try:
        time.sleep(0.3)  # all accepted and counted
        with socket.create_connection(("127.0.0.1", port)) as one_more:
            assert closed_within(one_more, 1)  # closed at once, not at the ACSE timeout
        with socket.socket() as other:  # another address is not capped meanwhile
            other.bind(("127.0.0.2", 0))
            other.connect(("127.0.0.1", port))
            assert not closed_within(other, 0.5)
    finally:
        for sock in silent:
            sock.close()
    time.sleep(0.3)
    assert echo_ok(port)


def test_a_peer_over_the_cap_retrying_in_a_loop_gets_one_log_line(gateway_factory, caplog):
    gateway = gateway_factory(max_pending_per_address=1)
    with socket.create_connection(("127.0.0.1", gateway.port)):
        time.sleep(0.3)  # accepted and counted
        with caplog.at_level(logging.WARNING, logger="garde.dicom_gateway.server"):
            for _ in range(50):
                with socket.create_connection(("127.0.0.1", gateway.port)) as refused:
                    assert closed_within(refused, 1)
    lines = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(lines) == 1


def test_a_pdu_over_the_announced_maximum_ends_the_association_unread(worker):
    [pid] = worker.pids
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", worker.port, ae_title="GARDE")
    assert assoc.is_established
    assert assoc.acceptor.maximum_length == 4 * MB  # announced: never unlimited
    before = rss_with_peak_reset(pid)
    # pynetdicom's reader thread closes its socket as soon as the gateway hangs up,
    # which can be before the flood starts: a duplicate descriptor stays ours.
    with assoc.dul.socket.socket.dup() as raw:
        raw.sendall(struct.pack(">BBL", 0x04, 0, 2**31))
        sent = flood(raw, 256)
    deadline = time.monotonic() + 5
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.05)
    assoc.abort()
    growth_mb = (kib(pid, "VmHWM") - before) / 1024
    assert growth_mb < 8 + 4, f"the worker grew by {growth_mb:.1f} MB ({sent} MB sent)"
    assert echo_ok(worker.port)


def test_a_large_instance_from_a_pynetdicom_sender_costs_bounded_memory(
    worker, tmp_path, session_factory, monkeypatch
):
    # pynetdicom sends as large PDUs as the acceptor allows: unlimited, a 256 MB private
    # element cost a worker 945 MB; with 4 MB PDUs the data set streams to disk.
    source = large_instance(tmp_path / "large.dcm", 64)
    [pid] = worker.pids
    before = rss_with_peak_reset(pid)
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    ae = AE(ae_title="NORD_CT")
    ae.maximum_pdu_size = 0
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", worker.port, ae_title="GARDE")
    assert assoc.is_established
    try:
        assert int(assoc.send_c_store(source).Status) == 0
    finally:
        assoc.release()
    growth_mb = (kib(pid, "VmHWM") - before) / 1024
    assert growth_mb < 40, f"the worker grew by {growth_mb:.0f} MB for a 64 MB instance"
    uid = dcmread(source, stop_before_pixels=True).SOPInstanceUID
    deadline = time.monotonic() + 20  # the worker indexes a moment after answering
    while uid not in indexed(session_factory) and time.monotonic() < deadline:
        time.sleep(0.2)
    stored = tmp_path / "storage" / indexed(session_factory)[uid].path
    assert stored.stat().st_size - source.stat().st_size < 1024


def test_the_largest_ordinary_association_request_is_accepted(worker):
    # The standard's 128 presentation contexts, each proposing 13 transfer syntaxes: 47 kB.
    syntaxes = [*TRANSFER_SYNTAXES, ExplicitVRBigEndian]
    ae = AE(ae_title="NORD_CT")
    for sop_class in storage_sop_classes()[:128]:
        ae.add_requested_context(sop_class, syntaxes)
    assoc = ae.associate("127.0.0.1", worker.port, ae_title="GARDE")
    assert assoc.is_established
    assoc.release()
