"""The lean read path answers exactly what the repositories answer, on each database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Radiologist, Site, StudyState, TriageResult
from garde.services.identity import hash_token
from garde.store.lean import LeanStore, code_head
from garde.store.migrate import head_revision
from tests.store_fixtures import make_instance, new_uid, sync_directory

T0 = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
SITES = (Site(id="h01", name="CH de Montélimar", ae_titles=frozenset({"ONE_CT"})),)
RADS = (
    Radiologist("r1", "Dr One", frozenset({"neuro"}), frozenset({"h01"}), max_parallel=4),
    Radiologist("r2", "Dr Two", frozenset(), frozenset({"h01"}), speed=1.25, fallback=True),
)


@pytest.fixture
def directory(session_factory) -> None:
    sync_directory(session_factory, SITES, RADS)


def _study(uow_factory, instance_index, priority, state, *, series=1, at=T0) -> str:
    uid = new_uid()
    for s in range(1, series + 1):
        instance_index.record(
            make_instance(
                uid,
                series_uid=f"{uid}.{s}",
                site_id="h01",
                received_at=at,
                series_number=s,
                modality="CT" if s == 1 else "MR",
                study_description="TDM CEREBRALE",
            )
        )
    with uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=at)
        uow.studies.set_triage(
            uid, TriageResult(priority, frozenset({"neuro"}), 12.0, "rule"), at + timedelta(hours=1)
        )
        uow.studies.assign(uid, "r1", at=at, by="router", explanation={"kind": "test"})
        uow.studies.move(uid, StudyEvent.ASSIGNED, at=at)
        if state is StudyState.IN_PROGRESS:
            uow.studies.move(uid, StudyEvent.STARTED, at=at)
        uow.commit()
    return uid


def test_the_code_head_is_alembics() -> None:
    assert code_head() == head_revision()


@pytest.mark.usefixtures("directory")
def test_worklist_radiologists_and_revision_match_the_repositories(
    migrated_url, uow_factory, instance_index
) -> None:
    urgent = _study(uow_factory, instance_index, Priority.URGENT, StudyState.ASSIGNED, series=2)
    _study(uow_factory, instance_index, Priority.STROKE, StudyState.ASSIGNED)
    _study(uow_factory, instance_index, Priority.ROUTINE, StudyState.IN_PROGRESS)
    with uow_factory() as uow:
        uow.studies.set_preview(f"{urgent}.2", "thumbnail", f"{urgent}/2/thumb.jpg")
        uow.studies.set_preview(f"{urgent}.1", "montage", f"{urgent}/1/montage.jpg")
        uow.studies.set_preview(f"{urgent}.1", "thumbnail", f"{urgent}/1/thumb.jpg")
        uow.commit()
        expected = uow.studies.worklist("r1")
        radiologists = uow.directory.radiologists()
    with LeanStore(migrated_url) as lean:
        assert lean.studies.worklist("r1") == expected
        assert lean.directory.radiologists() == radiologists
        assert lean.studies.worklist("r2") == []
        assert lean.revision() == head_revision()
    assert [r.preview_path for r in expected if r.study_uid == urgent] == [f"{urgent}/1/thumb.jpg"]


@pytest.mark.usefixtures("directory")
def test_tokens_and_the_audit_row_as_the_repositories(migrated_url, uow_factory) -> None:
    with uow_factory() as uow:
        uow.tokens.issue(
            hash_token("garde_x"), subject="r1", role="radiologist", at=T0, issued_by="a"
        )
        uow.commit()
    with LeanStore(migrated_url) as lean:
        assert lean.tokens.count(live_only=False) == 1
        holder = lean.tokens.holder(hash_token("garde_x"))
        assert (holder.subject, holder.role) == ("r1", "radiologist")
        assert lean.tokens.holder(hash_token("garde_y")) is None
        lean.audit.append(
            at=T0, actor="r1", action="view_worklist", radiologist_id="r1", detail={"rows": 2}
        )
        lean.commit()
    with uow_factory() as uow:
        [event] = uow.audit.for_radiologist("r1")
    assert (event.at, event.action, event.detail) == (T0, "view_worklist", {"rows": 2})


def test_a_never_migrated_database_has_no_revision(blank_url) -> None:
    with LeanStore(blank_url) as lean:
        assert lean.revision() is None
