"""`garde status`: the night at a glance for the platform's operators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from garde.cli._clock import clock, region_zone, stamp, zone_note
from garde.cli._common import echo_json, echo_table
from garde.cli._identity import desk, not_allowed, who
from garde.services.identity import OPEN_MODE

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from garde.services.status import NightStatus


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    help="Start of the night, the region's local time (default: the last morning handover).",
)
@click.pass_context
def status(ctx: click.Context, as_json: bool, since: datetime | None) -> None:
    """Show queues per radiologist, studies at risk and the night's SLA figures so far.

    Example: garde --config region.toml status --json
    """
    from garde.services.status import night_status  # noqa: PLC0415 - keeps --help fast

    services = desk(ctx)
    zone = region_zone(services.runtime.settings)
    # Operators only, once the region has tokens (open mode before the first one).
    identity = who(services, "view_status", allow_open=True)
    if not identity.is_operator and identity != OPEN_MODE:
        not_allowed(
            services,
            identity,
            "view_status",
            "the night's status is for operators",
            f"{identity.subject} is not an operator: `garde status` is for operators",
        )
    report = night_status(
        services.runtime,
        services.now(),
        since.replace(tzinfo=zone).astimezone(UTC) if since else None,
        actor=identity.subject,
        origin=services.origin,
    )
    if as_json:
        echo_json(report.to_dict(), zone)
        return
    _print(report, zone)


def _print(report: NightStatus, zone: ZoneInfo) -> None:
    click.echo(
        f"since {stamp(report.since, zone)}, now {clock(report.now, zone)} "
        f"(times {zone_note(zone, report.now)})"
    )
    click.echo()
    if report.queues:
        echo_table(
            ["RADIOLOGIST", "ON SHIFT", "READING", "QUEUED", "QUEUED MIN", "SHIFT ENDS"],
            [
                (
                    q.radiologist_id,
                    "yes" if q.on_shift else "no",
                    q.in_progress,
                    q.queued,
                    q.queued_minutes,
                    clock(q.shift_ends, zone, now=report.now),
                )
                for q in report.queues
            ],
        )
    else:
        click.echo("nobody on shift and no queue")
    click.echo()
    if report.at_risk:
        echo_table(
            ["AT RISK", "PRIORITY", "SITE", "READER", "DUE", "LEFT MIN", "ESCALATION", "WHY"],
            [
                (
                    r.handle or r.study_uid,
                    r.priority,
                    r.site_id,
                    r.assignee or "-",
                    clock(r.deadline, zone, now=report.now),
                    r.minutes_left,
                    r.escalation or "-",
                    r.reason,
                )
                for r in report.at_risk
            ],
            style=lambda i, line: click.style(
                line, fg="red" if report.at_risk[i].minutes_left < 0 else "yellow"
            ),
        )
    else:
        click.echo("no study at risk")
    click.echo()
    if report.figures:
        echo_table(
            [
                "PRIORITY",
                "RECEIVED",
                "READ",
                "OPEN",
                "WITHIN SLA",
                "BREACHED",
                "WITHIN %",
                "MEAN MIN",
                "DELIVERED",
                "TO HOSP MIN",
            ],
            [
                (
                    f.priority,
                    f.received,
                    f.read,
                    f.open,
                    f.within_sla,
                    f.breached,
                    "-" if f.within_sla_pct is None else f.within_sla_pct,
                    "-" if f.mean_minutes_to_read is None else f.mean_minutes_to_read,
                    f.delivered,
                    "-" if f.mean_minutes_to_delivered is None else f.mean_minutes_to_delivered,
                )
                for f in report.figures
            ],
        )
    else:
        click.echo("no study this night yet")
    hook = report.webhook
    if hook.waiting or hook.given_up:
        click.echo()
        oldest = hook.oldest_waiting_since
        since = f" (oldest since {clock(oldest, zone, now=report.now)})" if oldest else ""
        line = f"webhook: {hook.waiting} notifications waiting{since}, {hook.given_up} given up"
        click.secho(line, fg="red" if hook.given_up else "yellow")
    reports = report.reports
    if reports.waiting:
        click.echo()
        oldest = reports.oldest_since
        since = f" (oldest since {clock(oldest, zone, now=report.now)})" if oldest else ""
        click.secho(
            f"reports: {reports.waiting} deliveries waiting{since}, {reports.failing} failing",
            fg="red" if reports.failing else "yellow",
        )
        for line in reports.undelivered:
            click.secho(f"  {line}", fg="red")
