"""Frames of compressed instances (pydicom's test files): as stored when the client takes
the stored transfer syntax, else decoded to the same values pydicom decodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from garde.web import instance_data
from garde.web.media import EXPLICIT_LE


def _file(name: str) -> Path:
    found = get_testdata_file(name)
    assert found is not None
    return Path(str(found))


def test_a_jpeg_frame_is_sent_as_stored_when_asked() -> None:
    path = _file("SC_rgb_jpeg_dcmtk.dcm")
    ds = pydicom.dcmread(path)
    [frame] = instance_data.frames(path, [1], str(ds.file_meta.TransferSyntaxUID))
    assert frame.startswith(b"\xff\xd8")  # a JPEG stream, not decoded
    assert frame in ds.PixelData


def test_an_rle_frame_is_decoded_to_pydicoms_values_otherwise() -> None:
    path = _file("MR_small_RLE.dcm")
    ds = pydicom.dcmread(path)
    [frame] = instance_data.frames(path, [1], EXPLICIT_LE)
    values = np.frombuffer(frame, dtype=ds.pixel_array.dtype.newbyteorder("<"))
    assert np.array_equal(values.reshape(ds.Rows, ds.Columns), ds.pixel_array)


def test_a_frame_past_the_last_is_named() -> None:
    with pytest.raises(instance_data.FrameError, match="frame 2 does not exist"):
        instance_data.frames(_file("MR_small_RLE.dcm"), [2], EXPLICIT_LE)
