"""Patients across hospitals (issue 18, item 3), over real DICOM: dcmtk's storescu pushes
to the gateway from two hospitals' AE titles, the dispatcher routes.

- two studies of one INS from two hospitals: the second goes to the first's reader
  (continuity, though the other reader is less loaded), is audited as linked, and the
  worklist (both read paths) and `explain` name the first;
- two patients with the same name, birth date and even PatientID, no INS: never linked;
- an INS with a bad checksum: not used, logged without its value.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from garde.dicom_gateway.patient import INS_NIR_TEST
from garde.dispatch.explanation import Basis
from garde.dispatch.model import Shift
from garde.services.identity import OPEN_MODE
from garde.services.reading import ReadingService
from garde.services.study_info import StudyInfoService
from garde.store.lean import LeanStore
from tests.helpers import require_executable, write_series
from tests.integration.scheduling.night import T0, settings_for, start_night

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from garde.bootstrap import Runtime
    from garde.dicom_gateway.scp import Gateway

INS = "279035121518989"  # a test INS-NIR: its key (89) is right
BAD_INS = "279035121518988"
NAME, BIRTH = "DUPONT^MARIE", "19790328"
READERS = ("r01", "r05")  # both credentialed everywhere, both read body CT


@pytest.fixture
def night(migrated_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, Gateway]]:
    settings = settings_for(migrated_url, tmp_path)
    # Any free port: the example region's 11112 may be taken by a parallel test.
    settings = replace(settings, gateway=replace(settings.gateway, port=0))
    shifts = [Shift(r, T0 - timedelta(hours=1), T0 + timedelta(hours=10), "night") for r in READERS]
    rt = start_night(settings, shifts)
    gateway = rt.build_gateway()
    gateway.start()
    try:
        yield rt, gateway
    finally:
        gateway.stop()
        rt.close()


def push(tmp_path: Path, gateway: Gateway, aet: str, name: str, **identity: object) -> str:
    """Write a small abdominal CT for this patient, push it with storescu from ``aet``,
    and wait for its indexing (the gateway indexes after its answer)."""
    port = gateway.port
    folder = tmp_path / name
    files = write_series(
        folder,
        2,
        rows=16,
        columns=16,
        description="TDM ABDOMINO-PELVIENNE",
        body_part="ABDOMEN",
        patient_id=str(identity.pop("patient_id", "")),
    )
    for path in files:
        ds = dcmread(path)
        ds.PatientName, ds.PatientBirthDate = NAME, BIRTH
        for keyword, value in identity.items():
            setattr(ds, keyword, value)
        ds.save_as(path)
    run = subprocess.run(
        [require_executable("storescu"), "-aet", aet, "-aec", "GARDE", "127.0.0.1", str(port)]
        + [str(p) for p in files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert gateway.service.flush(timeout=10)
    return str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)


def other_ids(value: str, oid: str = INS_NIR_TEST) -> Sequence:
    """An Other Patient IDs Sequence holding an INS, its issuer as CI-SIS qualifies it."""
    qualifier = Dataset()
    qualifier.UniversalEntityID, qualifier.UniversalEntityIDType = oid, "ISO"
    item = Dataset()
    item.PatientID, item.IssuerOfPatientID = value, "ASIP-SANTE-INS-NIR"
    item.IssuerOfPatientIDQualifiersSequence = Sequence([qualifier])
    item.TypeOfPatientID = "TEXT"
    return Sequence([item])


def dispatch(rt: Runtime, uid: str, minutes: int) -> tuple[str | None, Basis]:
    decision = rt.dispatch.dispatch(uid, T0 + timedelta(minutes=minutes))
    assert decision is not None
    return decision.radiologist_id, decision.explanation.basis


def actions(rt: Runtime, uid: str) -> list[str]:
    with rt.uow() as uow:
        return [e.action for e in uow.audit.for_study(uid)]


def test_one_ins_at_two_hospitals_is_one_patient(night, tmp_path: Path) -> None:
    rt, gateway = night
    first = push(
        tmp_path, gateway, "VILLEFR_CT1", "first", patient_id=INS, IssuerOfPatientID=INS_NIR_TEST
    )
    reader, _ = dispatch(rt, first, 1)
    assert reader in READERS
    other = next(r for r in READERS if r != reader)
    # At Bourg the PatientID is the hospital's own; the INS is among the other IDs.
    second = push(
        tmp_path,
        gateway,
        "BOURG_CT",
        "second",
        patient_id="BOURG-000042",
        IssuerOfPatientID="CH BOURG",
        OtherPatientIDsSequence=other_ids(INS),
    )
    assert dispatch(rt, second, 2) == (reader, Basis.CONTINUITY)  # `other` had less work
    assert "patient.linked" in actions(rt, second)
    with rt.uow() as uow:
        stored = {uid: uow.studies.get(uid) for uid in (first, second)}
        linked = next(e for e in uow.audit.for_study(second) if e.action == "patient.linked")
        rows = {row.study_uid: row for row in uow.studies.worklist(reader)}
    assert stored[first].patient_key == stored[second].patient_key  # type: ignore[union-attr]
    assert linked.detail == {"by": "INS", "studies": [first], "sites": ["h01"], "continuity": True}
    first_name = stored[first].name  # type: ignore[union-attr]
    assert rows[second].linked == (first_name,)
    assert rows[first].linked == (stored[second].name,)  # type: ignore[union-attr]
    with LeanStore(rt.settings.effective_database_url) as lean:
        assert {r.study_uid: r.linked for r in lean.studies.worklist(reader)} == {
            first: (stored[second].name,),  # type: ignore[union-attr]
            second: (first_name,),
        }
    info = StudyInfoService(rt.uow, rt.settings.previews.dir)
    text = info.explain(second, by=OPEN_MODE, now=T0, origin="test").text
    assert f"assigned to {reader}: already reads another study of this patient" in text
    assert "same patient (INS) at other hospitals:" in text
    assert f"  {first_name} (h01, queued, with {reader})" in text
    assert f"  {other} " in text  # a candidate the ranking preferred (less work)
    assert INS not in text


def test_continuity_to_the_first_reader_after_the_first_study_was_read(
    night, tmp_path: Path
) -> None:
    rt, gateway = night
    first = push(
        tmp_path, gateway, "VILLEFR_CT1", "first", patient_id=INS, IssuerOfPatientID=INS_NIR_TEST
    )
    reader, _ = dispatch(rt, first, 1)
    assert reader is not None
    reading = ReadingService(rt.uow, rt.dispatch.board)
    reading.start(first, reader, T0 + timedelta(minutes=2))
    reading.finish(first, reader, T0 + timedelta(minutes=20))
    assert first not in rt.dispatch.board  # read: off the board
    second = push(
        tmp_path,
        gateway,
        "BOURG_CT",
        "second",
        patient_id="B-9",
        OtherPatientIDsSequence=other_ids(INS),
    )
    assert dispatch(rt, second, 25) == (reader, Basis.CONTINUITY)
    assert "patient.linked" in actions(rt, second)


def test_same_name_birth_date_and_patient_id_without_ins_are_never_linked(
    night, tmp_path: Path
) -> None:
    rt, gateway = night
    first = push(tmp_path, gateway, "VILLEFR_CT1", "first", patient_id="IPP-1")
    reader, _ = dispatch(rt, first, 1)
    second = push(tmp_path, gateway, "BOURG_CT", "second", patient_id="IPP-1")
    chosen, basis = dispatch(rt, second, 2)
    assert (chosen, basis) != (reader, Basis.CONTINUITY)
    assert chosen != reader  # the less loaded reader: they are strangers
    assert "patient.linked" not in actions(rt, second)
    with rt.uow() as uow:
        assert uow.studies.linked(second) == []
        assert all(not row.linked for row in uow.studies.worklist(chosen or ""))


def test_an_ins_with_a_bad_checksum_is_not_used_and_logged_without_its_value(
    night, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rt, gateway = night
    first = push(
        tmp_path, gateway, "VILLEFR_CT1", "first", patient_id=INS, IssuerOfPatientID=INS_NIR_TEST
    )
    reader, _ = dispatch(rt, first, 1)
    with caplog.at_level(logging.WARNING, logger="garde.dicom_gateway.intake"):
        second = push(
            tmp_path,
            gateway,
            "BOURG_CT",
            "second",
            patient_id="BOURG-000042",
            OtherPatientIDsSequence=other_ids(BAD_INS),
        )
    chosen, _ = dispatch(rt, second, 2)
    assert chosen != reader
    assert "patient.linked" not in actions(rt, second)
    warnings = [r.getMessage() for r in caplog.records if "INS not used" in r.getMessage()]
    assert len(warnings) == 1  # once per study, not per instance
    assert second in warnings[0]
    assert "bad_checksum" in warnings[0]
    for text in (BAD_INS, INS, "BOURG-000042", "DUPONT", BIRTH):
        assert text not in caplog.text
