"""Priors over the web (issue 14): a prior is read by whoever may read a study it is a
prior of, and served from the files the priors receiver kept under
``storage/priors/<study>/<prior>/`` (priors are not indexed as studies: never dispatched)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from garde.store.dicomweb_index import InstanceMatch, SeriesMatch

if TYPE_CHECKING:
    from pathlib import Path


def _number(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def instances(
    storage_dir: Path,
    study_uid: str,
    prior_uid: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> list[InstanceMatch]:
    """The kept instances of ``prior_uid`` (a prior of ``study_uid``), in order.

    Both UIDs come from the store's priors rows, never from the request as such."""
    folder = storage_dir / "priors" / study_uid / prior_uid
    found: list[tuple[tuple[int, int, str], InstanceMatch, str, str]] = []
    for path in sorted(folder.glob("*.dcm")) if folder.is_dir() else []:
        try:
            ds = dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError):
            continue
        match = InstanceMatch(
            series_uid=str(ds.get("SeriesInstanceUID", "")),
            sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
            sop_class_uid=str(ds.get("SOPClassUID", "")),
            number=_number(ds.get("InstanceNumber", "")),
            transfer_syntax=str(ds.file_meta.TransferSyntaxUID),
            path=str(path.relative_to(storage_dir)),
            size_bytes=path.stat().st_size,
        )
        if series_uid is not None and match.series_uid != series_uid:
            continue
        if sop_instance_uid is not None and match.sop_instance_uid != sop_instance_uid:
            continue
        key = (_number(ds.get("SeriesNumber", "")) or 0, match.number or 0, match.sop_instance_uid)
        found.append(
            (key, match, str(ds.get("Modality", "")), str(ds.get("SeriesDescription", "")))
        )
    found.sort(key=lambda item: item[0])
    return [m for _, m, _, _ in found]


def series(storage_dir: Path, study_uid: str, prior_uid: str) -> list[SeriesMatch]:
    """The series of a kept prior, with their instance counts."""
    folder = storage_dir / "priors" / study_uid / prior_uid
    heads: dict[str, tuple[int | None, str, str]] = {}
    counts: Counter[str] = Counter()
    for path in sorted(folder.glob("*.dcm")) if folder.is_dir() else []:
        try:
            ds = dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError):
            continue
        uid = str(ds.get("SeriesInstanceUID", ""))
        counts[uid] += 1
        heads.setdefault(
            uid,
            (
                _number(ds.get("SeriesNumber", "")),
                str(ds.get("Modality", "")),
                str(ds.get("SeriesDescription", "")),
            ),
        )
    return sorted(
        (SeriesMatch(uid, n, mod, desc, counts[uid]) for uid, (n, mod, desc) in heads.items()),
        key=lambda s: (s.number or 0, s.series_uid),
    )
