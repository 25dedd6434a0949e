"""QIDO-RS matching in the store, on SQLite and PostgreSQL: modalities of a multi-modality
study, wildcards in names, date ranges, a reader's scope (their studies, their shift)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from garde.dispatch.model import Shift
from garde.store.dicomweb_index import DicomWebIndex, ReaderScope, StudyFilter
from garde.store.instance_index import SqlInstanceIndex
from garde.store.records import StudyAttributes
from garde.store.uow import SqlUnitOfWork
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)
from tests.store_fixtures import DEFAULT_SITE, make_instance, new_uid, sync_directory

EVERYTHING = ReaderScope(everything=True)


def _study(index: SqlInstanceIndex, modalities: tuple[str, ...], **fields) -> str:
    uid = new_uid()
    for n, modality in enumerate(modalities):
        index.record(make_instance(uid, f"{uid}.{n + 1}", modality=modality, **fields))
    return uid


def test_matching_on_both_dialects(session_factory) -> None:
    sync_directory(session_factory)
    gateway = SqlInstanceIndex(session_factory)
    ct_mr = _study(gateway, ("CT", "MR"), accession_number="ACC1")
    mr = _study(gateway, ("MR",), accession_number="ACC2")
    index = DicomWebIndex(session_factory)
    ids = {}
    with session_factory() as session:
        from garde.store.models import StudyRow

        ids = {row.study_uid: row.id for row in session.query(StudyRow)}
    index.save_attributes(
        [
            (ids[ct_mr], StudyAttributes(study_date="20261205", patient_name="DOE^JANE")),
            (ids[mr], StudyAttributes(study_date="20261130", patient_name="ROE^RICHARD")),
        ]
    )

    def found(**criteria) -> set[str]:
        return {m.study_uid for m in index.studies(StudyFilter(**criteria), EVERYTHING)}

    assert found(modalities=("CT",)) == {ct_mr}
    assert found(modalities=("MR",)) == {ct_mr, mr}
    assert found(modalities=("C",)) == set()
    assert found(patient_name="doe*") == {ct_mr}
    assert found(patient_name="*^RICH?RD") == {mr}
    assert found(date_from="20261201") == {ct_mr}
    assert found(date_to="20261201") == {mr}
    assert found(accession="ACC2") == {mr}
    assert found(limit=1, offset=1) | found(limit=1) == {ct_mr, mr}


def test_a_reader_sees_their_studies_and_on_shift_their_hospitals(session_factory) -> None:
    sync_directory(session_factory)
    gateway = SqlInstanceIndex(session_factory)
    uid = _study(gateway, ("CT",))
    index = DicomWebIndex(session_factory)
    now = datetime.now(tz=UTC)
    rid = next(iter(_radiologists(session_factory)))
    assert index.scope(rid, now).sites == frozenset()  # credentialed, but not on shift
    with SqlUnitOfWork(session_factory) as uow:
        uow.roster.replace_shifts(
            now - timedelta(hours=1),
            now + timedelta(hours=1),
            [Shift(rid, now - timedelta(hours=1), now + timedelta(hours=1), "oncall")],
        )
        uow.commit()
    scope = index.scope(rid, now)
    assert DEFAULT_SITE.id in scope.sites
    assert [m.study_uid for m in index.studies(StudyFilter(), scope)] == []  # no attributes yet
    index.save_attributes([(index.access(uid).study_id, StudyAttributes())])
    assert [m.study_uid for m in index.studies(StudyFilter(), scope)] == [uid]
    assert index.studies(StudyFilter(), ReaderScope(everything=False, subject="nobody")) == []


def _radiologists(session_factory) -> list[str]:
    with SqlUnitOfWork(session_factory) as uow:
        return [r.id for r in uow.directory.radiologists()]
