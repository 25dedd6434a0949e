"""Notifications: a reader acknowledges them; operators list and resend them."""

from __future__ import annotations

import click

from garde.cli._common import echo_json, echo_table
from garde.cli._identity import desk, refusals, who
from garde.services.notifications import NotificationService


@click.command()
@click.argument("study")
@click.pass_context
def ack(ctx: click.Context, study: str) -> None:
    """Acknowledge the notifications of a study you read (stops their escalation).

    Example: garde ack 1.2.826.0.1.3680043.8.498.1
    """
    services = desk(ctx)
    identity = who(services, "ack")
    with refusals():
        count = NotificationService(services.runtime.uow).ack(
            study, by=identity, now=services.now(), origin=services.origin
        )
    click.echo(f"acknowledged {count} notification(s) of {study}")


@click.group()
def notify() -> None:
    """The notifications kept in the outbox (operators).

    Example: garde notify list --open
    """


@notify.command(name="list")
@click.option("--study", default=None, help="Only this StudyInstanceUID's.")
@click.option("--open", "open_only", is_flag=True, help="Only those not yet delivered.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_notifications(
    ctx: click.Context, study: str | None, open_only: bool, limit: int, as_json: bool
) -> None:
    """List notifications, newest first: state, tries, last error, acknowledgement.

    Example: garde notify list --study 1.2.826.0.1.3680043.8.498.1
    """
    services = desk(ctx)
    identity = who(services, "notify_list")
    with refusals():
        found = NotificationService(services.runtime.uow).entries(
            by=identity,
            now=services.now(),
            origin=services.origin,
            study_uid=study,
            open_only=open_only,
            limit=limit,
        )
    if as_json:
        echo_json(
            [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "study_uid": e.study_uid,
                    "priority": e.priority,
                    "created_at": e.created_at,
                    "state": e.state,
                    "attempts": e.attempts,
                    "last_error": e.last_error,
                    "acked_by": e.acked_by,
                    "escalated_at": e.escalated_at,
                }
                for e in found
            ]
        )
        return
    if not found:
        click.echo("no notifications")
        return
    echo_table(
        ["ID", "KIND", "STUDY", "PRIORITY", "CREATED", "STATE", "TRIES", "LAST ERROR"],
        [
            [
                e.id,
                e.kind,
                e.study_uid or "-",
                e.priority or "-",
                f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                e.state + (f" by {e.acked_by}" if e.acked_by else ""),
                e.attempts,
                e.last_error or "-",
            ]
            for e in found
        ],
    )


@notify.command()
@click.argument("notification_id", metavar="ID", type=int)
@click.pass_context
def resend(ctx: click.Context, notification_id: int) -> None:
    """Post a notification again (same Idempotency-Key); the running serve posts it.

    Example: garde notify resend 42
    """
    services = desk(ctx)
    identity = who(services, "notify_resend")
    with refusals():
        entry = NotificationService(services.runtime.uow).resend(
            notification_id, by=identity, now=services.now(), origin=services.origin
        )
    click.echo(f"notification {entry.id} ({entry.kind}, was {entry.state}) queued again")


NOTIFY_COMMANDS = (ack, notify)
