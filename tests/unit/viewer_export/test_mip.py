"""The thick-slab MIP and per-series isolation of a study's previews, on real DICOM files.

Every file is synthetic, built here with pydicom (`tests.helpers.make_dataset`): flat
slices whose stored value, rescale and shape are chosen so a wrong MIP shows as a wrong
grey level. With the window C128/W256, a modality value v in 0..255 displays as grey v.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from garde.config.model import PreviewSettings
from garde.viewer_export import StudyPageInfo, Window, render_study
from garde.viewer_export import mip as mip_module
from garde.viewer_export.grayscale import (
    GrayscaleChain,
    PixelFormat,
    evaluate,
    to_grey8,
    window_unit,
)
from garde.viewer_export.image_io import load_image
from garde.viewer_export.montage import maximum
from garde.viewer_export.series import scan_series
from garde.viewer_export.study import ProductSizes, render_series
from tests.helpers import make_dataset, write_series
from tests.unit.viewer_export.viewer_fixtures import COLUMNS, ROWS, make_enhanced

GREY = Window(128.0, 256.0)  # modality value v (0..255) -> grey v
PNG = ProductSizes(thumbnail_px=32, key_px=64, montage_slices=4, montage_tile_px=16, suffix=".png")


def _slice(
    path: Path,
    *,
    study: str,
    series: str,
    z: float,
    stored: int,
    size: int = 64,
    slope: float = 1.0,
    intercept: float = -1024.0,
    signed: bool = False,
) -> Path:
    """One flat CT slice at ``z`` mm (axial), every pixel ``stored``."""
    ds = make_dataset(
        study_uid=study,
        series_uid=series,
        instance_number=int(z) + 1,
        rows=size,
        columns=size,
        series_description="ANGIO TSA",
    )
    ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelRepresentation = int(signed)
    ds.PixelData = np.full((size, size), stored, "<i2" if signed else "<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _grey(hu: float, window: Window) -> int:
    """The grey level the standard's LINEAR window gives modality value ``hu``."""
    return int(to_grey8(window_unit(np.array([hu], dtype=np.float64), window), invert=False)[0])


def _angio_with_odd_slice(folder: Path, study: str) -> tuple[str, list[Path]]:
    """Nine 64x64 slices 1 mm apart and, in the middle, one 32x32 slice brighter than all."""
    folder.mkdir(parents=True)
    series = generate_uid()
    paths = []
    for k in range(9):
        odd = k == 4
        hu = 400 if odd else 120 + 10 * k  # the 64x64 slices peak at 200 HU (k = 8)
        paths.append(
            _slice(
                folder / f"IM{k}.dcm",
                study=study,
                series=series,
                z=k,
                stored=1024 + hu,
                size=32 if odd else 64,
            )
        )
    return series, paths


def test_an_odd_sized_slice_is_left_out_of_the_mip_and_the_page_is_written(
    tmp_path: Path,
) -> None:
    study = generate_uid()
    angio_uid, angio = _angio_with_odd_slice(tmp_path / "angio", study)
    axial = write_series(tmp_path / "axial", 4, study_uid=study)
    out = tmp_path / "out"
    result = render_study(
        {angio_uid: angio, "axial": axial},
        out,
        settings=PreviewSettings(dir=out),
        preset="cta",
        study_info=StudyPageInfo(study, "CH test", "stroke"),
    )
    assert (out / "index.html").is_file()
    by_slices = {s.slices: s for s in result.series}
    assert set(by_slices) == {9, 4}  # both series listed
    series = by_slices[9]
    assert not series.error
    assert series.mip is not None
    assert series.notes == ("MIP of 8 of 9 slab slices (64x64); left out: 1 of 32x32",)
    # the maximum of the 64x64 slices (200 HU), not the left-out 400 HU slice
    mip = load_image(series.mip)
    assert abs(int(np.median(mip)) - _grey(200, Window(170, 600))) <= 1
    page = (out / "index.html").read_text("utf-8")
    assert "left out: 1 of 32x32" in page


@pytest.mark.parametrize(
    ("slices", "expected_hu"),
    [
        pytest.param(  # the fast path: one shared transform
            [{"stored": 1124}, {"stored": 1074}, {"stored": 1224}], 200, id="shared-rescale"
        ),
        pytest.param(  # raw max 1124 is 100 HU; the 200 HU slice has intercept 0
            [{"stored": 1124}, {"stored": 1074}, {"stored": 200, "intercept": 0.0}],
            200,
            id="per-slice-intercept",
        ),
        pytest.param(  # raw max 1100 is 100 HU through slope 0.5
            [
                {"stored": 1124},
                {"stored": 1100, "slope": 0.5, "intercept": -450.0},
                {"stored": 1174},
            ],
            150,
            id="per-slice-slope",
        ),
        pytest.param(  # int16 among uint16: numpy cannot take their maximum in place
            [{"stored": 1124}, {"stored": 1074}, {"stored": 200, "intercept": 0.0, "signed": True}],
            200,
            id="mixed-signedness",
        ),
        pytest.param(  # a decreasing transform: the raw maximum is the lowest value
            [
                {"stored": 1000, "slope": -1.0, "intercept": 1100.0},
                {"stored": 1050, "slope": -1.0, "intercept": 1100.0},
                {"stored": 900, "slope": -1.0, "intercept": 1100.0},
            ],
            200,
            id="negative-slope",
        ),
    ],
)
def test_the_mip_is_the_maximum_of_modality_values(
    tmp_path: Path, slices: list[dict[str, object]], expected_hu: int
) -> None:
    study, series = generate_uid(), generate_uid()
    paths = [
        _slice(tmp_path / f"IM{z}.dcm", study=study, series=series, z=z, **spec)  # type: ignore[arg-type]
        for z, spec in enumerate(slices)
    ]
    result = render_series(
        scan_series(paths), tmp_path / "out", sizes=PNG, window=GREY, mip_slab_mm=15.0
    )
    assert result.mip is not None
    mip = load_image(result.mip)
    assert mip.shape == (64, 64)
    assert np.all(mip == expected_hu)
    assert not result.notes  # every slice of the slab was projected


def test_the_mip_of_an_enhanced_multi_frame_applies_each_frames_rescale(tmp_path: Path) -> None:
    # three frames of one ramp, per-frame intercepts -1024, -924, -824: the MIP is frame 2's
    path = tmp_path / "enhanced.dcm"
    make_enhanced(3).save_as(path, enforce_file_format=True)
    result = render_series(
        scan_series([path]), tmp_path / "out", sizes=PNG, window=GREY, mip_slab_mm=15.0
    )
    assert result.mip is not None
    ramp = np.linspace(0, 4095, ROWS * COLUMNS).round().reshape(ROWS, COLUMNS)
    chain = GrayscaleChain(PixelFormat(16, 12, signed=False), intercept=-824.0, window=GREY)
    expected = evaluate(chain, ramp)
    assert np.array_equal(load_image(result.mip), expected)


def test_a_mip_that_cannot_be_made_leaves_the_other_products(tmp_path: Path) -> None:
    # seven slices, the middle three 32x32: the 3-slice slab holds none of the 64x64 ones
    study, series = generate_uid(), generate_uid()
    paths = [
        _slice(
            tmp_path / f"IM{z}.dcm",
            study=study,
            series=series,
            z=z,
            stored=1124,
            size=32 if 2 <= z <= 4 else 64,
        )
        for z in range(7)
    ]
    result = render_series(
        scan_series(paths), tmp_path / "out", sizes=PNG, window=GREY, mip_slab_mm=1.0
    )
    assert result.mip is None
    assert result.thumbnail is not None
    assert result.montage is not None
    assert result.notes == ("no MIP: none of the 3 slab slices can be projected (3 of 32x32)",)


def test_an_unexpected_error_in_one_series_is_logged_and_the_others_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    study = generate_uid()
    angio_uid, angio = _angio_with_odd_slice(tmp_path / "angio", study)
    axial = write_series(tmp_path / "axial", 4, study_uid=study)

    def broken(frames: object) -> None:
        raise ValueError("a bug in the projection")

    monkeypatch.setattr(mip_module, "maximum", broken)  # only the CTA series has a MIP
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR, logger="garde.viewer_export.study"):
        result = render_study(
            {angio_uid: angio, "axial": axial},
            out,
            settings=replace(PreviewSettings(dir=out), montage_slices=2),
            preset=None,  # "ANGIO" in the description chooses the CTA preset and its MIP
            study_info=StudyPageInfo(study, "CH test", "stroke"),
        )
    by_slices = {s.slices: s for s in result.series}
    assert by_slices[9].error == "internal error (ValueError)"
    assert by_slices[9].thumbnail is None
    assert not by_slices[4].error
    assert by_slices[4].thumbnail is not None
    page = (out / "index.html").read_text("utf-8")
    assert "internal error (ValueError)" in page
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert angio_uid in record.getMessage()
    assert record.exc_info is not None  # the traceback is kept for us


def test_maximum_names_a_dtype_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in dtype"):
        maximum([np.zeros((2, 2), np.uint16), np.zeros((2, 2), np.int16)])
    with pytest.raises(ValueError, match="differ in shape"):
        maximum([np.zeros((2, 2), np.uint16), np.zeros((3, 2), np.uint16)])
