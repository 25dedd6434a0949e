"""`garde push` and `garde echo`: a hospital tests its link to the gateway."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from garde.cli._common import echo_json, fail

_HOST = click.option("--host", default="127.0.0.1", show_default=True, help="Gateway host.")
_PORT = click.option("--port", default=11112, show_default=True, type=int, help="Gateway port.")
_AET = click.option("--aet", default="GARDE_SCU", show_default=True, help="Our (calling) AE title.")
_CALLED = click.option(
    "--called", default="GARDE", show_default=True, help="The gateway's AE title."
)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_HOST
@_PORT
@_AET
@_CALLED
@click.option(
    "--resume", type=click.Path(path_type=Path), help="State file: skip what was acknowledged."
)
@click.option("--json", "as_json", is_flag=True, help="Per-file status as JSON.")
def push(
    paths: tuple[Path, ...],
    host: str,
    port: int,
    aet: str,
    called: str,
    resume: Path | None,
    as_json: bool,
) -> None:
    """Send DICOM files and folders (recursively) with C-STORE.

    Example: garde push --host 127.0.0.1 --port 11112 --aet VIENNE_CT ./exam/
    """
    from garde.dicom_gateway import scu  # noqa: PLC0415 - pynetdicom only when pushing

    files = scu.collect_files(paths)
    if not files:
        fail("no files found under " + ", ".join(str(p) for p in paths))
    with click.progressbar(length=len(files), label="pushing", file=sys.stderr) as bar:
        report = scu.push(
            files,
            host=host,
            port=port,
            calling_ae=aet,
            called_ae=called,
            resume_file=resume,
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
def echo(host: str, port: int, aet: str, called: str) -> None:
    """Check the link with a C-ECHO (DICOM verification).

    Example: garde echo --host 127.0.0.1 --port 11112 --aet VIENNE_CT
    """
    from garde.dicom_gateway import scu  # noqa: PLC0415 - pynetdicom only when asked

    status = scu.echo(host, port, calling_ae=aet, called_ae=called)
    if status != 0:
        fail(f"C-ECHO to {called}@{host}:{port} failed (status 0x{status:04X})")
    click.echo(f"C-ECHO to {called}@{host}:{port}: success")
