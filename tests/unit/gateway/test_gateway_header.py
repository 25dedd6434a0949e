"""Reading a received dataset's header, checking its encoding, hashing the patient."""

from __future__ import annotations

import threading
from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from garde.dicom_gateway.errors import InvalidUIDError, TransferSyntaxMismatchError
from garde.dicom_gateway.header import (
    check_encoding,
    file_meta,
    patient_key,
    read_dataset_header,
    read_header,
)
from tests.helpers import make_dataset
from tests.unit.gateway.encoding import part10, wire


def test_file_meta_records_the_sending_ae_and_reads_back():
    ds = make_dataset()
    meta = file_meta(CTImageStorage, ds.SOPInstanceUID, ExplicitVRLittleEndian, "NORD_CT")
    data = meta + wire(ds, ExplicitVRLittleEndian)
    back = dcmread(__import__("io").BytesIO(data))
    assert back.file_meta.SourceApplicationEntityTitle == "NORD_CT"
    assert back.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert back.PixelData == ds.PixelData  # the bytes as sent, untouched


@pytest.mark.parametrize(
    ("sop", "ts", "ae"),
    [
        ("1.2.3.4", ExplicitVRLittleEndian, "NORD_CT"),  # even / odd lengths both ways
        ("1.2.3.45", ImplicitVRLittleEndian, "SUD"),
        ("1." + "2" * 62, JPEGBaseline8Bit, "A" * 16),
        ("9", DeflatedExplicitVRLittleEndian, "X"),
    ],
)
def test_file_meta_records_the_instance_syntax_and_sending_ae(sop, ts, ae):
    encoded = file_meta(CTImageStorage, sop, ts, ae)
    assert encoded[128:132] == b"DICM"
    meta = dcmread(BytesIO(encoded)).file_meta
    assert meta.MediaStorageSOPClassUID == CTImageStorage
    assert meta.MediaStorageSOPInstanceUID == sop
    assert meta.TransferSyntaxUID == ts
    assert meta.SourceApplicationEntityTitle == ae


def test_file_meta_of_successive_instances_each_carry_their_own_uid():
    # One template per (class, syntax, AE) and thread: only the instance UID changes,
    # and the group length follows the UID's length.
    first = file_meta(CTImageStorage, "1.2.3", ExplicitVRLittleEndian, "NORD_CT")
    second = file_meta(CTImageStorage, "1.2.3." + "4" * 50, ExplicitVRLittleEndian, "NORD_CT")
    third = file_meta(CTImageStorage, "1.2.3", ExplicitVRLittleEndian, "NORD_CT")
    other_ae = file_meta(CTImageStorage, "1.2.3", ExplicitVRLittleEndian, "SUD_MR")
    assert first == third
    assert dcmread(BytesIO(second)).file_meta.MediaStorageSOPInstanceUID == "1.2.3." + "4" * 50
    assert len(second) > len(first)
    assert dcmread(BytesIO(other_ae)).file_meta.SourceApplicationEntityTitle == "SUD_MR"
    assert dcmread(BytesIO(first)).file_meta.SourceApplicationEntityTitle == "NORD_CT"


def test_file_meta_from_concurrent_threads_never_mix_instances():
    failures: list[str] = []

    def encode(prefix: str) -> None:
        for n in range(200):
            sop = f"{prefix}.{n}"
            meta = dcmread(BytesIO(file_meta(CTImageStorage, sop, ExplicitVRLittleEndian, "A")))
            if meta.file_meta.MediaStorageSOPInstanceUID != sop:
                failures.append(sop)

    threads = [threading.Thread(target=encode, args=(f"1.2.{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize(
    "ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, JPEGBaseline8Bit]
)
def test_dataset_header_reads_the_dataset_as_received(ts):
    ds = make_dataset(patient_id="PAT-7", instance_number=12)
    ds.AccessionNumber = "ACC9"
    if ts == JPEGBaseline8Bit:
        ts = ExplicitVRLittleEndian  # encapsulated or not, the header is explicit VR LE
    expected = read_header(part10(ds, ts))
    assert read_dataset_header(wire(ds, ts), ts) == expected
    assert (expected.instance_number, expected.accession_number) == (12, "ACC9")
    assert expected.patient_id == "PAT-7"


def test_dataset_header_reads_from_a_file_position_and_stops_before_the_pixels():
    ds = make_dataset()
    data = wire(ds, ExplicitVRLittleEndian)
    pixels_at = data.index(b"\xe0\x7f\x10\x00")
    fp = BytesIO(b"JUNK" + data[: pixels_at + 12])  # pixel data header only, no value
    fp.seek(4)
    header = read_dataset_header(fp, ExplicitVRLittleEndian)
    assert header.sop_instance_uid == ds.SOPInstanceUID


def test_dataset_header_refuses_a_deflated_dataset():
    ds = make_dataset()
    with pytest.raises(ValueError, match="deflated"):
        read_dataset_header(
            wire(ds, DeflatedExplicitVRLittleEndian), DeflatedExplicitVRLittleEndian
        )


@pytest.mark.parametrize(
    "ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian]
)
def test_encoding_matching_the_context_passes(ts):
    check_encoding(wire(make_dataset(), ts)[:1024], ts)


def test_explicit_dataset_on_implicit_context_is_refused():
    data = wire(make_dataset(), ExplicitVRLittleEndian)
    with pytest.raises(TransferSyntaxMismatchError, match="explicit VR dataset"):
        check_encoding(data[:1024], ImplicitVRLittleEndian)


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, JPEGBaseline8Bit])
def test_implicit_dataset_on_explicit_context_is_refused(ts):
    data = wire(make_dataset(), ImplicitVRLittleEndian)
    with pytest.raises(TransferSyntaxMismatchError, match="implicit VR dataset"):
        check_encoding(data[:1024], ts)


def test_undeflatable_and_truncated_datasets_are_refused():
    with pytest.raises(TransferSyntaxMismatchError):
        check_encoding(b"\xff" * 1024, DeflatedExplicitVRLittleEndian)
    with pytest.raises(TransferSyntaxMismatchError, match="shorter"):
        check_encoding(b"\x08\x00", ExplicitVRLittleEndian)


def test_read_header_copies_facts_and_keeps_patient_id_out_of_repr():
    ds = make_dataset(patient_id="PAT-SECRET-42", instance_number=7)
    ds.AccessionNumber = "ACC1"
    ds.RequestedProcedurePriority = "STAT"
    header = read_header(part10(ds, ExplicitVRLittleEndian))
    assert header.sop_instance_uid == ds.SOPInstanceUID
    assert header.study_uid == ds.StudyInstanceUID
    assert (header.modality, header.instance_number, header.series_number) == ("CT", 7, 1)
    assert header.requested_priority == "STAT"
    assert header.accession_number == "ACC1"
    assert header.patient_id == "PAT-SECRET-42"
    assert "PAT-SECRET" not in repr(header)


def test_read_header_tolerates_bad_integers_and_bounds_texts():
    ds = make_dataset()
    ds.InstanceNumber = "99999999999"
    ds.StudyDescription = "X" * 60
    ds.SeriesDescription = "Y" * 64
    header = read_header(part10(ds, ExplicitVRLittleEndian))
    assert header.instance_number is None
    assert len(header.study_description) <= 256


@pytest.mark.parametrize("bad", ["../../../etc", "1.2.3.abc", "1." + "9" * 70])
def test_hostile_study_uid_is_refused(bad):
    ds = make_dataset()
    ds.StudyInstanceUID = bad
    with pytest.raises(InvalidUIDError, match="StudyInstanceUID"):
        read_header(part10(ds, ExplicitVRLittleEndian))


def test_missing_series_uid_is_refused():
    ds = make_dataset()
    del ds.SeriesInstanceUID
    with pytest.raises(InvalidUIDError, match="SeriesInstanceUID"):
        read_header(part10(ds, ExplicitVRLittleEndian))


def test_patient_key_is_keyed_per_site_and_never_the_id():
    a = patient_key(b"secret", "h1", "PAT-1")
    assert a == patient_key(b"secret", "h1", "PAT-1")
    assert a != patient_key(b"secret", "h2", "PAT-1")
    assert a != patient_key(b"other", "h1", "PAT-1")
    assert len(a) == 64
    assert "PAT-1" not in a
    assert patient_key(b"secret", "h1", "") == ""
