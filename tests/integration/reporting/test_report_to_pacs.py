"""The report returns to the hospital's PACS (Orthanc, for real): SR and PDF in the
original study, read back through Orthanc's REST API; an outage of ten (simulated)
minutes delays it and alerts the operator, never loses it; bad input is refused."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from garde.config.reporting import Destination, DestinationKind, ReportingSettings
from garde.dispatch.board import Board
from garde.dispatch.model import Radiologist, Site, StudyState
from garde.reporting.delivery import ReportDelivery
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError
from garde.services.reporting import EmptyReportError, ReportDraft, ReportService
from garde.store.models import AuditEventRow
from garde.store.repositories.reports import ReportRepository
from garde.store.uow import SqlUnitOfWork
from tests.orthanc import Orthanc
from tests.reporting_fixtures import ACCESSION, PATIENT_ID, stored_study

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.orm import Session, sessionmaker

TEXT = (
    "Pas d'hémorragie intracrânienne.\nŒdème périlésionnel modéré, à contrôler.\n« Élément » noté"
)
CONCLUSION = "Examen rassurant ; contrôle à 48 h."


class Clock:
    """A simulated clock the delivery reads (backoff and alerts in simulated minutes)."""

    def __init__(self) -> None:
        self.now = datetime.now(tz=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pacs(tmp_path: Path) -> Iterator[Orthanc]:
    with Orthanc(tmp_path / "orthanc") as orthanc:
        yield orthanc


def _directory(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        uow.directory.sync_sites([Site("h1", "CH One", frozenset({"H1_CT"}))])
        uow.directory.sync_radiologists(
            [
                Radiologist("r1", "Dr Jeanne Lefèvre", frozenset({"neuro"}), frozenset({"h1"})),
                Radiologist("r2", "Dr Two", frozenset({"neuro"}), frozenset({"h1"})),
            ]
        )
        uow.commit()


def _settings(pacs: Orthanc | None) -> ReportingSettings:
    destinations = ()
    if pacs is not None:
        destinations = (
            Destination(
                "h1",
                "pacs",
                DestinationKind.DICOM,
                host="127.0.0.1",
                port=pacs.dicom_port,
                ae_title=pacs.ae_title,
                objects=("sr", "pdf"),
            ),
        )
    return ReportingSettings(
        destinations=destinations, backoff_s=30.0, backoff_max_s=120.0, timeout_s=3.0
    )


class Region:
    """The services a report goes through, on a real store and storage folder."""

    def __init__(
        self, factory: sessionmaker[Session], storage: Path, settings: ReportingSettings
    ) -> None:
        self.factory = factory
        self.storage = storage
        self.clock = Clock()
        self.reports = ReportService(self.uow, settings, storage, {"h1": "CH One"})
        self.reading = ReadingService(self.uow, Board(), reports=self.reports)
        self.delivery = ReportDelivery(self.uow, settings, calling_ae="GARDE", clock=self.clock)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.factory)

    def study(self, **kwargs: object) -> str:
        return stored_study(self.factory, self.storage, **kwargs)  # type: ignore[arg-type]

    def audit(self, action: str) -> list[dict[str, object]]:
        with self.factory() as session:
            rows = session.scalars(select(AuditEventRow).where(AuditEventRow.action == action))
            return [dict(r.detail or {}) for r in rows]


@pytest.fixture
def region_factory(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> Callable[[ReportingSettings], Region]:
    _directory(session_factory)
    storage = tmp_path / "storage"
    storage.mkdir()
    return lambda settings: Region(session_factory, storage, settings)


def _report_instances(pacs: Orthanc, study_uid: str) -> dict[str, dict[str, object]]:
    """The study's instances in Orthanc by modality (SR, DOC), with their tags."""
    found = {}
    for instance in pacs.study_instances(study_uid):
        tags = pacs.tags(instance["ID"])
        if tags.get("Modality") in {"SR", "DOC"}:
            found[str(tags["Modality"])] = tags
    return found


def _findings(tags: dict[str, object]) -> dict[str, str]:
    items = tags["ContentSequence"]
    assert isinstance(items, list)
    return {
        item["ConceptNameCodeSequence"][0]["CodeMeaning"]: item.get("TextValue", "")
        for item in items
    }


def test_done_with_a_report_puts_the_sr_and_pdf_into_the_original_study(
    region_factory: Callable[[ReportingSettings], Region], pacs: Orthanc
) -> None:
    region = region_factory(_settings(pacs))
    study = region.study()
    draft = ReportDraft(TEXT, CONCLUSION)
    region.reading.finish(study, "r1", region.clock.now, origin="test", report=draft)
    assert region.delivery.deliver_due() == 2  # the SR and the PDF

    found = _report_instances(pacs, study)
    assert set(found) == {"SR", "DOC"}
    sr = found["SR"]
    assert sr["StudyInstanceUID"] == study
    assert sr["PatientID"] == PATIENT_ID
    assert sr["AccessionNumber"] == ACCESSION
    assert sr["PatientName"] == "Éloïse^Müller"  # copied from the images, UTF-8 throughout
    assert sr["VerifyingObserverSequence"][0]["VerifyingObserverName"] == "Lefèvre^Jeanne^^Dr"
    texts = _findings(sr)
    assert texts["Finding"] == TEXT  # accents and line breaks intact
    assert texts["Impression"] == CONCLUSION
    pdf = found["DOC"]
    assert pdf["StudyInstanceUID"] == study
    assert pdf["MIMETypeOfEncapsulatedDocument"] == "application/pdf"
    with region.uow() as uow:
        (report,) = ReportRepository(uow.session).of_study(study)
        record = uow.studies.get(study)
    assert report.delivered_at is not None
    assert record is not None and record.state is StudyState.DONE
    assert record.series_count == 1  # the report's series are not images of the study


def test_an_addendum_is_a_new_object_that_refers_to_the_first(
    region_factory: Callable[[ReportingSettings], Region], pacs: Orthanc
) -> None:
    region = region_factory(_settings(pacs))
    study = region.study()
    region.reading.finish(study, "r1", region.clock.now, origin="t", report=ReportDraft(TEXT))
    written = region.reports.write(
        study, "r1", ReportDraft("Addendum : pas de fracture."), now=region.clock.now, origin="t"
    )
    assert written.report.number == 2
    assert written.report.state == "final"
    while region.delivery.deliver_due():
        pass
    srs = [
        pacs.tags(i["ID"])
        for i in pacs.study_instances(study)
        if pacs.tags(i["ID"]).get("Modality") == "SR"
    ]
    assert len(srs) == 2  # never replaced
    with region.uow() as uow:
        first = ReportRepository(uow.session).of_study(study)[0]
    addendum = next(s for s in srs if s["SOPInstanceUID"] != first.sr_uid)
    referred = addendum["PredecessorDocumentsSequence"][0]["ReferencedSeriesSequence"][0]
    assert referred["ReferencedSOPSequence"][0]["ReferencedSOPInstanceUID"] == first.sr_uid


def test_the_pacs_down_ten_minutes_alerts_then_gets_the_report_when_back(
    region_factory: Callable[[ReportingSettings], Region], pacs: Orthanc
) -> None:
    region = region_factory(replace(_settings(pacs), alert_after_min=5.0))
    study = region.study()
    pacs.stop()
    region.reading.finish(study, "r1", region.clock.now, origin="t", report=ReportDraft(TEXT))
    alerts = 0
    for _ in range(20):  # ten simulated minutes, a try every 30 s when due
        region.delivery.deliver_due()
        alerts += region.delivery.check_alerts()
        region.clock.now += timedelta(seconds=30)
    assert alerts == 1  # once, not every round
    assert region.audit("report_undelivered")[0]["errors"]
    with region.uow() as uow:
        rows = ReportRepository(uow.session).deliveries(study)
    assert {r.state for r in rows} == {"failing"}
    assert all("DICOM ORTHANC" in (r.last_error or "") for r in rows)

    pacs.start()
    region.clock.now += timedelta(minutes=3)  # past the longest backoff
    region.delivery.deliver_due()
    assert set(_report_instances(pacs, study)) == {"SR", "DOC"}
    with region.uow() as uow:
        assert ReportRepository(uow.session).of_study(study)[0].delivered_at is not None


def test_a_hospital_without_a_destination_keeps_the_report_and_alerts(
    region_factory: Callable[[ReportingSettings], Region],
) -> None:
    region = region_factory(replace(_settings(None), alert_after_min=1.0))
    study = region.study()
    region.reading.finish(study, "r1", region.clock.now, origin="t", report=ReportDraft(TEXT))
    region.clock.now += timedelta(minutes=2)
    assert region.delivery.check_alerts() == 1
    with region.uow() as uow:
        (report,) = ReportRepository(uow.session).of_study(study)
    assert (report.state, report.delivered_at, report.text) == ("final", None, TEXT)


def test_a_report_on_a_study_that_is_not_yours_is_refused_and_audited(
    region_factory: Callable[[ReportingSettings], Region],
) -> None:
    region = region_factory(_settings(None))
    study = region.study(reader="r1")
    with pytest.raises(ReadingRefusedError, match="not yours"):
        region.reports.write(study, "r2", ReportDraft(TEXT), now=region.clock.now, origin="t")
    assert region.audit("report") == [
        {
            "outcome": "refused",
            "reason": "not_yours",
            "message": f"{_handle(region, study)} is not yours to report (it is r1's)",
        }
    ]
    with region.uow() as uow:
        assert ReportRepository(uow.session).of_study(study) == []


def _handle(region: Region, study: str) -> str:
    with region.uow() as uow:
        record = uow.studies.get(study)
    assert record is not None
    return record.name


def test_an_empty_report_is_refused() -> None:
    with pytest.raises(EmptyReportError, match="empty"):
        ReportDraft(" \n\t")


def test_a_draft_is_kept_until_done_signs_it(
    region_factory: Callable[[ReportingSettings], Region], pacs: Orthanc
) -> None:
    region = region_factory(_settings(pacs))
    study = region.study()
    first = region.reports.write(study, "r1", ReportDraft("v1"), now=region.clock.now, origin="t")
    again = region.reports.write(study, "r1", ReportDraft(TEXT), now=region.clock.now, origin="t")
    assert (first.report.id, again.report.state) == (again.report.id, "draft")
    assert region.delivery.deliver_due() == 0  # a draft goes nowhere
    region.reading.finish(study, "r1", region.clock.now, origin="t")
    assert region.delivery.deliver_due() == 2
    assert _findings(_report_instances(pacs, study)["SR"])["Finding"] == TEXT


def test_the_pdf_is_a_readable_pdf(
    region_factory: Callable[[ReportingSettings], Region], pacs: Orthanc
) -> None:
    region = region_factory(_settings(pacs))
    study = region.study()
    region.reading.finish(study, "r1", region.clock.now, origin="t", report=ReportDraft(TEXT))
    region.delivery.deliver_due()
    with region.uow() as uow:
        (report,) = ReportRepository(uow.session).of_study(study)
    path = region.storage / "reports" / study / f"{report.pdf_uid}.dcm"
    from pydicom import dcmread

    document = bytes(dcmread(path).EncapsulatedDocument)
    assert document.startswith(b"%PDF-")
    assert json.dumps(base64.b64encode(document[:8]).decode())
