"""A hospital PACS that takes reports over DICOM TLS only: dcmtk's storescp with TLS
(certificates made by openssl, the gateway TLS tests' helpers); the destination's
[tls] CA and client certificate are used."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from pydicom.uid import generate_uid

from garde.config.reporting import Destination, DestinationKind, DestinationTls
from garde.reporting import dicom_send
from garde.reporting.document import ReportContent, build_sr
from tests.helpers import free_port, make_dataset, require_executable
from tests.integration.gateway.test_gateway_tls import _ca, _leaf

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.dcmtk


def _sr(tmp_path: Path) -> tuple[Path, str]:
    content = ReportContent(
        "Pas d'anomalie.", "", False, "r1", "Dr One", 1, datetime.now(tz=UTC), "Garde"
    )
    sop = generate_uid()
    sr = build_sr([make_dataset()], content, series_uid=generate_uid(), sop_uid=sop)
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    return path, sop


def test_the_report_goes_over_tls_when_the_destination_says_so(tmp_path: Path) -> None:
    storescp = require_executable("storescp")
    pki = tmp_path / "pki"
    pki.mkdir()
    ca = _ca(pki, "hospital-ca")
    server, client = _leaf(pki, "PACS", ca), _leaf(pki, "GARDE", ca)
    port = free_port()
    received = tmp_path / "received"
    received.mkdir()
    scp = subprocess.Popen(
        [storescp, "-aet", "PACS", "-od", str(received), "+tls", str(server[1]), str(server[0]),
         "+cf", str(ca[0]), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        path, sop = _sr(tmp_path)
        tls = DestinationTls(ca[0], client[0], client[1])
        dest = Destination(
            "h1", "pacs", DestinationKind.DICOM, host="127.0.0.1", port=port,
            ae_title="PACS", tls=tls,
        )  # fmt: skip
        dicom_send.store(path, dest, calling_ae="GARDE", timeout_s=10)
        assert [p.name for p in received.iterdir()] == [
            f"SRc.{sop}"
        ]  # dcmtk names a Comprehensive SR so
    finally:
        scp.terminate()
        scp.wait(timeout=10)
