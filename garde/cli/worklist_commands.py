"""`garde worklist`: what a radiologist has to read."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from garde.cli._common import echo_json, echo_table, fail, state
from garde.services.worklist import UnknownRadiologistError

if TYPE_CHECKING:
    from garde.store.records import WorklistRow


@click.command()
@click.option("--radiologist", "-r", required=True, help="Radiologist id (as in the config).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def worklist(ctx: click.Context, radiologist: str, as_json: bool) -> None:
    """Show a radiologist's studies, most urgent first.

    Example: garde worklist --radiologist r01 --json
    """
    runtime = state(ctx).runtime()
    now = datetime.now(tz=UTC)
    try:
        rows = runtime.worklist.worklist(radiologist, now=now, origin=socket.gethostname())
    except UnknownRadiologistError:
        fail(f"unknown radiologist {radiologist!r}")
    if as_json:
        echo_json([_as_dict(row) for row in rows])
        return
    if not rows:
        click.echo(f"nothing to read for {radiologist}")
        return
    echo_table(
        ["PRIORITY", "STUDY", "SITE", "MODALITY", "DESCRIPTION", "AGE", "LEFT", "PREVIEW"],
        [_as_cells(row, now) for row in rows],
    )


def _as_dict(row: WorklistRow) -> dict[str, object]:
    return {
        "study_uid": row.study_uid,
        "site_id": row.site_id,
        "site_name": row.site_name,
        "state": str(row.state),
        "priority": str(row.priority) if row.priority else None,
        "modalities": sorted(row.modalities),
        "description": row.description,
        "first_received_at": row.first_received_at,
        "deadline": row.deadline,
        "preview": row.preview_path,
    }


def _minutes(delta_s: float) -> str:
    sign = "-" if delta_s < 0 else ""
    return f"{sign}{int(abs(delta_s) // 60)} min"


def _as_cells(row: WorklistRow, now: datetime) -> list[object]:
    left = _minutes((row.deadline - now).total_seconds()) if row.deadline else "-"
    return [
        row.priority or "-",
        row.study_uid,
        row.site_name,
        "/".join(sorted(row.modalities)),
        row.description[:40],
        _minutes((now - row.first_received_at).total_seconds()),
        left,
        row.preview_path or "-",
    ]
