"""C-STORE of a report object to a hospital's PACS (pynetdicom SCU), over TLS when the
destination configures it."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from pydicom import dcmread
from pynetdicom import AE

from garde.dicom_gateway.tls import client_context
from garde.reporting.errors import DeliveryError, RejectedError

if TYPE_CHECKING:
    from pathlib import Path

    from garde.config.reporting import Destination

_SUCCESS_OR_WARNING = {0x0000, 0xB000, 0xB006, 0xB007}


def store(path: Path, destination: Destination, *, calling_ae: str, timeout_s: float) -> None:
    """Send the file at ``path`` to ``destination``; returns once it answered success.

    Raises
    ------
    DeliveryError
        No association (peer down, rejected), or no answer in time: retried.
    RejectedError
        The PACS answered with a failure status.
    """
    _reachable(destination, timeout_s)
    ds = dcmread(path)
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = timeout_s
    ae.network_timeout = timeout_s
    ae.dimse_timeout = timeout_s
    ae.connection_timeout = timeout_s
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    tls_args = None
    if destination.tls is not None:
        context = client_context(
            destination.tls.ca_file, destination.tls.cert_file, destination.tls.key_file
        )
        tls_args = (context, destination.host)
    assoc = ae.associate(
        destination.host, destination.port, ae_title=destination.ae_title, tls_args=tls_args
    )
    if not assoc.is_established:
        why = "rejected" if assoc.is_rejected else "no association"
        raise DeliveryError(
            f"DICOM {destination.ae_title}@{destination.host}:{destination.port}: {why}"
        )
    try:
        status = assoc.send_c_store(ds)
    finally:
        assoc.release()
    if not status or "Status" not in status:
        raise DeliveryError(f"DICOM {destination.ae_title}: no answer to C-STORE")
    code = int(status.Status)
    if code not in _SUCCESS_OR_WARNING:
        raise RejectedError(f"DICOM {destination.ae_title}: C-STORE status 0x{code:04X}")


def _reachable(destination: Destination, timeout_s: float) -> None:
    """Fail fast, and cleanly, when nothing listens: pynetdicom 3 leaves the socket of
    a refused connection unclosed (a ResourceWarning per retry of a PACS that is down)."""
    try:
        with socket.create_connection((destination.host, destination.port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DeliveryError(
            f"DICOM {destination.ae_title}@{destination.host}:{destination.port}: "
            f"{exc.strerror or type(exc).__name__}"
        ) from exc
