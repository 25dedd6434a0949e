"""The stores every contract case runs on: the SQL store (a SQLite file, PostgreSQL when
configured) and the memory store, each with the same region and roster (the ``store``
fixture, registered in this folder's conftest)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from garde.dispatch.model import Priority, Radiologist, Shift, Site, TriageResult
from garde.store.dicomweb_index import DicomWebIndex
from garde.store.engine import make_engine, make_session_factory
from garde.store.instance_index import SqlInstanceIndex
from garde.store.memory import MemoryStore
from garde.store.migrate import upgrade
from garde.store.uow import SqlUnitOfWork
from tests.helpers import TEST_DATABASE_URL
from tests.store_fixtures import isolated_database, make_instance, new_uid, sync_directory

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from garde.dispatch.ports import InstanceIndex
    from garde.store.ports import StudyAttributeIndex, UnitOfWork

T0 = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
SITES = (
    Site(id="chu-a", name="CHU A", ae_titles=frozenset({"CHUA_CT"})),
    Site(id="ch-b", name="CH B", ae_titles=frozenset({"CHB_CT"}), stable_age_s=10.0),
    Site(id="ch-c", name="CH C", ae_titles=frozenset({"CHC_CT"})),
)
RADS = (
    Radiologist(id="rad-2", name="Two", skills=frozenset({"body"}), sites=frozenset({"ch-b"})),
    Radiologist(id="rad-1", name="One", skills=frozenset({"neuro"}), sites=frozenset({"chu-a"})),
    Radiologist(id="rad-3", name="Three", skills=frozenset(), sites=frozenset({"ch-c"})),
    Radiologist(id="rad-4", name="Four", skills=frozenset(), sites=frozenset({"ch-c"})),
)
SHIFTS = (
    Shift("rad-2", T0, T0 + timedelta(hours=12)),
    Shift("rad-1", T0, T0 + timedelta(hours=12)),
    Shift("rad-1", T0 - timedelta(days=1), T0 - timedelta(hours=12)),
)
STROKE = TriageResult(Priority.STROKE, frozenset({"neuro"}), 6.0, "stroke-ct")
ROUTINE = TriageResult(Priority.ROUTINE, frozenset(), 15.0, "default")

STORES = [pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite")]
if TEST_DATABASE_URL:
    STORES.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


@dataclass
class Store:
    """What a case needs of a store: units of work, the gateway's index and the
    attributes read from the stored files."""

    uow_factory: Callable[[], UnitOfWork]
    index: InstanceIndex
    attributes: StudyAttributeIndex

    def receive(
        self,
        *,
        site: str = "chu-a",
        at: datetime = T0,
        series: int = 1,
        per: int = 2,
        **fields: Any,
    ) -> str:
        """A new study of ``series`` series of ``per`` instances, one a second from ``at``."""
        study = new_uid()
        for s in range(1, series + 1):
            for n in range(1, per + 1):
                assert self.index.record(
                    make_instance(
                        study,
                        series_uid=f"{study}.{s}",
                        sop_instance_uid=f"{study}.{s}.{n}",
                        site_id=site,
                        received_at=at + timedelta(seconds=n),
                        series_number=s,
                        instance_number=n,
                        **fields,
                    )
                )
        return study

    def get(self, uid: str) -> Any:
        with self.uow_factory() as uow:
            return uow.studies.get(uid)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same region and roster in each store."""
    if request.param == "memory":
        memory = MemoryStore(SITES, RADS, SHIFTS)
        yield Store(memory.uow_factory, memory.index, memory.attributes)
        return
    with _sql_url(request, tmp_path) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        sync_directory(factory, SITES, RADS)
        with SqlUnitOfWork(factory) as uow:
            uow.roster.replace_shifts(T0 - timedelta(days=2), T0 + timedelta(days=2), SHIFTS)
            uow.commit()
        yield Store(
            lambda: SqlUnitOfWork(factory), SqlInstanceIndex(factory), DicomWebIndex(factory)
        )
        engine.dispose()


def _sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "garde.sqlite"
        shutil.copyfile(template, target)
        return _as_is(f"sqlite:///{target}")
    return _migrated(TEST_DATABASE_URL)


class _as_is:  # noqa: N801 - a tiny context manager
    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


class _migrated:  # noqa: N801 - a tiny context manager
    def __init__(self, url: str) -> None:
        self._isolated = isolated_database(url)

    def __enter__(self) -> str:
        url = self._isolated.__enter__()
        upgrade(url)
        return url

    def __exit__(self, *exc: object) -> None:
        self._isolated.__exit__(*exc)
