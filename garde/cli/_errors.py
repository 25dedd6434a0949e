"""The one line the CLI prints for an error no command translated: the problem, the fix.

Services raise their own errors; the commands translate the ones they expect
(`refusals`, `fail`). Whatever escapes them reaches the root group
(`garde.cli._group.GardeGroup`), which prints `one_line`: known kinds (no database
yet, an unreachable database, a file that cannot be read) with their fix; anything
else named, with ``-vv`` for the traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from garde.cli._common import CliState

logger = logging.getLogger(__name__)

DEMO_DATA_DIR = Path("data/demo")
"""Where `garde demo` (and `make demo`) leave the demo night by default."""


def one_line(exc: BaseException, cli: CliState | None) -> str:
    """The problem and its fix, on one line."""
    from garde.store.errors import SchemaOutdatedError  # noqa: PLC0415 - cheap, errors only

    if isinstance(exc, SchemaOutdatedError):
        where = _database(cli)
        if exc.current is None:
            return f"no Garde database at {where}: run `garde db upgrade`" + _demo_hint(cli)
        return (
            f"the database at {where} is at schema {exc.current}, this Garde needs "
            f"{exc.head}: run `garde db upgrade`"
        )
    if type(exc).__name__ == "OperationalError" and type(exc).__module__.startswith(_DRIVERS):
        cause = _first_line(str(getattr(exc, "orig", exc)))
        return (
            f"cannot use the database at {_database(cli)}: {cause}; check `database_url` "
            "in the config (or GARDE_DATABASE_URL) and that the server runs"
        )
    if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or _first_line(str(exc))}" + (
            f": {exc.filename}" if exc.filename else ""
        )
    return (
        f"unexpected error ({type(exc).__name__}: {_first_line(str(exc))}); "
        "run again with -vv for the details"
    )


_DRIVERS = ("sqlalchemy", "psycopg", "sqlite3")
"""Where a database that cannot be reached or used raises from: the ORM or the drivers
(`garde worklist` talks to the driver itself, `garde.store.lean`)."""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"


def _database(cli: CliState | None) -> str:
    """The database a person would recognise: a file path, or the URL without password."""
    if cli is None:
        return "the configured database"
    try:
        url = cli.settings().effective_database_url
    except click.ClickException:
        return "the configured database"
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}{at}{host}" if at else url


def _demo_hint(cli: CliState | None) -> str:
    """Point at the demo's data when it exists and is not what was used."""
    if cli is None or cli.config_path is not None or cli.data_dir is not None:
        return ""
    if not (DEMO_DATA_DIR / "garde.sqlite").exists():
        return ""
    try:
        if cli.settings().data_dir.resolve() == DEMO_DATA_DIR.resolve():
            return ""
    except click.ClickException:
        return ""
    return f" (or the demo's night is in {DEMO_DATA_DIR}: use --data-dir {DEMO_DATA_DIR})"
