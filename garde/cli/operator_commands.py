"""Operator commands: manual assignment, studies by state, the audit trail."""

from __future__ import annotations

import click

from garde.cli._clock import clock, region_zone, stamp, zone_note
from garde.cli._common import echo_json, echo_table, fail
from garde.cli._identity import desk, refusals, study_uid, who
from garde.cli.json_forms import audit_item, study_summary
from garde.dispatch.model import StudyState


@click.command()
@click.argument("study")
@click.argument("radiologist")
@click.option("--reason", required=True, help="Why (kept in the explanation and the audit).")
@click.option(
    "--force",
    is_flag=True,
    help="Override the credential, skill and shift rules (audited; needs --reason).",
)
@click.pass_context
def assign(ctx: click.Context, study: str, radiologist: str, reason: str, force: bool) -> None:
    """Give a study to a radiologist by hand, pinned (operators; audited and explained).

    Handover, re-plan, escalation and broadening leave it with them until it is
    released or unpinned (`garde unpin`).

    Example: garde assign h03-12 r03 --reason "r01 unreachable"
    """
    if force and not reason.strip():
        raise click.UsageError("--force needs a --reason saying why the rules are overridden")
    services = desk(ctx)
    identity = who(services, "assign")
    with refusals():
        services.operator.assign(
            study_uid(services, study),
            radiologist,
            by=identity,
            reason=reason,
            now=services.now(),
            origin=services.origin,
            force=force,
        )
    click.echo(f"assigned {study} to {radiologist} (pinned{', forced' if force else ''})")


@click.command()
@click.option(
    "--state",
    "state_",
    required=True,
    type=click.Choice([s.value for s in StudyState]),
    help="Which studies.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def studies(ctx: click.Context, state_: str, as_json: bool) -> None:
    """List the studies in a state, oldest first (operators).

    Example: garde studies --state pending
    """
    services = desk(ctx)
    identity = who(services, "view_studies")
    with refusals():
        found = services.operator.studies(
            state_, by=identity, now=services.now(), origin=services.origin
        )
    zone = region_zone(services.runtime.settings)
    if as_json:
        echo_json([study_summary(r) for r in found], zone)
        return
    if not found:
        click.echo(f"no {state_} studies")
        return
    now = services.now()
    click.echo(f"{len(found)} {state_} studies (times {zone_note(zone, now)})")
    echo_table(
        ["STUDY", "HOSPITAL", "PRIORITY", "ASSIGNEE", "RECEIVED", "DUE"],
        [
            [
                r.name,
                r.site_id,
                r.priority or "-",
                r.assignee or "-",
                clock(r.first_received_at, zone, now=now),
                clock(r.deadline, zone, now=now),
            ]
            for r in found
        ],
    )


@click.command()
@click.option("--study", default=None, help="A study: its handle (h03-12) or StudyInstanceUID.")
@click.option("--radiologist", default=None, help="A radiologist id.")
@click.option("--actor", default=None, help="Who acted: an operator, a radiologist, router, sla.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def audit(
    ctx: click.Context, study: str | None, radiologist: str | None, actor: str | None, as_json: bool
) -> None:
    """Print the audit trail of a study, a radiologist or an actor, oldest first
    (refused attempts included).

    Example: garde audit --study h03-12
    """
    if sum(x is not None for x in (study, radiologist, actor)) != 1:
        fail("name exactly one of --study UID, --radiologist ID or --actor NAME")
    services = desk(ctx)
    identity = who(services, "view_audit")
    with refusals():
        events = services.operator.audit_trail(
            by=identity,
            now=services.now(),
            origin=services.origin,
            study_uid=None if study is None else study_uid(services, study),
            radiologist_id=radiologist,
            actor=actor,
        )
    zone = region_zone(services.runtime.settings)
    if as_json:
        echo_json([audit_item(e) for e in events], zone)
        return
    click.echo(f"times {zone_note(zone, services.now())}")
    echo_table(
        ["AT", "ACTOR", "ACTION", "STUDY", "RADIOLOGIST", "FROM", "DETAIL"],
        [
            [
                f"{stamp(e.at, zone)}:{e.at:%S}",
                e.actor,
                e.action,
                e.study_uid or "-",
                e.radiologist_id or "-",
                e.origin or "-",
                ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items())),
            ]
            for e in events
        ],
    )


@click.command()
@click.argument("study")
@click.pass_context
def unpin(ctx: click.Context, study: str) -> None:
    """End an operator's pin: the router's moves may take the study again (operators).

    Example: garde unpin 1.2.826.0.1.3680043.8.498.1
    """
    services = desk(ctx)
    identity = who(services, "unpin")
    with refusals():
        pinned = services.operator.unpin(
            study, by=identity, now=services.now(), origin=services.origin
        )
    click.echo(f"unpinned {study} (pinned by {pinned})")


OPERATOR_COMMANDS = (assign, studies, audit, unpin)
