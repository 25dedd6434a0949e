"""`garde directory`: the national directory of health professionals (RPPS)."""

from __future__ import annotations

from pathlib import Path

import click

from garde.cli._common import echo_json, echo_table, fail, state
from garde.directory.errors import DirectoryError
from garde.services.professionals import (
    import_directory,
    list_directory,
    retire_professional,
)


@click.group()
def directory() -> None:
    """The national directory (RPPS): import its extract, list it, retire someone.

    Example: garde directory import PS_LibreAcces_Personne_activite.txt
    """


@directory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def directory_import(ctx: click.Context, file: Path) -> None:
    """Create or update professionals from a PS_LibreAcces extract (never deletes).

    Rows of the [directory] professions and specialties are read (radiology and nuclear
    medicine physicians by default). A professional no longer in the extract is flagged
    missing; an operator retires them. A malformed row refuses the whole file.

    Example: garde directory import examples/PS_LibreAcces_Personne_activite_sample.txt
    """
    runtime = state(ctx).runtime()
    try:
        result = import_directory(runtime, file)
    except DirectoryError as exc:
        fail(str(exc))
    counts = result.counts
    click.echo(
        f"{file.name}: {result.extract.rows} rows, {len(result.extract.professionals)} "
        f"professionals imported: {len(counts.created)} new, {len(counts.updated)} updated, "
        f"{counts.unchanged} unchanged, {len(counts.missing)} newly missing"
    )
    for rpps in counts.missing:
        click.echo(
            f"  missing from the extract (flagged; retire with `garde directory retire`): {rpps}"
        )
    if result.linked:
        click.echo(f"radiologists named from the directory: {', '.join(result.linked)}")
    for rpps in result.unlinked:
        click.echo(f"  configured RPPS number not in the extract: {rpps}")


@directory.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def directory_list(ctx: click.Context, as_json: bool) -> None:
    """List the imported professionals, flagging the missing and the retired.

    Example: garde directory list
    """
    runtime = state(ctx).runtime()
    rows = list_directory(runtime)
    if as_json:
        echo_json(
            [
                {
                    "rpps": p.rpps,
                    "name": p.display_name,
                    "specialties": list(p.specialties),
                    "missing_since": p.missing_since,
                    "retired_at": p.retired_at,
                }
                for p in rows
            ]
        )
        return
    echo_table(
        ["RPPS", "NAME", "SPECIALTIES", "STATUS"],
        [
            [
                p.rpps,
                p.display_name,
                ",".join(p.specialties),
                "retired" if p.retired_at else "missing" if p.missing_since else "",
            ]
            for p in rows
        ],
    )


@directory.command("retire")
@click.argument("rpps")
@click.pass_context
def directory_retire(ctx: click.Context, rpps: str) -> None:
    """Retire a professional (one an import flagged as missing); audited.

    Example: garde directory retire 10999000101
    """
    runtime = state(ctx).runtime()
    if not retire_professional(runtime, rpps):
        fail(f"unknown RPPS number {rpps!r} (see `garde directory list`)")
    click.echo(f"{rpps} retired")
