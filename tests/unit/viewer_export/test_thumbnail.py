"""render_series_thumbnail: the middle slice, in anatomical order, written atomically."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import generate_uid

from garde.viewer_export import PreviewError, Window, render_series_thumbnail
from garde.viewer_export.image_io import load_image
from tests.helpers import make_dataset


def _flat_series(folder, values, positions):
    """One series whose slice k is filled with stored value values[k] at z=positions[k]."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    paths = []
    for k, (value, z) in enumerate(zip(values, positions, strict=True)):
        ds = make_dataset(
            study_uid=study, series_uid=series, instance_number=k + 1, rows=32, columns=32
        )
        ds.ImagePositionPatient = [0.0, 0.0, float(z)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelData = np.full((32, 32), 1024 + value, np.uint16).tobytes()
        path = folder / f"f{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def test_middle_slice_by_position_not_file_order(tmp_path):
    # stored 1024 + v - 1024 HU; window 0..255 HU via center 127.5 width 256 -> grey == v
    paths = _flat_series(tmp_path / "s", [10, 250, 130, 50, 200], [40.0, 0.0, 20.0, 30.0, 10.0])
    out = render_series_thumbnail(
        paths, tmp_path / "t.png", size_px=16, window=Window(128.0, 256.0)
    )
    image = load_image(out)
    assert image.shape == (16, 16)
    # sorted by z: 250 (0), 200 (10), 130 (20), 50 (30), 10 (40): the middle is 130
    assert int(image.mean().round()) == 130


def test_instance_number_when_no_geometry(tmp_path):
    paths = _flat_series(tmp_path / "s", [10, 250, 130], [0.0, 1.0, 2.0])
    from pydicom import dcmread

    for number, path in zip([3, 1, 2], paths, strict=True):
        ds = dcmread(path)
        del ds.ImagePositionPatient
        ds.InstanceNumber = number
        ds.save_as(path)
    out = render_series_thumbnail(paths, tmp_path / "t.png", window=Window(128.0, 256.0))
    # order by instance number: 250 (1), 130 (2), 10 (3): middle is 130
    assert int(load_image(out).mean().round()) == 130


def test_jpeg_and_webp_by_suffix(tmp_path):
    paths = _flat_series(tmp_path / "s", [100] * 3, [0.0, 1.0, 2.0])
    jpg = render_series_thumbnail(paths, tmp_path / "a.jpg", size_px=20)
    webp = render_series_thumbnail(paths, tmp_path / "a.webp", size_px=20)
    assert jpg.read_bytes()[:3] == b"\xff\xd8\xff"
    assert webp.read_bytes()[8:12] == b"WEBP"
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_suffix_and_empty_series(tmp_path):
    paths = _flat_series(tmp_path / "s", [100], [0.0])
    with pytest.raises(ValueError, match="suffix"):
        render_series_thumbnail(paths, tmp_path / "a.gif")
    with pytest.raises(PreviewError):
        render_series_thumbnail([], tmp_path / "a.jpg")
