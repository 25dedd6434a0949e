"""A small region on a real store (SQLite file and, in CI, PostgreSQL) for worklist tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.board import Board
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Radiologist, Shift, Site, StudyState, TriageResult
from garde.services.identity import IdentityService
from garde.services.operator import OperatorService
from garde.services.reading import ReadingService
from garde.services.study_info import StudyInfoService
from garde.services.worklist import WorklistService
from garde.store.instance_index import SqlInstanceIndex
from garde.store.uow import SqlUnitOfWork
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)
from tests.store_fixtures import make_instance, new_uid, sync_directory

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

T0 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
SITES = (
    Site(id="h1", name="CH One", ae_titles=frozenset({"H1_CT"})),
    Site(id="h2", name="CH Two", ae_titles=frozenset({"H2_CT"})),
)
RADIOLOGISTS = (
    Radiologist(
        id="r1", name="Dr One", skills=frozenset({"neuro", "body"}), sites=frozenset({"h1"})
    ),
    Radiologist(
        id="r2", name="Dr Two", skills=frozenset({"neuro", "body"}), sites=frozenset({"h1", "h2"})
    ),
    Radiologist(id="r3", name="Dr Three", skills=frozenset({"body"}), sites=frozenset({"h2"})),
)


@dataclass
class Region:
    """The services over one migrated store, and helpers to put studies in it."""

    uow: Callable[[], SqlUnitOfWork]
    session_factory: sessionmaker[Session]
    previews: Path
    reading: ReadingService
    worklist: WorklistService
    operator: OperatorService
    info: StudyInfoService
    identity: IdentityService

    def study(
        self,
        site: str = "h1",
        *,
        priority: Priority = Priority.URGENT,
        skills: frozenset[str] = frozenset({"body"}),
        assignee: str | None = None,
        received: datetime = T0,
        deadline_min: float = 240,
    ) -> str:
        """A triaged study, pending (``assignee`` None) or assigned."""
        uid = new_uid()
        SqlInstanceIndex(self.session_factory).record(
            make_instance(uid, site_id=site, received_at=received, calling_ae=f"{site.upper()}_CT")
        )
        with self.uow() as uow:
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=received)
            uow.studies.set_triage(
                uid,
                TriageResult(priority, skills, 10.0, "test-rule"),
                received + timedelta(minutes=deadline_min),
            )
            uow.studies.assign(
                uid, assignee, at=received, by="router", explanation={"kind": "test"}
            )
            if assignee is not None:
                uow.studies.move(uid, StudyEvent.ASSIGNED, at=received)
            uow.commit()
        return uid

    def state(self, uid: str) -> tuple[StudyState, str | None]:
        with self.uow() as uow:
            record = uow.studies.get(uid)
        assert record is not None
        return record.state, record.assignee

    def audit_rows(self) -> int:
        from sqlalchemy import func, select

        from garde.store.models import AuditEventRow

        with self.uow() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(AuditEventRow)) or 0)


@pytest.fixture
def region(session_factory: sessionmaker[Session], tmp_path: Path) -> Region:
    sync_directory(session_factory, SITES, RADIOLOGISTS)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(session_factory)

    with uow() as unit:
        unit.roster.replace_shifts(
            T0 - timedelta(hours=4),
            T0 + timedelta(hours=10),
            [Shift(r.id, T0 - timedelta(hours=4), T0 + timedelta(hours=10)) for r in RADIOLOGISTS],
        )
        unit.commit()
    previews = tmp_path / "previews"
    board = Board()
    return Region(
        uow=uow,
        session_factory=session_factory,
        previews=previews,
        reading=ReadingService(uow, board),
        worklist=WorklistService(uow, previews),
        operator=OperatorService(uow, board),
        info=StudyInfoService(uow, previews),
        identity=IdentityService(uow),
    )
