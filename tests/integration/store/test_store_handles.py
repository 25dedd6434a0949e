"""Study handles: given at intake, numbered per site and day, found again by lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from garde.dispatch.model import Radiologist, Site
from garde.store.engine import make_engine
from garde.store.handles import day_start, is_uid
from garde.store.migrate import downgrade, upgrade
from tests.store_fixtures import make_instance, new_uid, sync_directory

NIGHT = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)  # a night: 20:00 in Paris
SITES = (
    Site(id="h01", name="One", ae_titles=frozenset({"ONE_CT"})),
    Site(id="h02", name="Two", ae_titles=frozenset({"TWO_CT"})),
)
RADS = (Radiologist(id="r1", name="R", skills=frozenset(), sites=frozenset({"h01"})),)


@pytest.fixture(autouse=True)
def _directory(session_factory) -> None:
    sync_directory(session_factory, SITES, RADS)


def _receive(instance_index, site: str, at: datetime, instances: int = 2) -> str:
    study = new_uid()
    for n in range(instances):
        event = make_instance(study, site_id=site, received_at=at + timedelta(seconds=n))
        assert instance_index.record(event)
    return study


def _handles(uow_factory, uids: list[str]) -> list[str]:
    with uow_factory() as uow:
        return [uow.studies.get(uid).handle for uid in uids]


def test_each_site_numbers_its_studies_of_the_night_from_one(uow_factory, instance_index):
    uids = [
        _receive(instance_index, "h01", NIGHT),
        _receive(instance_index, "h02", NIGHT + timedelta(minutes=1)),
        _receive(instance_index, "h01", NIGHT + timedelta(hours=6)),  # after midnight
        _receive(instance_index, "h01", NIGHT + timedelta(hours=18)),  # 13:00 UTC: next day
    ]
    assert _handles(uow_factory, uids) == ["h01-1", "h02-1", "h01-2", "h01-1"]


def test_a_handle_or_a_uid_finds_the_study_the_newest_first(uow_factory, instance_index):
    yesterday = _receive(instance_index, "h01", NIGHT - timedelta(days=1))
    tonight = _receive(instance_index, "h01", NIGHT)
    with uow_factory() as uow:
        assert uow.studies.uid_for("h01-1") == tonight  # the handle of both: tonight's
        assert uow.studies.uid_for("H01-1") == tonight  # as typed in capitals
        assert uow.studies.uid_for(yesterday) == yesterday
        assert uow.studies.uid_for("h01-7") is None
        assert uow.studies.uid_for("1.2.3.4") is None


def test_the_day_starts_at_midday_utc():
    assert day_start(NIGHT) == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert day_start(NIGHT + timedelta(hours=10)) == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert day_start(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == datetime(
        2026, 12, 5, 12, 0, tzinfo=UTC
    )
    assert is_uid("1.2.840.10008")
    assert not is_uid("h01-3")


def test_the_migration_gives_studies_already_stored_their_handles(migrated_url) -> None:
    downgrade(migrated_url, "0004")
    engine = make_engine(migrated_url)
    aware = engine.dialect.name != "sqlite"
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sites (id, name, ae_titles, timezone, ip_allow)"
                    " VALUES ('h09', 'Nine', '[]', 'UTC', '[]')"
                )
            )
            for uid, at in (("1.9.1", NIGHT), ("1.9.2", NIGHT + timedelta(hours=1))):
                connection.execute(
                    text(
                        "INSERT INTO studies (study_uid, site_id, state, patient_key, accession,"
                        " description, body_part, requested_procedure, requested_priority,"
                        " modalities, first_received_at, last_received_at, series_count,"
                        " instance_count, fallback, escalation_tier, version) VALUES (:uid,"
                        " 'h09', 'done', '', '', '', '', '', '', '', :at, :at, 1, 1, false, 0, 1)"
                    ),
                    {"uid": uid, "at": at if aware else at.replace(tzinfo=None)},
                )
        upgrade(migrated_url)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT study_uid, handle FROM studies WHERE site_id = 'h09' ORDER BY study_uid"
                )
            ).all()
        assert [tuple(r) for r in rows] == [("1.9.1", "h09-1"), ("1.9.2", "h09-2")]
    finally:
        engine.dispose()
