"""The forecast learns from a real store: triaged studies, their start-to-done minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Radiologist, Site, TriageResult
from garde.simulation.forecast.history import learn, read_history
from garde.store.instance_index import SqlInstanceIndex
from garde.store.uow import SqlUnitOfWork
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)
from tests.store_fixtures import make_instance, new_uid, sync_directory

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

SITE = Site(id="h1", name="CH One", ae_titles=frozenset({"H1_CT"}))
READER = Radiologist("r1", "Dr One", frozenset({"neuro"}), frozenset({"h1"}))
MONDAY = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)  # 21:00 Paris


def test_history_from_the_store(session_factory: sessionmaker[Session]) -> None:
    sync_directory(session_factory, (SITE,), (READER,))
    index = SqlInstanceIndex(session_factory)
    for k in range(60):
        uid = new_uid()
        received = MONDAY + timedelta(minutes=k)
        index.record(make_instance(uid, site_id="h1", received_at=received, calling_ae="H1_CT"))
        with SqlUnitOfWork(session_factory) as uow:
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=received)
            result = TriageResult(Priority.URGENT, frozenset({"neuro"}), 16.0, "head-ct")
            uow.studies.set_triage(uid, result, received + timedelta(hours=1))
            if k % 2 == 0:  # half of them read, in 8 minutes
                uow.studies.assign(uid, "r1", at=received, by="router", explanation={})
                uow.studies.move(
                    uid, StudyEvent.ASSIGNED, StudyEvent.STARTED, at=received + timedelta(minutes=5)
                )
                uow.studies.move(uid, StudyEvent.FINISHED, at=received + timedelta(minutes=13))
            uow.commit()
    since, until = MONDAY - timedelta(days=7), MONDAY + timedelta(days=7)
    with SqlUnitOfWork(session_factory) as uow:
        past = read_history(uow.session, since, until)
    assert len(past) == 60
    read = [p for p in past if p.read_minutes is not None]
    assert len(read) == 30 and {p.reader for p in read} == {"r1"}
    assert all(abs(p.read_minutes - 8.0) < 1e-6 for p in read)  # type: ignore[operator]
    model = learn(past, since, until, "Europe/Paris")
    assert model.speeds == {"r1": 2.0}  # 16 expected minutes read in 8
    assert model.hourly("h1", 21) == 30.0
