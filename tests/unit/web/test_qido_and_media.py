"""QIDO-RS parameters, Accept negotiation and the patient age: one rule per test."""

from __future__ import annotations

import pytest

from garde.services.study_attributes import age_between, indication_of
from garde.web import media, qido


def test_a_date_range_in_each_form() -> None:
    assert qido.date_range("20261205") == ("20261205", "20261205")
    assert qido.date_range("20261201-20261205") == ("20261201", "20261205")
    assert qido.date_range("-20261205") == ("", "20261205")
    assert qido.date_range("20261201-") == ("20261201", "")


@pytest.mark.parametrize("bad", ["2026-12", "20261205-20261201", "-", "2026120"])
def test_a_malformed_date_names_the_key(bad: str) -> None:
    with pytest.raises(qido.QueryError, match="StudyDate"):
        qido.date_range(bad)


def test_keys_by_keyword_or_tag_and_includefield_in_both_encodings() -> None:
    query = qido.parse(
        [("0020000D", "1.2.3"), ("includefield", "00081030%2C00080060"), ("limit", "5")],
        qido.STUDY_KEYS,
    )
    assert query.matches == {"StudyInstanceUID": "1.2.3"}
    assert query.include == {"StudyDescription", "Modality"}
    assert query.limit == 5


def test_an_unknown_or_unsupported_key_is_refused_with_what_is_supported() -> None:
    with pytest.raises(qido.QueryError, match="Colour: not a DICOM keyword"):
        qido.parse([("Colour", "blue")], qido.STUDY_KEYS)
    with pytest.raises(qido.QueryError, match="supported: AccessionNumber"):
        qido.parse([("BodyPartExamined", "HEAD")], qido.STUDY_KEYS)


def test_a_patient_id_is_matched_through_its_hashed_keys() -> None:
    query = qido.parse([("PatientID", "P1")], qido.STUDY_KEYS)
    found = qido.study_filter(query, lambda pid: (f"h01:{pid}", f"h02:{pid}"))
    assert found.patient_keys == ("h01:P1", "h02:P1")


def test_retrieval_accepts_the_stored_syntax_or_any_and_nothing_else() -> None:
    stored = {"1.2.840.10008.1.2.1"}
    media.accepts_dicom('multipart/related; type="application/dicom"', stored)
    media.accepts_dicom("multipart/related; type=application/dicom; transfer-syntax=*", stored)
    media.accepts_dicom(None, stored)
    with pytest.raises(media.NotAcceptableError, match="no transcoding"):
        media.accepts_dicom(
            'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
            stored,
        )


def test_frames_as_stored_when_any_syntax_is_accepted_else_uncompressed() -> None:
    jpeg = "1.2.840.10008.1.2.4.50"
    ohif = "multipart/related; type=application/octet-stream; transfer-syntax=*"
    assert media.frame_syntax(ohif, jpeg) == jpeg
    assert media.frame_syntax('multipart/related; type="application/octet-stream"', jpeg) == (
        media.EXPLICIT_LE
    )
    assert media.frame_syntax(ohif, media.IMPLICIT_LE) == media.EXPLICIT_LE


def test_the_dicom_age_of_a_patient() -> None:
    assert age_between("19500101", "20261205") == "076Y"
    assert age_between("20260101", "20261205") == "011M"
    assert age_between("20261201", "20261205") == "004D"
    assert age_between("", "20261205") == ""


def test_the_indication_gathers_reason_history_and_comments_once() -> None:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.ReasonForTheRequestedProcedure = "Deficit moteur brutal"
    item = Dataset()
    item.ReasonForTheRequestedProcedure = "Deficit moteur brutal"
    ds.RequestAttributesSequence = [item]
    ds.AdditionalPatientHistory = "AC/FA"
    assert indication_of(ds) == "Deficit moteur brutal / AC/FA"
