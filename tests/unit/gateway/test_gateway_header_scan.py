"""The fast header scan reads what pydicom reads, or says it is unsure."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from garde.dicom_gateway.errors import InvalidUIDError
from garde.dicom_gateway.header import file_meta, header_from_scan, read_header
from garde.dicom_gateway.header_scan import SUPPORTED, ScanUnsureError, scan_header
from tests.helpers import make_dataset
from tests.unit.gateway.encoding import wire

TEST_FILES = sorted((Path(pydicom.__file__).parent / "data" / "test_files").rglob("*.dcm"))


def _wire_of(path: Path) -> tuple[bytes, str, pydicom.Dataset] | None:
    try:
        ds = dcmread(path, stop_before_pixels=True)
        ts = str(ds.file_meta.TransferSyntaxUID)
    except Exception:
        return None
    data = path.read_bytes()
    if data[128:132] != b"DICM" or ts not in SUPPORTED:
        return None
    group_length = int.from_bytes(data[140:144], "little")
    return data[144 + group_length :], ts, ds


def test_scan_agrees_with_pydicom_on_every_shipped_test_file():
    scanned = 0
    for path in TEST_FILES:
        found = _wire_of(path)
        if found is None:
            continue
        body, ts, ds = found
        try:
            expected = read_header(
                BytesIO(file_meta(ds.SOPClassUID, ds.SOPInstanceUID, ts, "X") + body)
            )
        except Exception:
            expected = None  # pydicom cannot file it: the scan must not either
        try:
            got = header_from_scan(scan_header(body, ts))
        except (ScanUnsureError, InvalidUIDError):
            continue
        assert got == expected, path.name
        assert got.patient_id == expected.patient_id, path.name
        scanned += 1
    assert scanned >= 25  # the scan is the common path, not the exception


@pytest.mark.parametrize("ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
def test_scan_reads_a_synthetic_ct_with_sequences(ts):
    ds = make_dataset(patient_id="PAT-42", description="TDM CÉRÉBRALE")
    ds.SpecificCharacterSet = "ISO_IR 100"
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator = "123", "L"
    ds.ProcedureCodeSequence = [item, item]
    body = wire(ds, ts)
    got = header_from_scan(scan_header(body, ts))
    assert got == read_header(BytesIO(file_meta(ds.SOPClassUID, ds.SOPInstanceUID, ts, "X") + body))
    assert got.study_description == "TDM CÉRÉBRALE"
    assert got.patient_id == "PAT-42"


@pytest.mark.parametrize(
    "body",
    [b"", b"\x08\x00", b"\x08\x00\x16\x00UI\xff\xff" + b"1" * 10, b"\xff" * 64],
)
def test_scan_is_unsure_of_junk(body):
    with pytest.raises(ScanUnsureError):
        header_from_scan(scan_header(body, ExplicitVRLittleEndian))


def test_scan_is_unsure_of_other_character_sets():
    ds = make_dataset()
    ds.SpecificCharacterSet = "ISO 2022 IR 87"
    with pytest.raises(ScanUnsureError, match="character set"):
        scan_header(wire(ds, ExplicitVRLittleEndian), ExplicitVRLittleEndian)
