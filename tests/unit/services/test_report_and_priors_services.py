"""ReportService and PriorsService on the memory store: a draft is kept and rewritten by
the study's reader only; after the read, a critical addendum is signed and queued to the
hospital's contact (which carries no report: the report stays undeliverable); only
operators resend. A new study of a hospital with a PACS is
looked up once, and a lookup that cannot start is recorded as failed."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from garde.config.reporting import Destination, DestinationKind, PriorsPeer, ReportingSettings
from garde.services.identity import Identity, PermissionDeniedError, Role
from garde.services.priors import PriorsService
from garde.services.refusals import ReadingRefusedError
from garde.services.reporting import ReportDraft, ReportService
from garde.store.records import DRAFT, FINAL
from tests.unit.services.memory_region import SITES, T0, region

if TYPE_CHECKING:
    from pathlib import Path

    from garde.reporting.priors import PriorsReceiver
    from tests.unit.services.memory_region import Region

LATER = T0 + timedelta(minutes=5)
CONTACT = Destination("h01", "contact", DestinationKind.WEBHOOK, url="http://127.0.0.1:1/")


def _header(path: Path, uid: str) -> None:
    """A stored image header: what a report's objects take the patient from."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = f"{uid}.1.0"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = f"{uid}.1.0"
    ds.StudyInstanceUID = uid
    ds.SeriesInstanceUID = f"{uid}.1"
    ds.PatientID = "P-1"
    ds.Modality = "CT"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _assigned(r: Region) -> tuple[str, str]:
    uid = r.receive("scanner abdominal")
    r.dispatch.sweep(LATER)
    return uid, r.study(uid).assignee


def _reports(r: Region, tmp_path: Path) -> ReportService:
    settings = ReportingSettings(destinations=(CONTACT,))
    return ReportService(r.store.uow_factory, settings, tmp_path, {s.id: s.name for s in SITES})


def test_a_draft_is_kept_then_rewritten_by_the_reader_only(tmp_path: Path) -> None:
    r = region()
    uid, owner = _assigned(r)
    service = _reports(r, tmp_path)
    first = service.write(uid, owner, ReportDraft("normal"), now=LATER, origin="cli")
    again = service.write(uid, owner, ReportDraft("nothing acute"), now=LATER, origin="cli")
    assert (first.report.id, again.report.state, again.report.text) == (
        again.report.id,
        DRAFT,
        "nothing acute",
    )
    assert again.destinations == ()
    with pytest.raises(ReadingRefusedError, match="not yours to report"):
        service.write(uid, "r09", ReportDraft("mine?"), now=LATER, origin="cli")
    assert r.actions(uid)[-3:] == [("report", "ok"), ("report", "ok"), ("report", "refused")]


def test_a_critical_addendum_after_the_read_is_signed_and_sent_to_the_contact(
    tmp_path: Path,
) -> None:
    r = region()
    uid, owner = _assigned(r)
    _header(tmp_path / uid / "0.dcm", uid)
    r.reading.start(uid, owner, LATER)
    r.reading.finish(uid, owner, LATER + timedelta(minutes=10), "RPT-1")
    service = _reports(r, tmp_path)
    draft = ReportDraft("bleed", conclusion="subdural haematoma", critical=True)
    written = service.write(uid, owner, draft, now=LATER + timedelta(minutes=11), origin="cli")
    assert written.report.state == FINAL
    assert written.undeliverable  # a contact is told of critical findings, not sent reports
    with r.store.uow_factory() as uow:
        [critical] = uow.reports.deliveries(uid)
        assert (critical.channel, critical.dedupe_key) == (
            "critical",
            f"critical-{written.report.id}",
        )
        assert uow.reports.states([uid]) == {uid: "sending"}


def test_only_operators_resend_and_only_what_was_signed(tmp_path: Path) -> None:
    r = region()
    uid, owner = _assigned(r)
    service = _reports(r, tmp_path)
    with pytest.raises(PermissionDeniedError, match="operators only"):
        service.resend(uid, by=Identity(owner, Role.RADIOLOGIST), now=LATER, origin="cli")
    with pytest.raises(LookupError, match="no signed report"):
        service.resend(uid, by=Identity("ops", Role.OPERATOR), now=LATER, origin="cli")
    assert [a for a, _ in r.actions(uid)][-2:] == ["report_resend", "report_resend"]


class _NoReceiver:
    """No lookup here reaches the network: nothing is received."""

    def close(self) -> None:
        return None


def test_a_new_study_is_looked_up_once_and_a_lookup_that_cannot_start_fails(
    tmp_path: Path,
) -> None:
    r = region()
    uid = r.receive("scanner cerebral")  # no image stored: nothing to query with
    peer = PriorsPeer("h01", "127.0.0.1", 1, "PACS")
    receiver: PriorsReceiver = _NoReceiver()  # type: ignore[assignment]
    service = PriorsService(
        r.store.uow_factory,
        ReportingSettings(priors=(peer,)),
        tmp_path,
        receiver,
        clock=lambda: LATER,
    )
    assert service.run_due() == 1
    assert service.run_due() == 0  # once
    with r.store.uow_factory() as uow:
        assert uow.priors.unlooked(["h01"], T0 - timedelta(hours=1)) == []
        assert uow.priors.of_study(uid) == []
