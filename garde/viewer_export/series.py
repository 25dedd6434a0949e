"""Slices of a series in anatomical order, and DICOM files grouped by series.

Order: by Image Position (Patient) projected on the slice normal (the cross product of
the Image Orientation (Patient) row and column vectors), which is the anatomical order
whatever the acquisition; else by Instance Number; else by file name. Multi-frame files
contribute one slice per frame, ordered by their per-frame positions when present.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from garde.viewer_export.errors import EmptySeriesError, PreviewError
from garde.viewer_export.pixels import has_pixels, number_of_frames, read_dataset

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from pydicom.dataset import Dataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SliceRef:
    """One frame of one file; ``position`` is along the slice normal, in mm.

    ``shape`` is what the header announces for a decoded frame: (Rows, Columns), plus
    Samples per Pixel when above 1; None when the header does not say.
    """

    path: Path
    frame: int = 0
    position: float | None = None
    instance_number: int | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What the study page says of a series (no patient identifiers)."""

    series_uid: str
    study_uid: str
    modality: str = ""
    description: str = ""
    body_part: str = ""
    number: int | None = None
    study_description: str = ""
    accession: str = ""


def _vector(value: Any, size: int) -> np.ndarray[tuple[int], np.dtype[np.float64]] | None:
    try:
        vec = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return vec if vec.shape == (size,) and np.all(np.isfinite(vec)) else None


def _functional(ds: Dataset, index: int, outer: str, keyword: str) -> Any:
    for groups, i in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        seq = ds.get(groups)
        if seq and i < len(seq):
            inner = seq[i].get(outer)
            if inner and keyword in inner[0]:
                return inner[0].get(keyword)
    return ds.get(keyword)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def frame_shape(ds: Dataset) -> tuple[int, ...] | None:
    """The shape a decoded frame of ``ds`` has, from its header; None when unknown."""
    rows, cols = _int(ds.get("Rows")), _int(ds.get("Columns"))
    if not rows or not cols:
        return None
    samples = _int(ds.get("SamplesPerPixel")) or 1
    return (rows, cols) if samples == 1 else (rows, cols, samples)


def slice_refs(path: Path, ds: Dataset) -> list[SliceRef]:
    """Every frame of one file as a slice, with its position along the normal."""
    refs = []
    number = _int(ds.get("InstanceNumber"))
    shape = frame_shape(ds)
    for frame in range(number_of_frames(ds)):
        ipp = _vector(_functional(ds, frame, "PlanePositionSequence", "ImagePositionPatient"), 3)
        iop = _vector(
            _functional(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        )
        position = None
        if ipp is not None and iop is not None:
            normal = np.cross(iop[:3], iop[3:])
            if np.linalg.norm(normal) > 1e-6:
                position = float(ipp @ normal)
        refs.append(SliceRef(path, frame, position, number, shape))
    return refs


def order(refs: Iterable[SliceRef]) -> list[SliceRef]:
    """Slices in anatomical order (see the module docstring)."""
    refs = list(refs)
    if refs and all(r.position is not None for r in refs):
        return sorted(
            refs, key=lambda r: (r.position, r.instance_number or 0, r.path.name, r.frame)
        )
    return sorted(
        refs,
        key=lambda r: (r.instance_number is None, r.instance_number or 0, r.path.name, r.frame),
    )


def middle(refs: Sequence[SliceRef]) -> SliceRef:
    """The middle slice of an ordered series (the lower middle of an even count)."""
    if not refs:
        raise EmptySeriesError("the series has no image")
    return refs[(len(refs) - 1) // 2]


def evenly_spaced(refs: Sequence[SliceRef], count: int) -> list[SliceRef]:
    """``count`` slices spread evenly from first to last (all of them if fewer)."""
    if count >= len(refs):
        return list(refs)
    if count == 1:
        return [middle(refs)]
    step = (len(refs) - 1) / (count - 1)
    return [refs[round(i * step)] for i in range(count)]


def spacing_mm(refs: Sequence[SliceRef]) -> float | None:
    """The median distance between consecutive slice positions, when known."""
    positions = [r.position for r in refs if r.position is not None]
    if len(positions) < 2 or len(positions) != len(refs):
        return None
    gaps = np.diff(np.asarray(positions))
    value = float(np.median(np.abs(gaps)))
    return value if value > 0 and math.isfinite(value) else None


def series_info(ds: Dataset) -> SeriesInfo:
    """The page-worthy attributes of a series (never the patient's)."""
    return SeriesInfo(
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        modality=str(ds.get("Modality", "") or ""),
        description=str(ds.get("SeriesDescription", "") or ""),
        body_part=str(ds.get("BodyPartExamined", "") or ""),
        number=_int(ds.get("SeriesNumber")),
        study_description=str(ds.get("StudyDescription", "") or ""),
        accession=str(ds.get("AccessionNumber", "") or ""),
    )


@dataclass(frozen=True, slots=True)
class ScannedSeries:
    """One series found on disk: its attributes and ordered slices."""

    info: SeriesInfo
    slices: tuple[SliceRef, ...]

    @property
    def paths(self) -> list[Path]:
        """The files of the series, each once, in slice order."""
        return list(dict.fromkeys(r.path for r in self.slices))


def scan_series(paths: Sequence[Path]) -> ScannedSeries:
    """Read the headers of one series' files and order their slices.

    Files without pixel data (a structured report in the series, say) are skipped.
    """
    refs: list[SliceRef] = []
    info: SeriesInfo | None = None
    for path in paths:
        ds = read_dataset(path, headers_only=True)
        if not has_pixels_header(ds):
            continue
        info = info or series_info(ds)
        refs.extend(slice_refs(path, ds))
    if info is None:
        raise EmptySeriesError(f"none of the {len(paths)} files holds an image")
    return ScannedSeries(info, tuple(order(refs)))


def has_pixels_header(ds: Dataset) -> bool:
    """True when a header-only read shows an image (Rows and Columns, no SR content)."""
    return has_pixels(ds) or ("Rows" in ds and "Columns" in ds)


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def scan_path(
    root: Path, progress: Callable[[int, int], None] | None = None
) -> dict[str, ScannedSeries]:
    """Every image series under ``root`` (a file or a folder), by Series Instance UID.

    Files that are not DICOM are skipped with a debug log line.
    """
    files = _files(root)
    by_series: dict[str, list[tuple[Path, Dataset]]] = {}
    for n, path in enumerate(files, start=1):
        try:
            ds = read_dataset(path, headers_only=True)
        except PreviewError as exc:
            logger.debug("skipping %s: %s", path.name, exc)
            ds = None
        if ds is not None and has_pixels_header(ds) and "SOPClassUID" in ds:
            uid = str(ds.get("SeriesInstanceUID", "") or "") or f"unknown-{path.parent.name}"
            by_series.setdefault(uid, []).append((path, ds))
        if progress is not None:
            progress(n, len(files))
    scanned = {}
    for uid, members in by_series.items():
        refs = [ref for path, ds in members for ref in slice_refs(path, ds)]
        scanned[uid] = ScannedSeries(series_info(members[0][1]), tuple(order(refs)))
    return scanned
