"""The receive path's own decoding agrees with pydicom's: file meta and header."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from garde.dicom_gateway.completeness import walk_dataset
from garde.dicom_gateway.header import (
    HEADER_TAGS,
    IMPLEMENTATION_VERSION,
    file_meta,
    header_from_elements,
    read_dataset_header,
)
from tests.helpers import make_dataset
from tests.unit.gateway.encoding import wire

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


@pytest.mark.parametrize("ae", ["NORD_CT", "ODD"])
@pytest.mark.parametrize("sop", ["1.2.3.4", "1.2.3.45"])  # even and odd lengths
def test_file_meta_is_what_pydicom_writes(ae, sop):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    meta.MediaStorageSOPInstanceUID = UID(sop)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYNETDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    meta.SourceApplicationEntityTitle = ae
    expected = BytesIO()
    expected.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(expected, meta, enforce_standard=True)
    ours = file_meta("1.2.840.10008.5.1.4.1.1.2", sop, ExplicitVRLittleEndian, ae)
    assert ours == expected.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "JPEG2000.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "rtplan.dcm",
    ],
)
def test_the_header_from_the_walk_is_pydicoms(name):
    path = TEST_FILES / name
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    syntax = ds.file_meta.TransferSyntaxUID
    data = path.read_bytes()
    body = data[144 + int.from_bytes(data[140:144], "little") :]
    try:
        expected = read_dataset_header(body, syntax)
    except Exception:
        pytest.skip(f"{name} has no header to compare")
    walk = walk_dataset(body, syntax, wanted=HEADER_TAGS)
    assert header_from_elements(walk.elements, syntax) == expected


@pytest.mark.parametrize("charset", ["ISO_IR 100", "ISO_IR 192", "ISO 2022 IR 100"])
@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_texts_are_decoded_in_the_data_sets_character_set(charset, syntax):
    ds = make_dataset(description="TDM CÉRÉBRALE", series_description="AXIALE ÉPAISSE")
    ds.SpecificCharacterSet = charset
    ds.NumberOfFrames = "1"
    body = wire(ds, syntax)
    walk = walk_dataset(body, syntax, wanted=HEADER_TAGS)
    header = header_from_elements(walk.elements, syntax)
    assert header == read_dataset_header(body, syntax)
    assert header.study_description == "TDM CÉRÉBRALE"
    assert header.geometry is not None
    assert header.geometry.expected_bytes == 64 * 64 * 2


@pytest.mark.parametrize(
    ("series_related", "in_acquisition", "declared"),
    [(None, None, None), (None, 120, 120), (240, 120, 240), (None, 0, None), (-5, 80, 80)],
)
@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_the_declared_number_of_images_is_read_on_both_paths(
    series_related, in_acquisition, declared, syntax
):
    """Number of Series Related Instances (the series) before Images in Acquisition (one
    acquisition); absent or not positive: nothing declared."""
    ds = make_dataset(images_in_acquisition=in_acquisition)
    if series_related is not None:
        ds.add_new(0x00201209, "IS", series_related)
    body = wire(ds, syntax)
    walk = walk_dataset(body, syntax, wanted=HEADER_TAGS)
    header = header_from_elements(walk.elements, syntax)
    assert header == read_dataset_header(body, syntax)
    assert header.declared_images == declared
