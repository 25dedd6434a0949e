"""A study's previews: per series a thumbnail, a key image, a montage and (CTA) a thick-slab
MIP, then the static study page that links them.

Files are named by Series Instance UID after checking it is a UID (digits and dots, at
most 64 characters); anything else is replaced by a hash, so network input never becomes
a path unchecked.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from garde.viewer_export import presets as preset_rules
from garde.viewer_export.errors import PreviewError
from garde.viewer_export.image_io import resize, save_image, shrink_factor, write_atomic
from garde.viewer_export.mip import thick_slab_mip
from garde.viewer_export.model import SeriesPreviews, StudyPageInfo, StudyPreviews
from garde.viewer_export.montage import tile
from garde.viewer_export.page import render_page
from garde.viewer_export.pixels import read_dataset
from garde.viewer_export.render import SeriesRenderer
from garde.viewer_export.series import (
    ScannedSeries,
    SliceRef,
    evenly_spaced,
    middle,
    scan_path,
    scan_series,
)
from garde.viewer_export.thumbnail import pixel_aspect

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    import numpy as np
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

    from garde.config.model import PreviewSettings
    from garde.viewer_export.model import Window, WindowPreset

logger = logging.getLogger(__name__)

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True, slots=True)
class ProductSizes:
    """Sizes of the products; `from_settings` reads the optional config fields."""

    thumbnail_px: int = 256
    key_px: int = 512
    montage_slices: int = 16
    montage_tile_px: int = 160
    quality: int = 85
    suffix: str = ".jpg"

    @classmethod
    def from_settings(cls, settings: PreviewSettings) -> ProductSizes:
        """Sizes, quality and format from `PreviewSettings`."""
        return cls(
            thumbnail_px=settings.thumbnail_px,
            key_px=settings.key_px,
            montage_slices=settings.montage_slices,
            montage_tile_px=settings.montage_tile_px,
            quality=settings.quality,
            suffix=".webp" if settings.format.lower() == "webp" else ".jpg",
        )


def safe_name(uid: str) -> str:
    """A file-name-safe stem for a UID: itself if valid, else a hash of it."""
    if len(uid) <= 64 and _UID.match(uid):
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:32]


class _DatasetCache:
    """Keeps the last parsed file: frames of one multi-frame file are read once."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._ds: Dataset | None = None

    def get(self, path: Path) -> Dataset:
        if self._path != path or self._ds is None:
            self._ds, self._path = read_dataset(path), path
        return self._ds


def _render_ref(
    renderer: SeriesRenderer, cache: _DatasetCache, ref: SliceRef, max_px: int | None = None
) -> tuple[NDArray[np.uint8], float]:
    """One slice rendered; box-reduced on the way when only ``max_px`` is needed."""
    ds = cache.get(ref.path)
    aspect = pixel_aspect(ds)
    shrink = 1 if max_px is None else shrink_factor(int(ds.Rows), int(ds.Columns), max_px, aspect)
    return renderer.render(ds, ref.frame, shrink=shrink), aspect


def render_series(
    scanned: ScannedSeries,
    out_dir: Path,
    *,
    sizes: ProductSizes,
    window: Window | None = None,
    mip_slab_mm: float | None = None,
) -> SeriesPreviews:
    """All products of one series into ``out_dir``; the middle slice is rendered once."""
    stem = safe_name(scanned.info.series_uid)
    renderer = SeriesRenderer(window=window)
    cache = _DatasetCache()
    image, aspect = _render_ref(renderer, cache, middle(scanned.slices))
    thumbnail = save_image(
        resize(image, sizes.thumbnail_px, aspect), out_dir / f"{stem}{sizes.suffix}", sizes.quality
    )
    key = save_image(
        resize(image, sizes.key_px, aspect), out_dir / f"{stem}.key{sizes.suffix}", sizes.quality
    )
    montage = None
    if len(scanned.slices) > 1:
        tiles = []
        for ref in evenly_spaced(scanned.slices, sizes.montage_slices):
            tile_image, tile_aspect = _render_ref(renderer, cache, ref, sizes.montage_tile_px)
            tiles.append(resize(tile_image, sizes.montage_tile_px, tile_aspect))
        montage = save_image(tile(tiles), out_dir / f"{stem}.montage{sizes.suffix}", sizes.quality)
    mip = None
    notes: list[str] = []
    if mip_slab_mm is not None and len(scanned.slices) > 2 and image.ndim == 2:
        try:
            mip_image, mip_aspect, note = thick_slab_mip(
                renderer, cache.get, scanned.slices, mip_slab_mm
            )
        except PreviewError as exc:  # the other products stand without it
            logger.warning("series %s: no MIP: %s", scanned.info.series_uid, exc)
            notes.append(f"no MIP: {exc}")
        else:
            mip = save_image(
                resize(mip_image, sizes.key_px, mip_aspect),
                out_dir / f"{stem}.mip{sizes.suffix}",
                sizes.quality,
            )
            if note:
                logger.info("series %s: %s", scanned.info.series_uid, note)
                notes.append(note)
    return SeriesPreviews(
        series_uid=scanned.info.series_uid,
        description=scanned.info.description,
        modality=scanned.info.modality,
        slices=len(scanned.slices),
        thumbnail=thumbnail,
        key_image=key,
        montage=montage,
        mip=mip,
        window=window,
        notes=tuple(notes),
    )


def _failed(series: ScannedSeries, error: str) -> SeriesPreviews:
    """A series listed on the page with why it has no previews."""
    info = series.info
    return SeriesPreviews(
        info.series_uid, info.description, info.modality, len(series.slices), error=error
    )


def _series_order(s: ScannedSeries) -> tuple[bool, int, str]:
    return (s.info.number is None, s.info.number or 0, s.info.series_uid)


def render_scanned(
    scanned: Sequence[ScannedSeries],
    out_dir: Path,
    *,
    settings: PreviewSettings,
    preset: str | None,
    study_info: StudyPageInfo,
    presets: Mapping[str, WindowPreset] | None = None,
    generated: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StudyPreviews:
    """`render_study` on series already scanned (headers read, slices ordered)."""
    table = preset_rules.DEFAULT_PRESETS if presets is None else presets
    sizes = ProductSizes.from_settings(settings)
    results = []
    ordered = sorted(scanned, key=_series_order)
    for n, series in enumerate(ordered, start=1):
        info = series.info
        try:
            chosen = preset_rules.choose(
                table,
                preset,
                modality=info.modality,
                body_part=info.body_part,
                study_description=info.study_description or study_info.description,
                series_description=info.description,
            )
            results.append(
                render_series(
                    series,
                    out_dir,
                    sizes=sizes,
                    window=chosen.window if chosen else None,
                    mip_slab_mm=chosen.mip_slab_mm if chosen else None,
                )
            )
        except PreviewError as exc:
            logger.warning("series %s: no preview: %s", info.series_uid, exc)
            results.append(_failed(series, str(exc)))
        except Exception as exc:
            # A bug, not a bad file: one series' bug must not cost the study its page, so it
            # is logged with its traceback and the series UID, and named on the page.
            logger.exception("series %s: preview failed unexpectedly", info.series_uid)
            results.append(_failed(series, f"internal error ({type(exc).__name__})"))
        if progress is not None:
            progress(n, len(ordered))
    page_html = render_page(
        study_info, results, out_dir, generated=generated or datetime.now(tz=UTC)
    )
    page = write_atomic(out_dir / "index.html", page_html.encode("utf-8"))
    logger.info(
        "study %s: previews of %d series in %s", study_info.study_uid, len(results), out_dir
    )
    return StudyPreviews(study_info.study_uid, page, tuple(results), preset)


def render_study(
    series: Mapping[str, Sequence[Path]],
    out_dir: Path,
    *,
    settings: PreviewSettings,
    preset: str | None,
    study_info: StudyPageInfo,
    presets: Mapping[str, WindowPreset] | None = None,
    generated: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StudyPreviews:
    """Render every product of a study and its static page into ``out_dir``.

    Parameters
    ----------
    series
        Series Instance UID -> that series' DICOM files (any order).
    out_dir
        Where the files go: ``<series>.jpg`` (thumbnail), ``<series>.key.jpg`` (512 px
        middle slice), ``<series>.montage.jpg``, ``<series>.mip.jpg`` (CT angiography
        presets only) and ``index.html``. WebP instead of JPEG when
        ``settings.format == "webp"``.
    settings
        Sizes and quality (`PreviewSettings`).
    preset
        The window preset triage chose (``"stroke"``, ``"cta"``...), or None to choose
        by the study's descriptions and body part, else the files' own windows.
    study_info
        What the page shows: site, priority, SLA deadline... never patient identifiers.
    presets
        The preset table (defaults merged with config); `presets.DEFAULT_PRESETS` if None.
    generated
        The page's "generated at" time (UTC now if None).
    progress
        Called with (series rendered, series) after each series.

    Returns
    -------
    StudyPreviews
        The files written; a series that could not be rendered is listed with its error
        (the page says so) instead of failing the study.
    """
    scanned = []
    for uid, paths in series.items():
        try:
            scanned.append(scan_series(paths))
        except PreviewError as exc:
            logger.warning("series %s: no preview: %s", uid, exc)
    return render_scanned(
        scanned,
        out_dir,
        settings=settings,
        preset=preset,
        study_info=study_info,
        presets=presets,
        generated=generated,
        progress=progress,
    )


def render_path(
    path: Path,
    out_dir: Path,
    settings: PreviewSettings,
    progress: Callable[[int, int], None] | None = None,
    *,
    preset: str | None = None,
    presets: Mapping[str, WindowPreset] | None = None,
) -> StudyPreviews:
    """Render the study found under ``path`` (a DICOM file or a folder) on demand.

    Files are grouped by Series Instance UID; non-DICOM files are skipped. ``progress``
    is called with (done, total): first over the files read, then over the series
    rendered. The page shows the study's own attributes (priority "unknown").

    Raises
    ------
    PreviewError
        No image under ``path``, or images of more than one study (point at one).
    """
    total_files = 0

    def files_progress(done: int, total: int) -> None:
        nonlocal total_files
        total_files = total
        if progress is not None:
            progress(done, total)

    scanned = scan_path(path, files_progress)
    if not scanned:
        raise PreviewError(f"no DICOM image under {path}")
    studies = {s.info.study_uid for s in scanned.values()}
    if len(studies) > 1:
        raise PreviewError(f"{path} holds {len(studies)} studies: point at one study's folder")
    first = next(iter(scanned.values())).info
    info = StudyPageInfo(
        study_uid=first.study_uid,
        site_name="—",
        priority="unknown",
        description=first.study_description,
        accession=first.accession,
        modality=", ".join(sorted({s.info.modality for s in scanned.values() if s.info.modality})),
    )

    def series_progress(done: int, total: int) -> None:
        if progress is not None:
            progress(total_files + done, total_files + total)

    return render_scanned(
        list(scanned.values()),
        out_dir,
        settings=settings,
        preset=preset,
        study_info=info,
        presets=presets,
        progress=series_progress,
    )
