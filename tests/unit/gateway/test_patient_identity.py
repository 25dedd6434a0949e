"""The INS and the patient key (issue 18, item 3): the NIR key check, where DICOM carries
an issuer-qualified INS, and keys that link across hospitals only through a valid INS."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from garde.dicom_gateway.completeness import walk_dataset
from garde.dicom_gateway.header import (
    HEADER_TAGS,
    header_from_elements,
    read_dataset_header,
    read_header,
)
from garde.dicom_gateway.patient import (
    INS_NIR,
    INS_NIR_DEMO,
    INS_NIR_TEST,
    InsProblem,
    PatientIdentity,
    identity_from,
    nir_valid,
)
from tests.helpers import make_dataset
from tests.unit.gateway.encoding import part10, wire

INS = "279035121518989"
SECRET = b"region-secret"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (INS, True),
        ("279035121518988", False),  # wrong key
        ("279032A21518980", True),  # Corsica: 2A counts as 19
        ("279032a21518980", True),
        ("279032B21518980", False),
        ("185057800604830", True),
        ("985057800604830", False),  # no such first digit
        ("27903512151898", False),  # 14 characters
        ("2790351215189890", False),
        ("27903512151898X", False),
    ],
)
def test_nir_key(value: str, valid: bool) -> None:
    assert nir_valid(value) is valid


def _qualified(oid: str) -> Sequence:
    item = Dataset()
    item.UniversalEntityID, item.UniversalEntityIDType = oid, "ISO"
    return Sequence([item])


def _other(value: str, issuer: str = "", oid: str = "") -> Sequence:
    item = Dataset()
    item.PatientID = value
    if issuer:
        item.IssuerOfPatientID = issuer
    if oid:
        item.IssuerOfPatientIDQualifiersSequence = _qualified(oid)
    return Sequence([item])


@pytest.mark.parametrize("oid", [INS_NIR, INS_NIR_TEST, INS_NIR_DEMO])
def test_patient_id_qualified_by_an_ins_oid(oid: str) -> None:
    assert identity_from(INS, oid).ins == f"{oid}^{INS}"
    assert identity_from(INS, "ASIP-SANTE-INS-NIR", _qualified(oid)).ins == f"{oid}^{INS}"


def test_the_ins_among_the_other_patient_ids() -> None:
    found = identity_from("IPP-9", "CH BOURG", None, _other(INS, "ASIP-SANTE-INS-NIR", INS_NIR))
    assert found.ins == f"{INS_NIR}^{INS}"
    assert (found.patient_id, found.issuer) == ("IPP-9", "CH BOURG")
    assert found.ins_problem is None


@pytest.mark.parametrize(
    ("issuer", "oid", "problem"),
    [
        ("", "1.2.250.1.213.1.4.9", InsProblem.UNKNOWN_ISSUER),  # INS-NIA: not accepted
        ("ASIP-SANTE-INS-NIR", "", InsProblem.UNKNOWN_ISSUER),  # says INS, gives no OID
        ("", INS_NIR, InsProblem.BAD_CHECKSUM),
    ],
)
def test_an_unusable_ins_is_not_used(issuer: str, oid: str, problem: InsProblem) -> None:
    value = "279035121518988" if problem is InsProblem.BAD_CHECKSUM else INS
    found = identity_from("IPP-9", "", None, _other(value, issuer, oid))
    assert (found.ins, found.ins_problem) == ("", problem)
    assert value not in repr(found)
    assert "IPP-9" not in repr(found)


def test_a_plain_patient_id_claims_no_ins() -> None:
    found = identity_from("IPP-9", "CH BOURG")
    assert (found.ins, found.ins_problem) == ("", None)


def test_keys_link_across_hospitals_only_through_a_valid_ins() -> None:
    ins = identity_from(INS, INS_NIR)
    assert ins.key(SECRET, "h01") == ins.key(SECRET, "h02")
    assert INS not in ins.key(SECRET, "h01")
    # The same value under the test authority is another identity domain.
    assert identity_from(INS, INS_NIR_TEST).key(SECRET, "h01") != ins.key(SECRET, "h01")
    local = identity_from("IPP-9", "")
    assert local.key(SECRET, "h01") != local.key(SECRET, "h02")
    # With its issuer, a PatientID is another key than without.
    assert identity_from("IPP-9", "CH A").key(SECRET, "h01") != local.key(SECRET, "h01")
    assert PatientIdentity().key(SECRET, "h01") == ""


def _with_identity(*, undefined: bool) -> Dataset:
    ds = make_dataset(patient_id="BOURG-42")
    ds.IssuerOfPatientID = "CH BOURG"
    ds.PatientName, ds.PatientBirthDate = "DUPONT^MARIE", "19790328"
    ds.OtherPatientIDsSequence = _other(INS, "ASIP-SANTE-INS-NIR", INS_NIR)
    item = ds.OtherPatientIDsSequence[0]
    for owner, keyword in (
        (ds, "OtherPatientIDsSequence"),
        (item, "IssuerOfPatientIDQualifiersSequence"),
    ):
        owner[keyword].is_undefined_length = undefined
        for entry in owner[keyword].value:
            entry.is_undefined_length_sequence_item = undefined
    return ds


@pytest.mark.parametrize(
    "ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian]
)
@pytest.mark.parametrize("undefined", [True, False])
def test_every_read_path_finds_the_ins(ts: str, undefined: bool) -> None:
    ds = _with_identity(undefined=undefined)
    data = wire(ds, ts)
    walked = header_from_elements(walk_dataset(data, ts, wanted=HEADER_TAGS).elements, ts)
    for header in (read_header(part10(ds, ts)), read_dataset_header(data, ts), walked):
        assert header.identity.ins == f"{INS_NIR}^{INS}"
        assert header.identity.issuer == "CH BOURG"
        assert INS not in repr(header)
