"""A series' thumbnail: its middle slice, rendered correctly, encoded small."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from garde.viewer_export.image_io import format_for, resize, save_image, shrink_factor
from garde.viewer_export.pixels import read_dataset
from garde.viewer_export.render import SeriesRenderer
from garde.viewer_export.series import middle, scan_series

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pydicom.dataset import Dataset

    from garde.viewer_export.model import Window


def pixel_aspect(ds: Dataset) -> float:
    """Physical height / width of a pixel: Pixel Spacing, else Pixel Aspect Ratio, else 1."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value: Any = ds.get(keyword)
        try:
            row, col = float(value[0]), float(value[1])
        except (TypeError, ValueError, IndexError):
            continue
        if row > 0 and col > 0:
            return row / col
    ratio: Any = ds.get("PixelAspectRatio")
    try:
        vertical, horizontal = float(ratio[0]), float(ratio[1])
    except (TypeError, ValueError, IndexError):
        return 1.0
    return vertical / horizontal if vertical > 0 and horizontal > 0 else 1.0


def render_series_thumbnail(
    paths: Sequence[Path],
    out_path: Path,
    *,
    size_px: int = 256,
    quality: int = 85,
    window: Window | None = None,
) -> Path:
    """Render the middle slice of a series to a small JPEG or WebP file.

    Parameters
    ----------
    paths
        The series' DICOM files, in any order. Slices are ordered along the slice normal
        (Image Position/Orientation (Patient)), else by Instance Number; multi-frame files
        count one slice per frame.
    out_path
        Where to write; the suffix picks the format (``.jpg``, ``.jpeg``, ``.webp``,
        ``.png``). Written through a temporary file and a rename.
    size_px
        The longest side of the thumbnail, in pixels (physical aspect kept).
    quality
        JPEG / WebP quality, 1..100.
    window
        A VOI window overriding the files' own (a preset); by default the file's first
        window, else its VOI LUT, else the slice's min/max.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    garde.viewer_export.errors.PreviewError
        No file holds an image, or the middle slice cannot be decoded (the message says
        why: a missing decoder plugin, a corrupt frame...).
    """
    format_for(out_path)  # fail on a bad suffix before any decoding
    scanned = scan_series(paths)
    ref = middle(scanned.slices)
    ds = read_dataset(ref.path)
    aspect = pixel_aspect(ds)
    shrink = shrink_factor(int(ds.Rows), int(ds.Columns), size_px, aspect)
    image = SeriesRenderer(window=window).render(ds, ref.frame, shrink=shrink)
    return save_image(resize(image, size_px, aspect), out_path, quality)
