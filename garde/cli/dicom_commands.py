"""`garde push` and `garde echo`: a hospital tests its link to the gateway."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from garde.cli._common import echo_json, fail, state

if TYPE_CHECKING:
    import ssl

_HOST = click.option(
    "--host", default=None, help="Gateway host [default: the config's gateway, else 127.0.0.1]."
)
_PORT = click.option(
    "--port", default=None, type=int, help="Gateway port [default: the config's, else 11112]."
)
_AET = click.option("--aet", default="GARDE_SCU", show_default=True, help="Our (calling) AE title.")
_CALLED = click.option(
    "--called", default=None, help="The gateway's AE title [default: the config's, else GARDE]."
)
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - bind-all, not a host to call


def _gateway(
    ctx: click.Context, host: str | None, port: int | None, called: str | None
) -> tuple[str, int, str]:
    """Host, port and called AE: the options, else the config's gateway (given one), else
    the built-in defaults; a bind-all address in the config means this machine."""
    if state(ctx).config_path is not None:
        gateway = state(ctx).settings().gateway
        default_host = "127.0.0.1" if gateway.host in _WILDCARD_HOSTS else gateway.host
        defaults = (default_host, gateway.port, gateway.ae_title)
    else:
        defaults = ("127.0.0.1", 11112, "GARDE")
    return (host or defaults[0], port or defaults[1], called or defaults[2])


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


def _state_file(host: str, called: str) -> Path:
    """Where acknowledgements to this gateway are recorded by default.

    Not keyed by port: a standby of the same gateway on another port has the same
    store, so what one acknowledged the other need not receive again (the entries
    are keyed by file content, `garde.dicom_gateway.resume`).
    """
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"push-{host}-{called}") + ".jsonl"
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
    "[default: ~/.local/state/garde/push-HOST-AE.jsonl].",
)
@_TLS
@_TLS_CA
@_TLS_CERT
@_TLS_KEY
@click.option("--json", "as_json", is_flag=True, help="Per-file status as JSON.")
@click.pass_context
def push(
    ctx: click.Context,
    paths: tuple[Path, ...],
    host: str | None,
    port: int | None,
    aet: str,
    called: str | None,
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

    Host, port and the gateway's AE title default to the config's gateway when one is
    given (--config or GARDE_CONFIG).

    Example: garde push --host 127.0.0.1 --port 11112 --aet VIENNE_CT --resume ./exam/
    """
    from garde.dicom_gateway import scu  # noqa: PLC0415 - pynetdicom only when pushing

    host, port, called = _gateway(ctx, host, port, called)
    context = _tls_context(tls, tls_ca, tls_cert, tls_key)
    _quiet_pynetdicom()
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
            resume_file=state_file or _state_file(host, called),
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
@click.pass_context
def echo(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    aet: str,
    called: str | None,
    tls: bool,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Check the link with a C-ECHO (DICOM verification).

    Host, port and the gateway's AE title default to the config's gateway when one is
    given (--config or GARDE_CONFIG).

    Example: garde echo --host 127.0.0.1 --port 11112 --aet VIENNE_CT
    """
    from garde.dicom_gateway import scu  # noqa: PLC0415 - pynetdicom only when asked

    host, port, called = _gateway(ctx, host, port, called)
    context = _tls_context(tls, tls_ca, tls_cert, tls_key)
    _quiet_pynetdicom()
    result = scu.check_link(host, port, calling_ae=aet, called_ae=called, tls=context)
    if result.status == scu.NO_ASSOCIATION:
        fail(f"C-ECHO failed: {result.detail}")
    if result.status != 0:
        fail(f"C-ECHO to {called}@{host}:{port} failed (status 0x{result.status:04X})")
    click.echo(f"C-ECHO to {called}@{host}:{port}: success")


def _quiet_pynetdicom() -> None:
    """pynetdicom logs a refused connection or a lost association as ERROR lines of its
    own; the command says what happened once, in its words. -vv shows them again."""
    library = logging.getLogger("pynetdicom")
    if library.getEffectiveLevel() > logging.INFO:
        library.setLevel(logging.CRITICAL)
