"""The engine: one per process, built by the composition root from the database URL.

SQLite (the embedded default) runs in WAL mode so readers never block the gateway's
writes; PostgreSQL (several nodes) goes through psycopg 3.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine
    from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger(__name__)

# How long a SQLite writer waits for another writer's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """Build the process's engine for ``url``.

    Parameters
    ----------
    url
        A SQLAlchemy URL: ``sqlite:///path/garde.sqlite`` (the parent folder is
        created) or ``postgresql+psycopg://user@host/db`` (a bare ``postgresql://`` is
        taken to mean psycopg 3).
    echo
        Log every SQL statement (debugging only).

    Returns
    -------
    Engine
        Configured for the dialect: on SQLite, WAL journal, foreign keys on, a busy
        timeout, ``synchronous=NORMAL`` (durable across application crashes in WAL
        mode), and write-intent (``BEGIN IMMEDIATE``) transactions.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory units of work open their sessions from."""
    # Records are copied out of the session before it closes: no need to expire on commit.
    return sessionmaker(engine, expire_on_commit=False)


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Per-connection pragmas, and hand transaction control to SQLAlchemy."""
    # pysqlite's own implicit BEGIN (before DML only) breaks SAVEPOINT and transactional
    # DDL; disable it and let `_on_sqlite_begin` start every transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    """Start every transaction with the write lock.

    A deferred transaction that reads, then writes after another connection committed,
    fails at once with SQLITE_BUSY (the busy timeout does not apply to that upgrade).
    Taking the lock up front makes writers queue on the busy timeout instead; WAL
    writes are short, so readers wait milliseconds at worst.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")
