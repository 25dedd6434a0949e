"""Schema migrations (Alembic), configured in code so they run from an installed wheel.

The scripts live in ``garde/store/migrations`` inside the package; no ``alembic.ini``
is needed. `upgrade` is what ``garde db upgrade`` calls; `check_up_to_date` is what
``garde serve`` and every CLI command call before anything else touches the database.
Alembic is imported only to migrate: the check reads the revision table and the
scripts' revision lines itself (`garde.store.lean.code_head`), since importing Alembic
costs a CLI command a tenth of a second.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from garde.store.engine import make_engine
from garde.store.errors import SchemaOutdatedError
from garde.store.lean import code_head

if TYPE_CHECKING:
    from collections.abc import Iterator

    from alembic.config import Config
    from sqlalchemy.engine import URL

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migration scripts."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic only to migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The revision the code needs (the newest migration)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - Alembic only to migrate

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships the initial migration
        raise RuntimeError("no migration scripts found in the package")
    return head


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with _engine(target) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: str | URL | Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); returns where it is.

    Idempotent: upgrading an up-to-date database does nothing. Runs in one
    transaction on both dialects (SQLite and PostgreSQL both have transactional DDL),
    so a failed migration leaves the schema as it was.
    """
    from alembic import command  # noqa: PLC0415 - Alembic only to migrate

    config = alembic_config()
    with _engine(target) as engine:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        now = current_revision(engine)
    logger.info("database schema at %s", now)
    return now


def downgrade(target: str | URL | Engine, revision: str) -> str | None:
    """Migrate the database back to ``revision`` (``"base"``: empty); returns where it is."""
    from alembic import command  # noqa: PLC0415 - Alembic only to migrate

    config = alembic_config()
    with _engine(target) as engine:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
        return current_revision(engine)


def check_up_to_date(target: str | URL | Engine) -> None:
    """Refuse to run on a schema other than the code's.

    Raises
    ------
    SchemaOutdatedError
        With a one-line message: "database schema is at X, code needs Y: run `garde db
        upgrade`".
    """
    current = _stored_revision(target)
    head = code_head()
    if current != head:
        raise SchemaOutdatedError(current, head)


def _stored_revision(target: str | URL | Engine) -> str | None:
    """`current_revision` without Alembic: the one row of its version table, if any."""
    with _engine(target) as engine, engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _engine(target: str | URL | Engine) -> Iterator[Engine]:
    """Use the caller's engine, or a short-lived one for a URL."""
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()
