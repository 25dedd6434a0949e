"""Our rendering against the standard's formulas, written out independently here.

PS3.3 C.11.1 (Modality LUT: rescale), C.11.2.1.2 (window: LINEAR, LINEAR_EXACT, SIGMOID),
with output 0..255 and MONOCHROME1 inverted. Covers what dcmtk 3.6.7 cannot check:
LINEAR_EXACT, JPEG 2000 files, enhanced multi-frame per-frame values.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file

from garde.viewer_export import grayscale
from garde.viewer_export.grayscale import GrayscaleChain, PixelFormat
from garde.viewer_export.model import VoiFunction, Window
from garde.viewer_export.pixels import decode_frame, read_dataset
from garde.viewer_export.render import SeriesRenderer
from tests.unit.viewer_export.viewer_fixtures import make_enhanced, make_image


def standard(x: float, c: float, w: float, function: str) -> float:
    """One value through the standard's window, to 0..255 (float)."""
    if function == "LINEAR":
        if x <= c - 0.5 - (w - 1) / 2:
            return 0.0
        if x > c - 0.5 + (w - 1) / 2:
            return 255.0
        return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    if function == "LINEAR_EXACT":
        if x <= c - w / 2:
            return 0.0
        if x > c + w / 2:
            return 255.0
        return ((x - c) / w + 0.5) * 255
    return 255 / (1 + math.exp(-4 * (x - c) / w))


def reference(
    stored: np.ndarray, slope: float, intercept: float, window: Window, invert: bool
) -> np.ndarray:
    out = np.empty(stored.shape, dtype=np.float64)
    for i, v in np.ndenumerate(stored):
        out[i] = standard(
            float(v) * slope + intercept, window.center, window.width, window.function
        )
    grey = np.floor(out + 0.5)
    return (255 - grey if invert else grey).astype(np.uint8)


def test_linear_exact_follows_the_standard():
    ds = make_image("MR16U-LINEAR-EXACT")
    stored, _ = decode_frame(ds)
    ours = SeriesRenderer().render(ds)
    expected = reference(stored, 1.0, 0.0, Window(1200.5, 1.5, VoiFunction.LINEAR_EXACT), False)
    assert np.array_equal(ours, expected)
    assert set(np.unique(ours)) >= {0, 255}  # a narrow exact window still spans black to white


@pytest.mark.parametrize(
    "code", ["CT16S-RESCALE", "CT16U-SLOPE", "MR16U-SIGMOID", "CR12U-WINDOW-M1"]
)
def test_windowed_fixtures_follow_the_standard(code):
    ds = make_image(code)
    stored, _ = decode_frame(ds)
    function = str(ds.get("VOILUTFunction", "LINEAR"))
    window = Window(float(ds.WindowCenter), float(ds.WindowWidth), VoiFunction(function))
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    bits = int(ds.BitsStored)
    if ds.PixelRepresentation:  # sign-extend from Bits Stored
        stored = ((stored.astype(np.int64) & ((1 << bits) - 1)) ^ (1 << (bits - 1))) - (
            1 << (bits - 1)
        )
    expected = reference(
        stored, slope, intercept, window, ds.PhotometricInterpretation == "MONOCHROME1"
    )
    assert np.array_equal(SeriesRenderer().render(ds), expected)


def test_unused_high_bits_are_masked():
    ds = make_image("CT16U-HIGHBITS")
    stored, _ = decode_frame(ds)
    expected = reference(stored & 0x0FFF, 1.0, -1024.0, Window(0, 2000), False)
    assert np.array_equal(SeriesRenderer().render(ds), expected)


def test_enhanced_multiframe_uses_per_frame_rescale_and_window():
    ds = make_enhanced(3)
    for n in range(3):
        stored, _ = decode_frame(ds, n)
        expected = reference(stored, 1.0, -1024.0 + 100 * n, Window(40 + 200 * n, 400), False)
        assert np.array_equal(SeriesRenderer().render(ds, n), expected)


def test_min_max_window_maps_the_extremes_to_black_and_white():
    ds = make_image("US8U-NOWINDOW")
    image = SeriesRenderer().render(ds)
    stored, _ = decode_frame(ds)
    assert image[stored == stored.min()].max() == 0
    assert image[stored == stored.max()].min() == 255
    assert np.all(np.diff(image.ravel().astype(int)) >= 0)  # the ramp stays monotonic


@pytest.mark.parametrize(
    "name",
    ["MR_small_jp2klossless.dcm", "JPEG2000.dcm", "693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm"],
)
def test_jpeg2000_files_follow_the_standard(name):
    """dcmtk cannot decode JPEG 2000: the window is checked against the formula instead."""
    ds = read_dataset(Path(get_testdata_file(name)))
    stored, _ = decode_frame(ds)
    renderer = SeriesRenderer()
    ours = renderer.render(ds)
    if "WindowCenter" in ds:
        window = Window(float(np.ravel(ds.WindowCenter)[0]), float(np.ravel(ds.WindowWidth)[0]))
    else:
        window = grayscale.auto_window(*renderer.auto_range)
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    expected = reference(
        stored, slope, intercept, window, ds.PhotometricInterpretation == "MONOCHROME1"
    )
    assert np.abs(ours.astype(int) - expected).max() == 0


chains = st.builds(
    lambda bits, signed, slope, intercept, center, width, function, invert: GrayscaleChain(
        pixel=PixelFormat(16, bits, signed),
        slope=slope,
        intercept=intercept,
        window=Window(center, max(width, 1.0), function),
        invert=invert,
    ),
    st.integers(8, 16),
    st.booleans(),
    st.sampled_from([1.0, 0.5, 2.0, -1.0]),
    st.floats(-3000, 3000),
    st.floats(-2000, 4000),
    st.floats(1, 5000),
    st.sampled_from(list(VoiFunction)),
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(chains, st.integers(0, 2**32 - 1))
def test_folded_table_equals_pixel_by_pixel_evaluation(chain, seed):
    raw = np.random.default_rng(seed).integers(0, 65536, size=(16, 16), dtype=np.uint16)
    stored = grayscale.stored_values(chain.pixel)[raw]
    folded = grayscale.apply_table(grayscale.fold(chain), raw)
    assert np.array_equal(folded, grayscale.evaluate(chain, stored))


def test_signed_words_index_the_table_through_their_unsigned_view():
    chain = GrayscaleChain(PixelFormat(16, 12, True), window=Window(0, 100))
    signed = np.array([[-2048, -51, 0, 49, 2047]], dtype=np.int16)
    out = grayscale.apply_table(grayscale.fold(chain), signed)
    assert out.tolist() == [[0, 0, 129, 255, 255]]  # (0 + 0.5) / 99 + 0.5 -> 128.8


@pytest.mark.parametrize("dtype", ["<u2", "<i2", "u1"])
@pytest.mark.parametrize("factor", [2, 3])
def test_box_reduce_is_the_rounded_block_mean(dtype, factor):
    info = np.iinfo(np.dtype(dtype))
    raw = (
        np.random.default_rng(factor)
        .integers(info.min, info.max, size=(13, 17), endpoint=True)
        .astype(dtype)
    )
    reduced = grayscale.box_reduce(raw, factor)
    rows, cols = 13 // factor, 17 // factor
    blocks = (
        raw[: rows * factor, : cols * factor].astype(np.float64).reshape(rows, factor, cols, factor)
    )
    expected = np.floor(blocks.mean(axis=(1, 3)) + 0.5)
    assert reduced.dtype == raw.dtype
    assert np.abs(reduced.astype(np.float64) - expected).max() <= 1  # integer rounding of negatives


def test_shrunk_render_is_close_to_full_render_then_box_filter():
    ds = make_image("CT16U-SLOPE")
    full = SeriesRenderer().render(ds).astype(np.float64)
    small = SeriesRenderer().render(ds, shrink=2).astype(np.float64)
    box = full.reshape(24, 2, 32, 2).mean(axis=(1, 3))
    assert small.shape == (24, 32)
    assert np.abs(small - box).mean() < 2  # differs only where a block straddles a window edge


@pytest.mark.parametrize("code", ["CT16U-HIGHBITS", "CT16S-RESCALE"])
def test_reduction_is_skipped_where_words_are_not_plain_values(code):
    # junk above Bits Stored, or a sign bit that is not the word's: full size, caller resizes
    assert SeriesRenderer().render(make_image(code), shrink=2).shape == (48, 64)
