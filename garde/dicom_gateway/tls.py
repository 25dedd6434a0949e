"""DICOM TLS contexts (PS3.15 B.1) from Python's ssl: the gateway's and an SCU's."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from garde.config.model import TlsSettings


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """The gateway's TLS context: our certificate; client certificates verified against
    ``ca_file`` (required when ``require_client_cert``, else checked if presented)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cert_file, settings.key_file)
    if settings.ca_file is not None:
        context.load_verify_locations(settings.ca_file)
        context.verify_mode = (
            ssl.CERT_REQUIRED if settings.require_client_cert else ssl.CERT_OPTIONAL
        )
    elif settings.require_client_cert:
        raise ValueError("gateway TLS: require_client_cert needs a ca_file to verify against")
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    *,
    check_hostname: bool = False,
) -> ssl.SSLContext:
    """An SCU's TLS context: verify the gateway against ``ca_file`` (the system store if
    None) and present ``cert_file`` when the gateway asks for a client certificate.

    DICOM peers are usually addressed by IP with certificates naming the AE, so the
    host name is not checked unless asked.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context
