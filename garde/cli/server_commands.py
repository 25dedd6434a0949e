"""`garde serve` and `garde db ...`."""

from __future__ import annotations

import click

from garde.cli._common import fail, state
from garde.store.errors import SchemaOutdatedError
from garde.store.migrate import upgrade


@click.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the gateway, dispatcher and scheduler until SIGTERM.

    Example: garde --config region.toml serve
    """
    from garde.runtime.server import AlreadyRunningError  # noqa: PLC0415
    from garde.runtime.server import serve as run  # noqa: PLC0415 - pynetdicom on demand

    try:
        runtime = state(ctx).runtime()
    except SchemaOutdatedError as exc:
        fail(str(exc))
    try:
        run(runtime)
    except AlreadyRunningError as exc:
        fail(str(exc))


@click.group()
def db() -> None:
    """Database schema management.

    Example: garde db upgrade
    """


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database schema to the code's version.

    Example: garde --config region.toml db upgrade
    """
    settings = state(ctx).settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    revision = upgrade(settings.effective_database_url)
    click.echo(f"database at revision {revision}")


@click.command("reload")
@click.pass_context
def reload_command(ctx: click.Context) -> None:
    """Make every running `garde serve` on this store re-read its config and roster.

    The store's config generation is bumped (each node sees it within
    [scheduler] store_watch_s) and the server on this data directory gets SIGHUP at once.

    Example: garde --config region.toml reload
    """
    from garde.runtime.server import request_reload  # noqa: PLC0415

    cli = state(ctx)
    try:
        runtime = cli.runtime()
    except SchemaOutdatedError as exc:
        fail(str(exc))
    pid = request_reload(runtime)
    within = runtime.settings.scheduler.store_watch_s
    every = f"every garde serve on this store reloads within {within:g} s"
    here = f"; garde serve here (pid {pid}) at once" if pid is not None else ""
    click.echo(f"reload requested: {every}{here}")
