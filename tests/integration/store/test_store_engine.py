"""Engine configuration, the unit of work's transaction rules, UTC round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState
from garde.store.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine
from garde.store.errors import StoreError
from garde.store.models import AuditEventRow
from garde.store.uow import SqlUnitOfWork
from tests.store_fixtures import make_instance, new_uid, sync_directory

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_sqlite_engine_pragmas_and_parent_folder(tmp_path) -> None:
    path = tmp_path / "deep" / "er" / "garde.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
            assert pragma("synchronous") == 1  # NORMAL
    finally:
        engine.dispose()
    assert path.parent.is_dir()


def test_a_bare_postgresql_url_means_psycopg_3() -> None:
    engine = make_engine("postgresql://garde@db.invalid/garde")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_datetimes_round_trip_as_aware_utc(uow_factory, session_factory) -> None:
    at = datetime(2026, 7, 14, 23, 30, 15, 123456, tzinfo=PARIS_SUMMER)
    with uow_factory() as uow:
        uow.audit.append(at=at, actor="t", action="utc", study_uid="1.2")
        uow.commit()
    with uow_factory() as uow:
        (event,) = uow.audit.for_study("1.2")
    assert event.at == at
    assert event.at.tzinfo is UTC
    assert event.at.hour == 21
    # Comparisons in SQL are on the UTC instant, whatever offset the parameter has.
    with session_factory() as session:
        found = session.scalars(
            select(AuditEventRow.action).where(
                AuditEventRow.at >= at.astimezone(UTC) - timedelta(microseconds=1)
            )
        ).all()
    assert found == ["utc"]


def test_a_naive_datetime_is_refused(uow_factory) -> None:
    with uow_factory() as uow, pytest.raises(StatementError, match="naive datetime"):
        uow.audit.append(at=datetime(2026, 1, 1, 12, 0), actor="t", action="naive")


def test_nothing_is_kept_without_commit(uow_factory, session_factory, instance_index) -> None:
    sync_directory(session_factory)
    uid = new_uid()
    instance_index.record(make_instance(uid))
    now = datetime.now(tz=UTC)
    with uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=now)
        uow.audit.append(at=now, actor="t", action="lost", study_uid=uid)

    def change_then_fail() -> None:
        with uow_factory() as uow:
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=now)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    with uow_factory() as uow:
        assert uow.studies.get(uid).state is StudyState.RECEIVING
        assert uow.audit.for_study(uid) == []


def test_committed_work_survives_a_later_failure(uow_factory) -> None:
    now = datetime.now(tz=UTC)

    def commit_then_fail() -> None:
        with uow_factory() as uow:
            uow.audit.append(at=now, actor="t", action="kept", study_uid="1.9")
            uow.commit()
            uow.audit.append(at=now, actor="t", action="dropped", study_uid="1.9")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        commit_then_fail()
    with uow_factory() as uow:
        assert [e.action for e in uow.audit.for_study("1.9")] == ["kept"]


def test_explicit_rollback_discards_the_pending_work(uow_factory) -> None:
    now = datetime.now(tz=UTC)
    with uow_factory() as uow:
        uow.audit.append(at=now, actor="t", action="dropped", study_uid="1.8")
        uow.rollback()
        uow.audit.append(at=now, actor="t", action="kept", study_uid="1.8")
        uow.commit()
    with uow_factory() as uow:
        assert [e.action for e in uow.audit.for_study("1.8")] == ["kept"]


def test_a_unit_of_work_is_used_once_and_inside_with(session_factory) -> None:
    unit = SqlUnitOfWork(session_factory)
    with pytest.raises(StoreError, match="context manager"):
        unit.commit()
    with unit, pytest.raises(StoreError, match="twice"):
        unit.__enter__()


def test_savepoints_work_on_every_dialect(uow_factory) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; make_engine takes it over.
    now = datetime.now(tz=UTC)
    with uow_factory() as uow:
        uow.audit.append(at=now, actor="t", action="outer", study_uid="1.7")
        nested = uow.session.begin_nested()
        uow.audit.append(at=now, actor="t", action="inner", study_uid="1.7")
        nested.rollback()
        uow.commit()
    with uow_factory() as uow:
        assert [e.action for e in uow.audit.for_study("1.7")] == ["outer"]
