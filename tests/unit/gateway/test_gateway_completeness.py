"""The completeness check: every element whole, Pixel Data as long as declared."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from garde.dicom_gateway.completeness import PixelGeometry, check_complete
from garde.dicom_gateway.errors import IncompleteDatasetError
from tests.helpers import make_dataset
from tests.unit.gateway.encoding import wire

GEOMETRY = PixelGeometry(rows=64, columns=64, samples_per_pixel=1, bits_allocated=16, frames=1)
SYNTAXES = [
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
]


def with_sequence(ds: Dataset) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator = "T-A0100", "SRT"
    ds.AnatomicRegionSequence = Sequence([item])
    return ds


def encapsulated(*, fragments: int = 2) -> Dataset:
    ds = make_dataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([b"\xff\xd8" + b"x" * 300 + b"\xff\xd9"] * fragments)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.NumberOfFrames = fragments
    return ds


@pytest.mark.parametrize("ts", SYNTAXES)
def test_a_whole_dataset_passes(ts):
    pixel = check_complete(wire(with_sequence(make_dataset()), ts), ts, GEOMETRY)
    assert pixel is not None
    assert not pixel.encapsulated
    assert pixel.length == GEOMETRY.expected_bytes


@pytest.mark.parametrize(
    "ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian]
)
@pytest.mark.parametrize("cut", [1, 100, 3000, 8000])
def test_a_truncated_dataset_is_refused_whatever_the_cut(ts, cut):
    data = wire(with_sequence(make_dataset()), ts)
    with pytest.raises(IncompleteDatasetError):
        check_complete(data[:-cut], ts, GEOMETRY)


def test_native_pixel_data_shorter_than_its_geometry_is_refused():
    ds = make_dataset()
    ds.PixelData = ds.PixelData[:-512]  # consistent element length, missing rows
    with pytest.raises(IncompleteDatasetError, match=r"holds 7680 bytes.*need 8192"):
        check_complete(wire(ds, ExplicitVRLittleEndian), ExplicitVRLittleEndian, GEOMETRY)


def test_rows_and_columns_without_pixel_data_are_refused():
    ds = make_dataset()
    del ds.PixelData
    with pytest.raises(IncompleteDatasetError, match="no Pixel Data"):
        check_complete(wire(ds, ExplicitVRLittleEndian), ExplicitVRLittleEndian, GEOMETRY)


def test_a_dataset_without_image_passes_without_geometry():
    ds = make_dataset()
    del ds.PixelData
    assert check_complete(wire(ds, ExplicitVRLittleEndian), ExplicitVRLittleEndian, None) is None


def test_encapsulated_pixel_data_is_walked_fragment_by_fragment():
    data = wire(encapsulated(fragments=3), JPEGBaseline8Bit)
    geometry = PixelGeometry(64, 64, 1, 8, 3)
    pixel = check_complete(data, JPEGBaseline8Bit, geometry)
    assert pixel is not None
    assert pixel.encapsulated
    assert pixel.fragments == 3
    with pytest.raises(IncompleteDatasetError, match="no sequence delimiter"):
        check_complete(data[:-8], JPEGBaseline8Bit, geometry)  # the delimiter lost
    with pytest.raises(IncompleteDatasetError, match="fragment 3 declares 304 bytes"):
        check_complete(data[:-20], JPEGBaseline8Bit, geometry)  # the last fragment cut


def test_a_stray_tail_is_refused():
    data = wire(make_dataset(), ExplicitVRLittleEndian)
    with pytest.raises(IncompleteDatasetError, match="stray bytes"):
        check_complete(data + b"\x00\x01\x02", ExplicitVRLittleEndian, GEOMETRY)


def test_one_bit_images_are_packed():
    assert PixelGeometry(rows=3, columns=5, bits_allocated=1).expected_bytes == 2
