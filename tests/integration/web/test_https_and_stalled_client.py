"""The web part over HTTPS (the buffered retrieve path: no sendfile through TLS), and a
client that stops reading mid-stream: the server goes on answering others."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from dataclasses import replace

import httpx
import pytest

from garde.bootstrap import build_runtime
from garde.config.loader import load_settings
from garde.config.model import TlsSettings, WebSettings
from garde.store.migrate import upgrade
from tests.helpers import require_executable, write_series

CONFIG = """
environment = "test"
data_dir = "{data}"

[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH Test"
ae_titles = ["TEST_CT1"]
"""


@pytest.fixture
def runtime(tmp_path):
    (tmp_path / "garde.toml").write_text(CONFIG.format(data=tmp_path / "data"))
    settings = load_settings(tmp_path / "garde.toml")
    (tmp_path / "data").mkdir()
    upgrade(settings.effective_database_url)
    runtime = build_runtime(settings)
    runtime.sync_directory()
    yield runtime
    runtime.close()


def _store(runtime, tmp_path, count: int, size: int) -> str:
    """Instances written to storage and indexed through the gateway's own index."""
    from pydicom import dcmread

    from garde.dicom_gateway.intake import IntakeService, StoreRequest
    from garde.dicom_gateway.policy import AssociationPolicy
    from garde.dicom_gateway.writer import DurableWriter, FileSlice
    from garde.store.instance_index import SqlInstanceIndex

    settings = runtime.settings
    intake = IntakeService(
        DurableWriter(settings.gateway.storage_dir),
        SqlInstanceIndex(runtime.session_factory),
        AssociationPolicy(settings.sites, "GARDE", check_called_ae=False),
        patient_key_secret=b"k" * 32,
    )
    files = write_series(tmp_path / "in", count, rows=size, columns=size)
    for path in files:
        ds = dcmread(path)
        with path.open("rb") as fp:
            from garde.dicom_gateway.writer import dataset_offset

            offset = dataset_offset(fp)
        outcome = intake.receive(
            StoreRequest(
                ds.SOPClassUID,
                ds.SOPInstanceUID,
                str(ds.file_meta.TransferSyntaxUID),
                "TEST_CT1",
                FileSlice(path, offset),
            )
        )
        assert outcome.status == 0, outcome
    return str(dcmread(files[0]).StudyInstanceUID)


def test_https_serves_dicomweb_with_the_configured_certificate(runtime, tmp_path) -> None:
    openssl = require_executable("openssl")
    cert, key = tmp_path / "web.pem", tmp_path / "web.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    study = _store(runtime, tmp_path, 3, 32)
    runtime.settings = replace(
        runtime.settings, web=replace(WebSettings(), tls=TlsSettings(cert, key))
    )
    server = runtime.build_web(port=0)
    server.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=context) as client:
            found = client.get(f"https://127.0.0.1:{server.port}/dicom-web/studies")
            assert [s["0020000D"]["Value"][0] for s in found.json()] == [study]
            body = client.get(f"https://127.0.0.1:{server.port}/dicom-web/studies/{study}")
            assert body.status_code == 200
            assert body.content.count(b"Content-Type: application/dicom") == 3
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the TLS port: no answer
            httpx.get(f"http://127.0.0.1:{server.port}/dicom-web/studies", timeout=3)
    finally:
        server.stop()


def test_a_client_that_stops_reading_holds_up_no_one_else(runtime, tmp_path) -> None:
    study = _store(runtime, tmp_path, 40, 512)  # about 20 MB: more than socket buffers
    server = runtime.build_web(port=0)
    server.start()
    stalled = socket.create_connection(("127.0.0.1", server.port))
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(f"GET /dicom-web/studies/{study} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert stalled.recv(1024).startswith(b"HTTP/1.1 200")  # then reads nothing more
        time.sleep(0.5)
        began = time.monotonic()
        for _ in range(3):
            other = httpx.get(f"http://127.0.0.1:{server.port}/dicom-web/studies", timeout=5)
            assert other.status_code == 200
        assert time.monotonic() - began < 3
    finally:
        stalled.close()  # the stalled send fails at once, its thread is freed
        server.stop()
