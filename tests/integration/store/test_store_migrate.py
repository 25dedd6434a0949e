"""Migrations: upgrade from empty, outdated-schema detection, models match the migrations."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from garde.store.engine import make_engine
from garde.store.errors import SchemaOutdated, SchemaOutdatedError
from garde.store.migrate import (
    check_up_to_date,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from garde.store.models import Base

TABLES = {
    "access_tokens",
    "sites",
    "radiologists",
    "shifts",
    "studies",
    "series",
    "instances",
    "assignments",
    "audit_events",
    "previews",
    "study_attributes",
    "webhook_outbox",
    "directory_professionals",
    "reports",
    "priors",
    "prior_lookups",
    "store_generations",
    "leader_lease",
    "alembic_version",
}


def test_upgrade_from_empty_creates_the_schema_and_is_idempotent(blank_url) -> None:
    assert current_revision(blank_url) is None
    assert upgrade(blank_url) == head_revision()
    assert upgrade(blank_url) == head_revision()  # again: nothing to do
    engine = make_engine(blank_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()
    check_up_to_date(blank_url)


def test_an_empty_database_is_refused_with_a_one_line_message(blank_url) -> None:
    with pytest.raises(SchemaOutdatedError) as caught:
        check_up_to_date(blank_url)
    message = str(caught.value)
    assert message == (
        f"database schema is at nothing (empty database), code needs {head_revision()}: "
        "run `garde db upgrade`"
    )
    assert "\n" not in message
    assert SchemaOutdated is SchemaOutdatedError


def test_a_schema_at_another_revision_is_refused(migrated_url) -> None:
    engine = make_engine(migrated_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dfeed'")
        with pytest.raises(SchemaOutdatedError, match="schema is at f00dfeed, code needs"):
            check_up_to_date(engine)
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(migrated_url) -> None:
    engine = make_engine(migrated_url)
    try:
        assert downgrade(engine, "base") is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert upgrade(engine) == head_revision()
        check_up_to_date(engine)
    finally:
        engine.dispose()


def test_the_models_match_the_migrations(migrated_url) -> None:
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
