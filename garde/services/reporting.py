"""Writing the report, signing it, and queueing its return to the hospital (issue 14).

`garde report STUDY --file` keeps a draft while the study is being read (rewritten by a
later `report`, since nothing left yet); `garde done` signs the draft (or the text of
``--report-file``): the SR and/or PDF are built into the storage folder, the ORU^R01
is built, and one outbox row per object and destination is queued, in the same
transaction as the study's move to done, so that a crash loses nothing and queues
nothing twice. A report written after `done` is an addendum: a new object referring to
the first, signed and sent at once. A hospital without a destination keeps the report
(the operator is told); a critical finding also queues the hospital's webhook.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.config.reporting import DestinationKind
from garde.dispatch.model import StudyState
from garde.services.identity import IdentityError, PermissionDeniedError
from garde.services.refusals import ReadingRefusedError, Refusal, record_refused
from garde.store.records import DRAFT, FINAL, ReportRecord

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from pydicom.dataset import Dataset

    from garde.config.reporting import Destination, ReportingSettings
    from garde.reporting.oru import OruContext
    from garde.services.identity import Identity
    from garde.store.ports import Reports, UnitOfWork
    from garde.store.records import StudyRecord

logger = logging.getLogger(__name__)

REPORTS_DIR = "reports"  # under the storage folder: the report objects as sent
MAX_REPORT_CHARS = 60_000


class EmptyReportError(ValueError):
    """A report with no text."""


@dataclass(frozen=True, slots=True)
class ReportDraft:
    """What the radiologist wrote."""

    text: str
    conclusion: str = ""
    critical: bool = False

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise EmptyReportError("the report is empty: write its text first")
        if len(self.text) + len(self.conclusion) > MAX_REPORT_CHARS:
            raise EmptyReportError(f"the report is longer than {MAX_REPORT_CHARS} characters")


@dataclass(frozen=True, slots=True)
class Written:
    """What `write` did: a draft kept, or a report (addendum) signed and queued."""

    report: ReportRecord
    destinations: tuple[str, ...]  # where it goes (empty for a draft)

    @property
    def undeliverable(self) -> bool:
        """Signed, but its hospital has no destination: kept, operators told."""
        return self.report.state == FINAL and not self.destinations


@dataclass
class ReportService:
    """Writes, signs and queues reports; resends them (operators)."""

    uow_factory: Callable[[], UnitOfWork]
    settings: ReportingSettings
    storage_dir: Path
    site_names: dict[str, str]

    # -- a radiologist writes -------------------------------------------------------------
    def write(
        self, study_uid: str, by: str, draft: ReportDraft, *, now: datetime, origin: str
    ) -> Written:
        """Keep ``draft`` for one's study; after `done`, sign and send it as an addendum.

        Raises
        ------
        ReadingRefusedError
            Unknown study, or not the writer's (refused and audited).
        """
        try:
            with self.uow_factory() as uow:
                record = self._own(uow, study_uid, by)
                if record.state is StudyState.DONE:
                    written = self._addendum(uow, record, by, draft, now)
                else:
                    written = Written(self.keep_draft(uow, record, by, draft, now), ())
                uow.audit.append(
                    at=now,
                    actor=by,
                    action="report",
                    study_uid=study_uid,
                    radiologist_id=by,
                    origin=origin,
                    detail={
                        "outcome": "ok",
                        "report": written.report.number,
                        "state": written.report.state,
                        "critical": draft.critical,
                        "destinations": list(written.destinations),
                    },
                )
                uow.commit()
        except ReadingRefusedError as exc:
            with self.uow_factory() as uow:
                uow.audit.append(
                    at=now,
                    actor=by,
                    action="report",
                    study_uid=study_uid,
                    radiologist_id=by,
                    origin=origin,
                    detail={"outcome": "refused", "reason": exc.reason.value, "message": str(exc)},
                )
                uow.commit()
            raise
        self._told(written, record)
        return written

    def keep_draft(
        self,
        uow: UnitOfWork,
        record: StudyRecord,
        by: str,
        draft: ReportDraft,
        now: datetime,
    ) -> ReportRecord:
        """Store ``draft`` as the study's draft (a new one, or the one not yet signed)."""
        repo = uow.reports
        existing = [r for r in repo.of_study(record.study_uid) if r.state == DRAFT]
        if existing:
            repo.rewrite_draft(
                existing[-1].id,
                text=draft.text,
                conclusion=draft.conclusion,
                critical=draft.critical,
                at=now,
            )
            found = repo.get(existing[-1].id)
            assert found is not None
            return found
        finals = [r for r in repo.of_study(record.study_uid) if r.state == FINAL]
        return repo.add(
            record.study_uid,
            author=by,
            text=draft.text,
            conclusion=draft.conclusion,
            critical=draft.critical,
            at=now,
            amends_id=finals[0].id if finals else None,
        )

    def sign(self, uow: UnitOfWork, record: StudyRecord, by: str, now: datetime) -> Written | None:
        """At `done`: sign the study's draft, build its objects and queue them (inside
        the caller's transaction); None if there is no draft."""
        drafts = [r for r in uow.reports.of_study(record.study_uid) if r.state == DRAFT]
        if not drafts:
            return None
        return self._sign(uow, record, drafts[-1], by, now)

    def _addendum(
        self, uow: UnitOfWork, record: StudyRecord, by: str, draft: ReportDraft, now: datetime
    ) -> Written:
        report = self.keep_draft(uow, record, by, draft, now)
        return self._sign(uow, record, report, by, now)

    def _sign(
        self,
        uow: UnitOfWork,
        record: StudyRecord,
        report: ReportRecord,
        by: str,
        now: datetime,
    ) -> Written:
        # highdicom, fpdf2 and hl7 only when a report is signed (the CLI stays quick).
        from pydicom.uid import generate_uid  # noqa: PLC0415

        from garde.reporting.document import ReportContent, build_pdf, build_sr  # noqa: PLC0415
        from garde.reporting.oru import build_oru  # noqa: PLC0415

        repo = uow.reports
        destinations = self.settings.for_site(record.site_id)
        names = {r.id: r.name for r in uow.directory.radiologists(include_inactive=True)}
        content = ReportContent(
            text=report.text,
            conclusion=report.conclusion,
            critical=report.critical,
            author_id=by,
            author_name=names.get(by, by),
            number=report.number,
            at=now,
            institution=self.settings.institution,
        )
        evidence = self._evidence(uow, record.study_uid)
        objects = {o for d in destinations if d.kind is DestinationKind.DICOM for o in d.objects}
        sr_uid = pdf_uid = control_id = None
        files: dict[str, Path] = {}
        if evidence and "sr" in objects:
            sr_uid = generate_uid()
            predecessor = self._first_sr(repo, record.study_uid)
            sr = build_sr(
                evidence,
                content,
                series_uid=generate_uid(),
                sop_uid=sr_uid,
                predecessor=predecessor,
            )
            files["sr"] = self._keep(record.study_uid, sr_uid, sr)
        if evidence and "pdf" in objects:
            pdf_uid = generate_uid()
            title = "Compte rendu d'imagerie" if report.number == 1 else "Addendum au compte rendu"
            pdf = build_pdf(
                evidence[0], content, series_uid=generate_uid(), sop_uid=pdf_uid, title=title
            )
            files["pdf"] = self._keep(record.study_uid, pdf_uid, pdf)
        queued: list[str] = []
        for dest in destinations:
            if dest.kind is DestinationKind.DICOM:
                for obj in dest.objects:
                    if obj in files:
                        uid = sr_uid if obj == "sr" else pdf_uid
                        repo.queue(
                            channel="dicom",
                            destination=dest.key,
                            dedupe_key=str(uid),
                            body=json.dumps({"path": str(files[obj])}),
                            at=now,
                            report_id=report.id,
                            study_uid=record.study_uid,
                        )
                        queued.append(dest.key)
            elif dest.kind is DestinationKind.HL7:
                control_id = control_id or uuid.uuid4().hex[:20]
                message = build_oru(content, self._oru_context(record, evidence, dest, control_id))
                repo.queue(
                    channel="hl7",
                    destination=dest.key,
                    dedupe_key=control_id,
                    body=message,
                    at=now,
                    report_id=report.id,
                    study_uid=record.study_uid,
                )
                queued.append(dest.key)
            elif report.critical:  # a webhook: told of critical findings only
                repo.queue(
                    channel="critical",
                    destination=dest.key,
                    dedupe_key=f"critical-{report.id}",
                    body=json.dumps(
                        {
                            "kind": "critical_finding",
                            "at": now.isoformat(),
                            "payload": {
                                "study_uid": record.study_uid,
                                "study": record.name,
                                "site_id": record.site_id,
                                "accession": record.accession,
                                "radiologist": by,
                                "report": report.number,
                                "conclusion": report.conclusion,
                            },
                        },
                        sort_keys=True,
                    ),
                    at=now,
                    report_id=report.id,
                    study_uid=record.study_uid,
                )
        delivered_to = tuple(dict.fromkeys(queued))
        carried = [d for d in delivered_to if not d.endswith("/critical")]
        repo.finalize(
            report.id,
            now,
            sr_uid=sr_uid,
            pdf_uid=pdf_uid,
            control_id=control_id,
            delivered=False,
        )
        signed = repo.get(report.id)
        assert signed is not None
        if not carried:
            logger.warning(
                "study %s: report %d kept, hospital %s has no report destination",
                record.study_uid,
                report.number,
                record.site_id,
            )
        return Written(signed, delivered_to)

    def _told(self, written: Written, record: StudyRecord) -> None:
        if written.undeliverable:
            logger.warning(
                "study %s: report kept; hospital %s has no report destination (operators: "
                "configure [[reporting.destinations]], then `garde report resend`)",
                record.study_uid,
                record.site_id,
            )

    # -- an operator resends --------------------------------------------------------------
    def resend(self, study_uid: str, *, by: Identity, now: datetime, origin: str) -> int:
        """Send the study's report objects again at once (operators); how many rows.

        Raises
        ------
        LookupError
            The study has no report on its way.
        PermissionDeniedError
            Not an operator.
        """
        try:
            if not by.is_operator:
                raise PermissionDeniedError(f"{by.subject} may not resend reports: operators only")
            with self.uow_factory() as uow:
                record = uow.studies.get(study_uid)
                study = record.name if record is not None else study_uid
                count = uow.reports.resend(study_uid, now)
                if count == 0:
                    raise LookupError(f"study {study} has no signed report to send")  # noqa: TRY301
                uow.audit.append(
                    at=now,
                    actor=by.subject,
                    action="report_resend",
                    study_uid=study_uid,
                    origin=origin,
                    detail={"outcome": "ok", "deliveries": count},
                )
                uow.commit()
        except (IdentityError, LookupError) as exc:
            record_refused(
                self.uow_factory,
                by,
                "report_resend",
                now=now,
                origin=origin,
                exc=exc,
                study_uid=study_uid,
            )
            raise
        return count

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _own(uow: UnitOfWork, study_uid: str, by: str) -> StudyRecord:
        record = uow.studies.get(study_uid)
        if record is None:
            raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
        if record.assignee != by:
            raise ReadingRefusedError(
                f"{record.name} is not yours to report (it is {record.assignee or 'nobody'}'s)",
                Refusal.NOT_YOURS,
            )
        return record

    def _evidence(self, uow: UnitOfWork, study_uid: str) -> list[Dataset]:
        """One stored image header per series: the study's patient and study modules."""
        from pydicom import dcmread  # noqa: PLC0415

        found: list[Dataset] = []
        for series in uow.studies.series(study_uid):
            paths = uow.studies.instance_paths(series.series_uid)
            if paths:
                found.append(dcmread(self.storage_dir / paths[0], stop_before_pixels=True))
        return found

    def _first_sr(self, repo: Reports, study_uid: str) -> Dataset | None:
        from pydicom import dcmread  # noqa: PLC0415

        finals = [r for r in repo.of_study(study_uid) if r.state == FINAL and r.sr_uid]
        if not finals:
            return None
        path = self._path(study_uid, str(finals[0].sr_uid))
        return dcmread(path) if path.is_file() else None

    def _path(self, study_uid: str, sop_uid: str) -> Path:
        # Both UIDs were validated (the study's at intake) or generated here.
        return self.storage_dir / REPORTS_DIR / study_uid / f"{sop_uid}.dcm"

    def _keep(self, study_uid: str, sop_uid: str, ds: Dataset) -> Path:
        """Write the object durably (temp file, fsync, rename) before it is queued."""
        path = self._path(study_uid, sop_uid)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".part")
        ds.save_as(temp, enforce_file_format=True)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        temp.replace(path)
        return path

    def _oru_context(
        self,
        record: StudyRecord,
        evidence: list[Dataset],
        dest: Destination,
        control_id: str,
    ) -> OruContext:
        from garde.reporting.oru import OruContext  # noqa: PLC0415

        first = evidence[0] if evidence else None
        return OruContext(
            control_id=control_id,
            patient_id=str(first.get("PatientID", "")) if first is not None else "",
            issuer=str(first.get("IssuerOfPatientID", "")) if first is not None else "",
            accession=record.accession,
            study_uid=record.study_uid,
            procedure=record.description or record.requested_procedure,
            sending_facility=self.settings.institution,
            receiving_application=dest.receiving_application,
            receiving_facility=dest.receiving_facility,
        )
