"""`garde user`: personal tokens for radiologists and operators."""

from __future__ import annotations

import os
from pathlib import Path

import click

from garde.cli._common import echo_json, fail
from garde.cli._identity import desk, refusals
from garde.services.identity import Role, read_token, write_token_file


@click.group()
def user() -> None:
    """Users of the CLI: personal tokens.

    Example: garde user token r01 --output ~/r01.token
    """


@user.command()
@click.argument("subject")
@click.option(
    "--operator", "as_operator", is_flag=True, help="An operator's token (SUBJECT is a name)."
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the token to this new file (mode 0600) instead of printing it.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def token(
    ctx: click.Context, subject: str, as_operator: bool, output: Path | None, as_json: bool
) -> None:
    """Issue a personal token (operators; the first operator token needs none).

    The token is shown once and stored hashed; a new token revokes the holder's old one.
    The holder sets GARDE_TOKEN or keeps it in ~/.config/garde/token (mode 0600).

    Example: garde user token r01 --output /tmp/r01.token
    """
    services = desk(ctx)
    with refusals():
        presented = read_token(os.environ)
        by = services.identity.authenticate(presented) if presented else None
        issued = services.identity.issue(
            subject,
            Role.OPERATOR if as_operator else Role.RADIOLOGIST,
            by=by,
            now=services.now(),
            origin=services.origin,
        )
    if output is not None:
        try:
            write_token_file(output, issued.token)
        except FileExistsError:
            fail(f"{output}: already exists; the token was issued but not written (issue again)")
        except OSError as exc:
            fail(f"{output}: {exc.strerror}; the token was issued but not written (issue again)")
    if as_json:
        payload = {"subject": issued.subject, "role": issued.role.value, "revoked": issued.revoked}
        if output is None:
            payload["token"] = issued.token
        echo_json(payload)
        return
    if output is None:
        click.echo(issued.token)
    else:
        click.echo(f"token for {subject} written to {output} (mode 0600)")
    if issued.revoked:
        click.echo(f"{issued.revoked} older token(s) of {subject} revoked", err=True)
