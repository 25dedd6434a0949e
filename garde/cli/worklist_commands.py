"""`garde worklist`: what a radiologist has to read, most urgent first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from garde.cli._clock import clock, region_zone, zone_note
from garde.cli._common import echo_json, echo_table
from garde.cli._identity import lookout, refusals, who
from garde.services.worklist import FILTER_KEYS, SORT_KEYS, risk, worklist_item

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from garde.store.records import ReportOnItsWay, WorklistRow

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

    JSON keys: study_uid, handle, site_id, site_name, state, priority, modalities,
    description, first_received_at, deadline (ISO 8601, the region's offset), preview,
    age_s, time_left_s, at_risk, linked (the patient's studies from other hospitals, by INS),
    patient (age, sex, accession, requesting_physician, indication), priors (earlier
    studies from the hospital's PACS; -1 while fetched, null without a lookup).

    Example: garde worklist --sort deadline --filter modality=CT --watch
    """
    from garde.services.worklist import parse_filters  # noqa: PLC0415 - keeps --help fast

    services = lookout(ctx)  # the lean read path: answers in a blink
    zone = region_zone(services.settings)
    identity = who(services, "view_worklist", allow_open=True)
    if radiologist is None and identity.subject == "unauthenticated":
        raise click.UsageError("name the radiologist: --radiologist ID (no token presented)")
    with refusals():
        wanted = parse_filters(filters)
    shown = 0
    before: list[str] | None = None  # what the last refresh showed: audited once
    while True:
        now = services.now()
        on_their_way: list[ReportOnItsWay] = []
        with refusals():
            rows = services.worklist.view(
                identity,
                radiologist,
                now=now,
                origin=services.origin,
                sort=sort,
                filters=wanted,
                shown_before=before,
                reports=None if as_json else on_their_way,
            )
        before = [row.study_uid for row in rows]
        whose = radiologist or identity.subject
        if watch and not as_json:
            click.clear()
            click.echo(f"{whose} at {now.astimezone(zone):%H:%M:%S} (Ctrl-C to stop)")
        if rows and not as_json:
            click.echo(f"{whose}: {len(rows)} to read (times {zone_note(zone, now)})")
        _show(rows, now, zone, as_json=as_json, who=whose)
        _show_reports(on_their_way)
        shown += 1
        if not watch or (watch_count and shown >= watch_count):
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            return


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the worklist table: its header, its widest cell, how a row fills it."""

    header: str
    width: int  # longer cells are cut with "…" so that the table fits 120 columns
    cell: Callable[[WorklistRow, datetime, ZoneInfo], str]


_STATE_WORDS = {"in_progress": "reading", "assigned": "queued"}

COLUMNS: tuple[Column, ...] = (
    Column("STUDY", 12, lambda row, _now, _zone: row.name),
    Column("PRIORITY", 9, lambda row, _now, _zone: row.priority or "-"),
    Column("STATE", 7, lambda row, _now, _zone: _STATE_WORDS.get(row.state.value, row.state)),
    Column("HOSPITAL", 12, lambda row, _now, _zone: row.site_name),
    Column("MODALITY", 8, lambda row, _now, _zone: "/".join(sorted(row.modalities))),
    Column("DESCRIPTION", 11, lambda row, _now, _zone: row.description or "-"),
    Column("AGE", 5, lambda row, _now, _zone: row.patient.age_sex),
    Column("INDICATION", 10, lambda row, _now, _zone: row.patient.indication or "-"),
    Column("DUE", 5, lambda row, now, zone: clock(row.deadline, zone, now=now)),
    Column("LEFT", 7, lambda row, now, _zone: _left(row, now)),
    Column("LINKED", 9, lambda row, _now, _zone: _linked(row)),
    Column("PRI", 3, lambda row, _now, _zone: _priors(row)),
)
# The preview is in --json and on the study page (`garde open`): the table keeps its
# 120 characters for the patient context instead.
"""The worklist table, left to right: add a column here (it fits 120 characters)."""


def _show(
    rows: list[WorklistRow], now: datetime, zone: ZoneInfo, *, as_json: bool, who: str
) -> None:
    if as_json:
        echo_json([worklist_item(row, now, zone) for row in rows])
        return
    if not rows:
        click.echo(f"nothing to read for {who}")
        return
    risks = [risk(row, now) for row in rows]

    def colour(index: int, line: str) -> str:
        fg = RISK_COLOURS.get(risks[index])
        return click.style(line, fg=fg, bold=risks[index] == "late") if fg else line

    echo_table(
        [c.header for c in COLUMNS],
        [[_fit(c.cell(row, now, zone), c.width) for c in COLUMNS] for row in rows],
        style=colour,
    )


def _show_reports(reports: list[ReportOnItsWay]) -> None:
    """Below the table: the reader's reports not yet at the hospital, failing ones in red."""
    if not reports:
        return
    words = {
        "draft": "draft, not signed",
        "sending": "on its way to the hospital",
        "kept": "kept: the hospital has no destination (operator told)",
    }
    click.echo("\nreports not yet at the hospital:")
    for report in reports:
        if report.state == "failing":
            line = click.style(f"  {report.name}  failing: {report.error}", fg="red")
        else:
            line = f"  {report.name}  {words.get(report.state, report.state)}"
        click.echo(line)


def _linked(row: WorklistRow) -> str:
    if not row.linked:
        return "-"
    more = len(row.linked) - 1
    return row.linked[0] + (f"+{more}" if more else "")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _minutes(delta_s: float) -> str:
    sign = "-" if delta_s < 0 else ""
    return f"{sign}{int(abs(delta_s) // 60)} min"


def _left(row: WorklistRow, now: datetime) -> str:
    return _minutes((row.deadline - now).total_seconds()) if row.deadline else "-"


def _priors(row: WorklistRow) -> str:
    """Priors from the hospital's PACS: how many, "…" while fetched, "-" without a lookup."""
    if row.priors is None:
        return "-"
    return "…" if row.priors < 0 else str(row.priors)
