"""The store contract for a reader's worklist and their reports on their way: the same
cases on SQLite, PostgreSQL (when configured) and the memory store, so that the
worklist service (`garde.services.worklist`) has a fake that answers as the SQL store
does (issue 16 item 7)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState
from tests.integration.store.contract_store import ROUTINE, STROKE, T0

if TYPE_CHECKING:
    from garde.dispatch.model import TriageResult
    from tests.integration.store.contract_store import Store

MIN = timedelta(minutes=1)


def _assign(store: Store, uid: str, reader: str, triage: TriageResult, *, start: bool) -> None:
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.studies.set_triage(uid, triage, T0 + timedelta(hours=2))
        uow.studies.assign(uid, reader, at=T0, by="router")
        uow.studies.move(uid, StudyEvent.ASSIGNED, at=T0)
        if start:
            uow.studies.move(uid, StudyEvent.STARTED, at=T0 + MIN)
        uow.commit()


def test_a_worklist_reading_first_then_urgent_with_site_preview_links_and_context(
    store: Store,
) -> None:
    queued = store.receive(series=2, patient_key="P1", accession_number="A1", modality="CT")
    reading = store.receive(at=T0 + MIN, study_description="angio")
    elsewhere = store.receive(site="ch-b", at=T0 + 2 * MIN, patient_key="P1")
    older = store.receive(site="ch-c", at=T0 - 60 * MIN, patient_key="P1")
    theirs = store.receive(at=T0 + 3 * MIN)
    _assign(store, queued, "rad-1", STROKE, start=False)
    _assign(store, reading, "rad-1", ROUTINE, start=True)
    _assign(store, theirs, "rad-2", STROKE, start=False)
    with store.uow_factory() as uow:
        uow.studies.set_preview(f"{queued}.2", "mid_slice", "q2-mid.jpg", T0)
        uow.studies.set_preview(f"{queued}.2", "thumbnail", "q2-thumb.jpg", T0)
        uow.studies.set_preview(f"{queued}.1", "mid_slice", "q1-mid.jpg", T0)
        uow.studies.set_preview(reading, "montage", "r-montage.jpg", T0)
        uow.studies.set_preview(f"{reading}.1", "thumbnail", "r1-thumb.jpg", T0)
        uow.commit()
    with store.uow_factory() as uow:
        rows = uow.studies.worklist("rad-1")
        assert uow.studies.worklist("rad-3") == []
    names = {uid: store.get(uid).handle or uid for uid in (elsewhere, older)}
    assert [
        (r.study_uid, r.state, r.site_name, r.preview_path, r.linked, r.patient.accession)
        for r in rows
    ] == [
        (reading, StudyState.IN_PROGRESS, "CHU A", "r-montage.jpg", (), ""),
        (
            queued,
            StudyState.ASSIGNED,
            "CHU A",
            "q2-thumb.jpg",
            (names[elsewhere], names[older]),
            "A1",
        ),
    ]
    first = rows[1]
    assert (first.modalities, first.priority, first.deadline) == (
        frozenset({"CT"}),
        STROKE.priority,
        T0 + timedelta(hours=2),
    )
    assert (rows[0].description, rows[0].started_at, rows[0].handle) == (
        "angio",
        T0 + MIN,
        store.get(reading).handle,
    )


def test_reports_on_their_way_newest_first_draft_failing_kept(store: Store) -> None:
    studies = [store.receive(at=T0 + n * MIN) for n in range(4)]
    with store.uow_factory() as uow:
        made = [
            uow.reports.add(
                uid, author="rad-1", text="t", conclusion="c", critical=False, at=T0 + n * MIN
            )
            for n, uid in enumerate(studies)
        ]
        uow.reports.add(studies[0], author="rad-2", text="t", conclusion="c", critical=False, at=T0)
        draft, failing, kept, delivered = made
        for report, at_once in ((failing, False), (kept, False), (delivered, True)):
            uow.reports.finalize(
                report.id, T0, sr_uid=None, pdf_uid=None, control_id=None, delivered=at_once
            )
        assert uow.reports.queue(
            channel="dicom",
            destination="pacs",
            dedupe_key="k1",
            body="{}",
            at=T0,
            report_id=failing.id,
            study_uid=failing.study_uid,
        )
        uow.commit()
    with store.uow_factory() as uow:
        (delivery,) = uow.reports.lease_due(T0 + 10 * MIN, T0 + 11 * MIN, 10)
        uow.reports.failed(delivery.id, "association refused", T0 + 20 * MIN)
        uow.commit()
    with store.uow_factory() as uow:
        found = uow.studies.reports_on_their_way("rad-1")
    assert [(r.study_uid, r.state, r.error) for r in found] == [
        (kept.study_uid, "kept", ""),
        (failing.study_uid, "failing", "association refused"),
        (draft.study_uid, "draft", ""),
    ]
    assert found[0].handle == store.get(kept.study_uid).handle
