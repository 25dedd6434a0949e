"""DICOM TLS against dcmtk's storescu / echoscu, with certificates made here by openssl."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread

from garde.config.model import TlsSettings
from garde.dicom_gateway.scu import check_link
from garde.dicom_gateway.tls import client_context
from tests.helpers import require_executable
from tests.integration.gateway.conftest import indexed

pytestmark = pytest.mark.dcmtk

ENV = {**os.environ, "TCP_NODELAY": "1"}
CT = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: tuple[Path, Path]  # certificate, key
    client: tuple[Path, Path]
    rogue_client: tuple[Path, Path]  # signed by a CA the gateway does not trust


def _openssl(*args: str) -> None:
    exe = require_executable("openssl")
    subprocess.run([exe, *args], check=True, capture_output=True)


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
        "-days", "2", "-subj", f"/CN={name}",
    )  # fmt: skip
    return cert, key


def _leaf(folder: Path, name: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    cert, key, csr = folder / f"{name}.pem", folder / f"{name}.key", folder / f"{name}.csr"
    ext = folder / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = _ca(folder, "garde-test-ca")
    rogue = _ca(folder, "rogue-ca")
    return Pki(
        ca=ca[0],
        server=_leaf(folder, "GARDE", ca),
        client=_leaf(folder, "NORD_CT", ca),
        rogue_client=_leaf(folder, "NORD_CT_rogue", rogue),
    )


def dcmtk(tool: str, port: int, tls: list[str], *files: Path) -> subprocess.CompletedProcess[str]:
    exe = require_executable(tool)
    args = [exe, "-aet", "NORD_CT", "-aec", "GARDE", *tls, "127.0.0.1", str(port)]
    return subprocess.run(
        [*args, *map(str, files)], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )


def anonymous(pki: Pki) -> list[str]:
    """TLS without a client certificate, verifying the gateway against our CA."""
    return ["+tla", "+cf", str(pki.ca)]


def with_certificate(pki: Pki, cert_key: tuple[Path, Path]) -> list[str]:
    cert, key = cert_key
    return ["+tls", str(key), str(cert), "+cf", str(pki.ca)]


def test_tls_without_client_certificates(gateway_factory, session_factory, pki):
    gateway = gateway_factory(tls=TlsSettings(*pki.server))
    run = dcmtk("storescu", gateway.port, anonymous(pki), CT)
    assert run.returncode == 0, run.stderr
    uid = dcmread(CT, stop_before_pixels=True).SOPInstanceUID
    assert indexed(session_factory)[uid].calling_ae == "NORD_CT"
    assert dcmtk("echoscu", gateway.port, with_certificate(pki, pki.client)).returncode == 0
    # Plain TCP to a TLS port gets nowhere.
    assert dcmtk("echoscu", gateway.port, []).returncode != 0
    # garde echo / push speak TLS too.
    link = check_link("127.0.0.1", gateway.port, "SUD_CT", "GARDE", client_context(pki.ca))
    assert link.status == 0, link.detail


def test_tls_requiring_client_certificates(gateway_factory, session_factory, pki):
    tls = TlsSettings(*pki.server, ca_file=pki.ca, require_client_cert=True)
    gateway = gateway_factory(tls=tls)
    assert dcmtk("echoscu", gateway.port, anonymous(pki)).returncode != 0
    assert dcmtk("echoscu", gateway.port, with_certificate(pki, pki.rogue_client)).returncode != 0
    run = dcmtk("storescu", gateway.port, with_certificate(pki, pki.client), CT)
    assert run.returncode == 0, run.stderr
    assert len(indexed(session_factory)) == 1
    ours = client_context(pki.ca, *pki.client)
    assert check_link("127.0.0.1", gateway.port, "SUD_CT", "GARDE", ours).status == 0


def test_a_silent_tls_connection_does_not_block_others(gateway_factory, pki):
    """The handshake runs in the connection's thread: another client is served while a
    silent one is still waited for. The ACSE timeout (which bounds every handshake,
    the echo's too) is long, so that a loaded machine's slow echo still fits in it."""
    gateway = gateway_factory(tls=TlsSettings(*pki.server), max_associations=1, acse_timeout_s=60)
    with socket.create_connection(("127.0.0.1", gateway.port)) as silent:
        assert dcmtk("echoscu", gateway.port, anonymous(pki)).returncode == 0
        silent.settimeout(0.2)
        with pytest.raises(TimeoutError):  # still waited for: the echo did not wait for it
            silent.recv(1)
    assert dcmtk("echoscu", gateway.port, anonymous(pki)).returncode == 0


def test_a_silent_tls_connection_is_dropped_at_the_acse_timeout(gateway_factory, pki):
    gateway = gateway_factory(tls=TlsSettings(*pki.server), acse_timeout_s=1.0)
    with socket.create_connection(("127.0.0.1", gateway.port)) as silent:
        silent.settimeout(30)
        assert silent.recv(1) == b""
