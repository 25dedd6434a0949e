"""The report as an HL7 v2.5 ORU^R01 over MLLP to the hospital's RIS (a real MLLP
listener, python-hl7's parser): segments, accents and line breaks, the radiologist,
the accession; an AE answer is an error the operator sees; a critical finding posts
the hospital's webhook at once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from garde.config.reporting import Destination, DestinationKind, ReportingSettings
from garde.reporting.oru import unescape
from garde.services.reporting import ReportDraft
from garde.store.repositories.reports import ReportRepository
from tests.integration.reporting.test_report_to_pacs import Region
from tests.integration.services.webhook_receiver import Receiver
from tests.mllp_listener import MllpListener
from tests.reporting_fixtures import ACCESSION, PATIENT_ID

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

TEXT = "Pas d'hémorragie | ni de fracture.\nŒdème : modéré ^ à suivre & contrôler."


def _ris(port: int, **extra: str) -> ReportingSettings:
    return ReportingSettings(
        destinations=(
            Destination(
                "h1",
                "ris",
                DestinationKind.HL7,
                host="127.0.0.1",
                port=port,
                receiving_application="RIS",
                receiving_facility="CH1",
            ),
            *(
                (Destination("h1", "critical", DestinationKind.WEBHOOK, url=extra["url"]),)
                if "url" in extra
                else ()
            ),
        ),
        backoff_s=60.0,
        timeout_s=3.0,
    )


@pytest.fixture
def region_factory(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> Callable[[ReportingSettings], Region]:
    from tests.integration.reporting.test_report_to_pacs import _directory

    _directory(session_factory)
    storage = tmp_path / "storage"
    storage.mkdir()
    return lambda settings: Region(session_factory, storage, settings)


def test_the_oru_reaches_the_ris_with_its_segments_and_text(
    region_factory: Callable[[ReportingSettings], Region],
) -> None:
    with MllpListener() as ris:
        region = region_factory(_ris(ris.port))
        study = region.study()
        draft = ReportDraft(TEXT, "Rassurant.")
        region.reading.finish(study, "r1", region.clock.now, origin="t", report=draft)
        assert region.delivery.deliver_due() == 1
    (message,) = ris.received
    assert [str(s[0]) for s in message] == ["MSH", "PID", "OBR", "OBX", "OBX", "OBX", "OBX"]
    assert str(message.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    assert str(message.segment("MSH")[12]) == "2.5"
    assert str(message.segment("MSH")[18]) == "UNICODE UTF-8"
    assert str(message.segment("PID")[3][0][0]) == PATIENT_ID
    obr = message.segment("OBR")
    assert str(obr[3]) == ACCESSION
    assert str(obr[25]) == "F"
    assert str(obr[32]) == "r1&Dr Jeanne Lefèvre"
    findings = [unescape(str(s[5])) for s in message.segments("OBX") if "Findings" in str(s[3])]
    assert "\n".join(findings) == TEXT  # accents, line breaks and delimiters intact
    with region.uow() as uow:
        (report,) = ReportRepository(uow.session).of_study(study)
    assert report.delivered_at is not None
    assert str(message.segment("MSH")[10]) == report.control_id


def test_an_ae_answer_is_an_error_shown_to_the_operator_and_retried(
    region_factory: Callable[[ReportingSettings], Region],
) -> None:
    with MllpListener("AE", "patient inconnu") as ris:
        region = region_factory(_ris(ris.port))
        study = region.study()
        region.reading.finish(study, "r1", region.clock.now, origin="t", report=ReportDraft(TEXT))
        region.delivery.deliver_due()
        assert len(ris.received) == 1
    with region.uow() as uow:
        (row,) = ReportRepository(uow.session).deliveries(study)
        states = ReportRepository(uow.session).states([study])
    assert row.state == "failing"
    assert row.last_error == "HL7 AE: patient inconnu"
    assert states == {study: "failing"}


def test_a_critical_finding_posts_the_hospitals_webhook(
    region_factory: Callable[[ReportingSettings], Region],
) -> None:
    with MllpListener() as ris, Receiver() as hook:
        region = region_factory(_ris(ris.port, url=hook.url))
        study = region.study()
        draft = ReportDraft(TEXT, "Hématome sous-dural.", critical=True)
        region.reading.finish(study, "r1", region.clock.now, origin="t", report=draft)
        assert region.delivery.deliver_due() == 2
        (body,) = hook.accepted
    posted = json.dumps(body)
    assert body["kind"] == "critical_finding"
    assert body["payload"]["study_uid"] == study
    assert body["payload"]["conclusion"] == "Hématome sous-dural."
    assert hook.keys == [f"critical-{body['payload']['report']}"] or hook.keys[0].startswith(
        "critical-"
    )
    assert PATIENT_ID not in posted  # ids and UIDs only
    critical_obx = [s for s in ris.received[0].segments("OBX") if "Critical" in str(s[3])]
    assert len(critical_obx) == 1
