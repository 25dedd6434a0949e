"""Database fixtures other parts' tests import: a migrated database, sessions, units of work.

Use them with ``from tests.store_fixtures import *  # noqa: F403`` in a test module or a
``conftest.py`` (pytest finds fixtures by name in the module's namespace):

- ``migrated_url``: the URL of a freshly migrated database, on every ``database_url``
  (a SQLite file; the PostgreSQL of ``GARDE_TEST_DATABASE_URL`` when set, in a schema of
  its own, selected by ``search_path`` in the URL, dropped at teardown: parallel xdist
  workers and re-runs never see each other's rows);
- ``blank_url``: the same, isolated, but empty (never migrated);
- ``engine`` and ``session_factory`` on it; ``uow_factory`` (a callable returning a new
  `SqlUnitOfWork`) and ``uow`` (one already entered);
- ``instance_index``: a `SqlInstanceIndex` on the same database.

Helpers: `sync_directory` seeds sites and radiologists (studies need their site row),
`make_instance` builds an `InstanceReceived` with defaults, `new_uid` a fresh UID.

On SQLite every transaction takes the write lock at BEGIN (see `garde.store.engine`):
a test that holds ``uow`` open after a query and then writes through another unit of
work or the instance index in the same thread waits for the busy timeout, then fails
with "database is locked". Commit (or use ``uow_factory`` per step) first.
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from garde.dispatch.model import InstanceReceived, Radiologist, Site
from garde.store.engine import make_engine, make_session_factory
from garde.store.instance_index import SqlInstanceIndex
from garde.store.migrate import upgrade
from garde.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "DEFAULT_RADIOLOGIST",
    "DEFAULT_SITE",
    "blank_url",
    "engine",
    "instance_index",
    "isolated_database",
    "make_instance",
    "migrated_url",
    "new_uid",
    "session_factory",
    "sqlite_template",
    "sync_directory",
    "uow",
    "uow_factory",
]

DEFAULT_SITE = Site(id="chu-a", name="CHU A", ae_titles=frozenset({"CHUA_CT"}))
DEFAULT_RADIOLOGIST = Radiologist(
    id="rad-1", name="Dr One", skills=frozenset({"neuro", "body"}), sites=frozenset({"chu-a"})
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (fast)."""
    path = tmp_path_factory.mktemp("store-template") / "garde.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def blank_url(database_url: str) -> Iterator[str]:
    """An empty, never migrated database on ``database_url`` (own schema on PostgreSQL)."""
    with isolated_database(database_url) as url:
        yield url


@pytest.fixture
def migrated_url(database_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly migrated database on ``database_url`` (see the module docstring)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, Path(make_url(database_url).database or ""))
        yield database_url
        return
    with isolated_database(database_url) as url:
        upgrade(url)
        yield url


@contextmanager
def isolated_database(database_url: str) -> Iterator[str]:
    """A URL no other test uses: the SQLite file as is; a fresh schema on PostgreSQL.

    The schema is selected by ``search_path`` in the URL's connection options, so any
    engine built from the URL (the CLI in a subprocess too) works inside it; it is
    dropped on exit.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield database_url
        return
    schema = f"garde_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """The engine of the migrated database, disposed at teardown."""
    built = make_engine(migrated_url)
    yield built
    built.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the migrated database."""
    return make_session_factory(engine)


@pytest.fixture
def uow_factory(session_factory: sessionmaker[Session]) -> Callable[[], SqlUnitOfWork]:
    """Builds a new (not yet entered) unit of work per call, as services do."""
    return lambda: SqlUnitOfWork(session_factory)


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> Iterator[SqlUnitOfWork]:
    """A unit of work already entered (rolled back at teardown unless committed)."""
    with SqlUnitOfWork(session_factory) as entered:
        yield entered


@pytest.fixture
def instance_index(session_factory: sessionmaker[Session]) -> SqlInstanceIndex:
    """The gateway's instance index on the migrated database."""
    return SqlInstanceIndex(session_factory)


def sync_directory(
    session_factory: sessionmaker[Session],
    sites: Iterable[Site] = (DEFAULT_SITE,),
    radiologists: Iterable[Radiologist] = (DEFAULT_RADIOLOGIST,),
) -> None:
    """Store sites and radiologists (and commit): studies refer to their site row."""
    with SqlUnitOfWork(session_factory) as unit:
        unit.directory.sync_sites(sites)
        unit.directory.sync_radiologists(radiologists)
        unit.commit()


def make_instance(
    study_uid: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    **fields: Any,
) -> InstanceReceived:
    """An `InstanceReceived` of ``study_uid`` with plausible defaults for the rest."""
    series_uid = series_uid or f"{study_uid}.1"
    sop_instance_uid = sop_instance_uid or f"{series_uid}.{uuid.uuid4().int % 10**12}"
    values: dict[str, Any] = {
        "sop_instance_uid": sop_instance_uid,
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "series_uid": series_uid,
        "study_uid": study_uid,
        "transfer_syntax": "1.2.840.10008.1.2.1",
        "site_id": DEFAULT_SITE.id,
        "calling_ae": "CHUA_CT",
        "path": f"{study_uid}/{series_uid}/{sop_instance_uid}.dcm",
        "size_bytes": 1024,
        "received_at": datetime.now(tz=UTC),
        "modality": "CT",
    }
    values.update(fields)
    return InstanceReceived(**values)


def new_uid() -> str:
    """A fresh DICOM-style UID (2.25 + a UUID as an integer, at most 64 characters)."""
    return f"2.25.{uuid.uuid4().int}"
