"""Every image among pydicom's shipped test files renders, or fails for a listed reason."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_files

from garde.viewer_export import grayscale
from garde.viewer_export.chain import grayscale_chain
from garde.viewer_export.errors import PreviewError, UnsupportedImageError
from garde.viewer_export.pixels import decode_frame, has_pixels, number_of_frames, read_dataset
from garde.viewer_export.render import SeriesRenderer

# file name -> why it cannot render (a regex over our error message)
EXPECTED_FAILURES = {
    # 12-bit lossy JPEG with a non-conformant scan header: libjpeg rejects it, Pillow has no
    # 12-bit support; pydicom's own tests expect it to fail without GDCM.
    "JPEG-lossy.dcm": r"cannot decode frame 0 \(1\.2\.840\.10008\.1\.2\.4\.51\)",
    # a sequence delimiter inside the JPEG 2000 codestream: corrupt on purpose
    "JPEG2000-embedded-sequence-delimiter.dcm": r"cannot decode frame 0 .*4\.91",
    # Pixel Data shorter than Rows x Columns x Bits Allocated says
    "MR_truncated.dcm": r"number of bytes of pixel data is less than expected",
    # Rows holds "1A": not a number
    "badVR.dcm": r"invalid literal for int",
    # image pixel module incomplete: no Bits Allocated
    "meta_missing_tsyntax.dcm": r"Missing required element: \(0028,0100\)",
    "nested_priv_SQ.dcm": r"Missing required element: \(0028,0100\)",
}


def _image_files() -> list[Path]:
    files = []
    for name in sorted(get_testdata_files()):
        path = Path(name)
        try:
            ds = read_dataset(path, headers_only=False)
        except PreviewError:
            continue
        if has_pixels(ds):
            files.append(path)
    return files


IMAGE_FILES = _image_files()


def test_the_sweep_sees_the_shipped_images():
    assert len(IMAGE_FILES) >= 80
    assert set(EXPECTED_FAILURES) <= {p.name for p in IMAGE_FILES}


@pytest.mark.parametrize("path", IMAGE_FILES, ids=[p.name for p in IMAGE_FILES])
def test_renders_or_fails_clearly(path):
    ds = read_dataset(path)
    frames = number_of_frames(ds)
    if path.name in EXPECTED_FAILURES:
        with pytest.raises(UnsupportedImageError, match=EXPECTED_FAILURES[path.name]):
            SeriesRenderer().render(ds, (frames - 1) // 2)
        return
    for index in sorted({0, (frames - 1) // 2, frames - 1}):
        image = SeriesRenderer().render(ds, index)
        assert image.dtype == np.uint8
        assert image.shape[:2] == (int(ds.Rows), int(ds.Columns))
        assert image.ndim == 2 or image.shape[2] == 3
        if np.ptp(image) == 0:  # allowed only when the file's own window saturates it
            assert _renders_with_min_max(ds, index) or _flat_source(ds, index)


def _flat_source(ds, index) -> bool:
    frame, _ = decode_frame(ds, index)
    return bool(np.ptp(frame) == 0)


def _renders_with_min_max(ds, index) -> bool:
    probe = SeriesRenderer()
    frame, _ = decode_frame(ds, index)
    chain = grayscale_chain(ds, index)
    values = grayscale.apply_modality(chain, frame.astype(np.float64))
    low, high = values.min(), values.max()
    probe.window = grayscale.auto_window(float(low), float(high))
    return bool(np.ptp(probe.render(ds, index)) > 0)


def test_error_messages_name_the_transfer_syntax():
    path = next(p for p in IMAGE_FILES if p.name == "JPEG-lossy.dcm")
    with pytest.raises(UnsupportedImageError) as info:
        SeriesRenderer().render(read_dataset(path))
    assert re.search(r"1\.2\.840\.10008\.1\.2\.4\.51", str(info.value))
