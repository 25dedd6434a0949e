"""`garde worklist`: what a radiologist has to read, most urgent first."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from garde.cli._common import echo_json, echo_table
from garde.cli._identity import desk, refusals, who
from garde.services.worklist import FILTER_KEYS, SORT_KEYS, risk, worklist_item

if TYPE_CHECKING:
    from datetime import datetime

    from garde.store.records import WorklistRow

RISK_COLOURS = {"late": "red", "at_risk": "yellow"}


@click.command()
@click.option(
    "--radiologist",
    "-r",
    default=None,
    help="Whose worklist (default: the token's holder; others' for operators only).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable keys).")
@click.option(
    "--sort",
    default=None,
    help=f"Order by one of {', '.join(SORT_KEYS)}; prefix '-' for descending.",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help=f"Keep matching lines; KEY is one of {', '.join(FILTER_KEYS)} (repeatable).",
)
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option(
    "--interval", default=10.0, show_default=True, type=click.FloatRange(min=1.0), help="Seconds."
)
@click.option("--watch-count", default=0, hidden=True, type=int, help="Stop after N refreshes.")
@click.pass_context
def worklist(
    ctx: click.Context,
    radiologist: str | None,
    as_json: bool,
    sort: str | None,
    filters: tuple[str, ...],
    watch: bool,
    interval: float,
    watch_count: int,
) -> None:
    """Show a radiologist's studies, most urgent first; late ones in red, at risk in yellow.

    JSON keys: study_uid, site_id, site_name, state, priority, modalities, description,
    first_received_at, deadline (ISO 8601 UTC), preview, age_s, time_left_s, at_risk.

    Example: garde worklist --sort deadline --filter modality=CT --watch
    """
    from garde.services.worklist import parse_filters  # noqa: PLC0415 - keeps --help fast

    services = desk(ctx)
    identity = who(services, "view_worklist", allow_open=True)
    if radiologist is None and identity.subject == "unauthenticated":
        raise click.UsageError("name the radiologist: --radiologist ID (no token presented)")
    with refusals():
        wanted = parse_filters(filters)
    shown = 0
    before: list[str] | None = None  # what the last refresh showed: audited once
    while True:
        now = services.now()
        with refusals():
            rows = services.runtime.worklist.view(
                identity,
                radiologist,
                now=now,
                origin=services.origin,
                sort=sort,
                filters=wanted,
                shown_before=before,
            )
        before = [row.study_uid for row in rows]
        if watch and not as_json:
            click.clear()
            click.echo(f"{radiologist or identity.subject} at {now:%H:%M:%S} UTC (Ctrl-C to stop)")
        _show(rows, now, as_json=as_json, who=radiologist or identity.subject)
        shown += 1
        if not watch or (watch_count and shown >= watch_count):
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            return


def _show(rows: list[WorklistRow], now: datetime, *, as_json: bool, who: str) -> None:
    if as_json:
        echo_json([worklist_item(row, now) for row in rows])
        return
    if not rows:
        click.echo(f"nothing to read for {who}")
        return
    risks = [risk(row, now) for row in rows]

    def colour(index: int, line: str) -> str:
        fg = RISK_COLOURS.get(risks[index])
        return click.style(line, fg=fg, bold=risks[index] == "late") if fg else line

    echo_table(
        [
            "PRIORITY",
            "STATE",
            "STUDY",
            "HOSPITAL",
            "MODALITY",
            "DESCRIPTION",
            "AGE",
            "LEFT",
            "PREVIEW",
        ],
        [_as_cells(row, now) for row in rows],
        style=colour,
    )


def _minutes(delta_s: float) -> str:
    sign = "-" if delta_s < 0 else ""
    return f"{sign}{int(abs(delta_s) // 60)} min"


def _as_cells(row: WorklistRow, now: datetime) -> list[object]:
    left = _minutes((row.deadline - now).total_seconds()) if row.deadline else "-"
    return [
        row.priority or "-",
        row.state.value,
        row.study_uid,
        row.site_name,
        "/".join(sorted(row.modalities)),
        row.description[:40],
        _minutes((now - row.first_received_at).total_seconds()),
        left,
        row.preview_path or "-",
    ]
