"""Store values that need no database: the UTC column type, errors, records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from garde.dispatch.model import StudyState
from garde.store.errors import SchemaOutdatedError, StaleStudyError, StudyNotFoundError
from garde.store.models import Base
from garde.store.records import StudyRecord
from garde.store.types import UTCDateTime

PLUS_TWO = timezone(timedelta(hours=2))
AT = datetime(2026, 3, 6, 23, 0, tzinfo=PLUS_TWO)


def test_utc_datetime_binds_utc_naive_on_sqlite_and_aware_on_postgres() -> None:
    column = UTCDateTime()
    assert column.process_bind_param(AT, sqlite.dialect()) == datetime(2026, 3, 6, 21, 0)
    bound = column.process_bind_param(AT, postgresql.dialect())
    assert bound == AT
    assert bound.tzinfo is UTC
    assert column.process_bind_param(None, sqlite.dialect()) is None


def test_utc_datetime_reads_back_aware_utc() -> None:
    column = UTCDateTime()
    naive = datetime(2026, 3, 6, 21, 0)
    assert column.process_result_value(naive, sqlite.dialect()) == AT
    assert column.process_result_value(AT, postgresql.dialect()).tzinfo is UTC
    assert column.process_result_value(None, postgresql.dialect()) is None


def test_utc_datetime_refuses_naive_values() -> None:
    with pytest.raises(ValueError, match="naive datetime 2026-03-06T21:00:00 refused"):
        UTCDateTime().process_bind_param(datetime(2026, 3, 6, 21, 0), sqlite.dialect())


def test_enums_are_stored_by_value() -> None:
    state = Base.metadata.tables["studies"].c.state.type
    assert state.enums == [s.value for s in StudyState]
    assert not state.native_enum


def test_every_constraint_and_index_is_named() -> None:
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name, f"unnamed constraint on {table.name}"
        for index in table.indexes:
            assert index.name, f"unnamed index on {table.name}"


def test_error_messages_name_what_failed() -> None:
    assert str(StudyNotFoundError("1.2.3")) == "no study 1.2.3"
    assert "expected version 3, found 4" in str(StaleStudyError("1.2.3", 3, 4))
    assert str(SchemaOutdatedError("0001", "0002")) == (
        "database schema is at 0001, code needs 0002: run `garde db upgrade`"
    )


def test_records_are_frozen() -> None:
    record = StudyRecord(
        study_uid="1.2",
        site_id="s",
        state=StudyState.RECEIVING,
        first_received_at=AT,
        last_received_at=AT,
        series_count=0,
        instance_count=0,
        version=1,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.version = 2  # type: ignore[misc]
