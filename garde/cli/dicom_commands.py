"""`garde push` and `garde echo`: a hospital tests its link to the gateway."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from garde.cli._common import echo_json, fail

if TYPE_CHECKING:
    import ssl

_HOST = click.option("--host", default="127.0.0.1", show_default=True, help="Gateway host.")
_PORT = click.option("--port", default=11112, show_default=True, type=int, help="Gateway port.")
_AET = click.option("--aet", default="GARDE_SCU", show_default=True, help="Our (calling) AE title.")
_CALLED = click.option(
    "--called", default="GARDE", show_default=True, help="The gateway's AE title."
)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_TLS = click.option("--tls", is_flag=True, help="DICOM TLS (implied by the --tls-* options).")
_TLS_CA = click.option(
    "--tls-ca", type=_FILE, help="CA file the gateway's certificate is checked against."
)
_TLS_CERT = click.option(
    "--tls-cert", type=_FILE, help="Our certificate, if the gateway asks for one."
)
_TLS_KEY = click.option("--tls-key", type=_FILE, help="The key of --tls-cert.")


def _tls_context(
    tls: bool, ca: Path | None, cert: Path | None, key: Path | None
) -> ssl.SSLContext | None:
    """The client TLS context the options ask for, or None for plain TCP."""
    if not (tls or ca or cert or key):
        return None
    if key is not None and cert is None:
        raise click.UsageError("--tls-key needs --tls-cert")
    from garde.dicom_gateway.tls import client_context  # noqa: PLC0415

    try:
        return client_context(ca, cert, key)
    except (OSError, ValueError) as exc:
        fail(f"TLS: cannot load the certificates: {exc}")


def _state_file(host: str, port: int, called: str) -> Path:
    """Where acknowledgements to this gateway are recorded by default."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"push-{host}-{port}-{called}") + ".jsonl"
    return base / "garde" / name


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_HOST
@_PORT
@_AET
@_CALLED
@click.option(
    "--resume", is_flag=True, help="Skip the files this gateway acknowledged on an earlier run."
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where acknowledged files are recorded "
    "[default: ~/.local/state/garde/push-HOST-PORT-AE.jsonl].",
)
@_TLS
@_TLS_CA
@_TLS_CERT
@_TLS_KEY
@click.option("--json", "as_json", is_flag=True, help="Per-file status as JSON.")
def push(
    paths: tuple[Path, ...],
    host: str,
    port: int,
    aet: str,
    called: str,
    resume: bool,
    state_file: Path | None,
    tls: bool,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    as_json: bool,
) -> None:
    """Send DICOM files and folders (recursively) with C-STORE.

    Every acknowledged file is recorded as soon as its success arrives; after an
    interrupted or partly failed push, run it again with --resume to send only the
    rest. Prints a per-file summary; exits 1 if any file failed.

    Example: garde push --host 127.0.0.1 --port 11112 --aet VIENNE_CT --resume ./exam/
    """
    from garde.dicom_gateway import scu  # noqa: PLC0415 - pynetdicom only when pushing

    context = _tls_context(tls, tls_ca, tls_cert, tls_key)
    files = scu.collect_files(paths)
    if not files:
        fail("no files found under " + ", ".join(str(p) for p in paths))
    with click.progressbar(
        length=len(files),
        label=f"pushing to {called}@{host}:{port}",
        file=sys.stderr,
    ) as bar:
        report = scu.push(
            files,
            host=host,
            port=port,
            calling_ae=aet,
            called_ae=called,
            tls=context,
            resume_file=state_file or _state_file(host, port, called),
            resume=resume,
            progress=lambda _path, _status: bar.update(1),
        )
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@click.command()
@_HOST
@_PORT
@_AET
@_CALLED
@_TLS
@_TLS_CA
@_TLS_CERT
@_TLS_KEY
def echo(
    host: str,
    port: int,
    aet: str,
    called: str,
    tls: bool,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Check the link with a C-ECHO (DICOM verification).

    Example: garde echo --host 127.0.0.1 --port 11112 --aet VIENNE_CT
    """
    from garde.dicom_gateway import scu  # noqa: PLC0415 - pynetdicom only when asked

    context = _tls_context(tls, tls_ca, tls_cert, tls_key)
    result = scu.check_link(host, port, calling_ae=aet, called_ae=called, tls=context)
    if result.status == scu.NO_ASSOCIATION:
        fail(f"C-ECHO to {called}@{host}:{port} failed: {result.detail}")
    if result.status != 0:
        fail(f"C-ECHO to {called}@{host}:{port} failed (status 0x{result.status:04X})")
    click.echo(f"C-ECHO to {called}@{host}:{port}: success")
