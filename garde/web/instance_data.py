"""What WADO-RS reads out of a stored instance: its metadata as DICOM JSON (bulk data as
``BulkDataURI``), its frames (as stored or uncompressed), rendered frames, bulk data.

Blocking (files, decoding): the application runs these on worker threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom import dcmread
from pydicom.encaps import get_frame
from pydicom.pixels.utils import pixel_array
from pydicom.tag import Tag

from garde.viewer_export.image_io import encode
from garde.viewer_export.render import SeriesRenderer
from garde.web.media import EXPLICIT_LE, NATIVE_SYNTAXES

if TYPE_CHECKING:
    from pathlib import Path

    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

BULK_THRESHOLD = 1024  # bytes: a longer binary value is sent as a BulkDataURI
PIXEL_DATA = 0x7FE00010
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


class FrameError(LookupError):
    """A frame number the instance does not have (answered 404), or no pixel data."""


def metadata(path: Path, instance_url: str) -> dict[str, Any]:
    """The instance's DICOM JSON, every binary value over `BULK_THRESHOLD` bytes and the
    pixel data as a ``BulkDataURI`` under ``instance_url``."""
    ds = dcmread(path, stop_before_pixels=True)
    return metadata_of(ds, instance_url, pixel_vr=_pixel_vr(ds))


def metadata_of(ds: Dataset, instance_url: str, *, pixel_vr: str | None) -> dict[str, Any]:
    """`metadata` of a dataset read without its pixel data (``pixel_vr`` None: none)."""

    def bulk(element: DataElement) -> str:
        return f"{instance_url}/bulk/{int(element.tag):08X}"

    result: dict[str, Any] = ds.to_json_dict(BULK_THRESHOLD, bulk)
    if pixel_vr is not None:
        result[f"{PIXEL_DATA:08X}"] = {
            "vr": pixel_vr,
            "BulkDataURI": f"{instance_url}/bulk/{PIXEL_DATA:08X}",
        }
    return result


def _pixel_vr(ds: Dataset) -> str | None:
    """Whether the stored file has pixel data, and its VR (read up to it only)."""
    if "Rows" not in ds:
        return None
    syntax = str(ds.file_meta.get("TransferSyntaxUID", EXPLICIT_LE))
    if syntax not in NATIVE_SYNTAXES and syntax != "1.2.840.10008.1.2.2":
        return "OB"
    return "OW" if int(ds.get("BitsAllocated", 16)) > 8 else "OB"


def _frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def frames(path: Path, numbers: list[int], syntax: str) -> list[bytes]:
    """Frames ``numbers`` (1-based) as stored (``syntax`` the stored compressed one) or as
    uncompressed little-endian values (``syntax`` explicit VR little endian).

    Raises
    ------
    FrameError
        A frame number past the last, or an instance without pixel data.
    """
    ds = dcmread(path)
    if "PixelData" not in ds:
        raise FrameError("the instance has no pixel data")
    count = _frame_count(ds)
    beyond = [n for n in numbers if not 1 <= n <= count]
    if beyond:
        raise FrameError(f"frame {beyond[0]} does not exist (the instance has {count})")
    stored = str(ds.file_meta.TransferSyntaxUID)
    if stored in NATIVE_SYNTAXES:
        size = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated)
        size //= 8
        data: bytes = ds.PixelData
        return [data[(n - 1) * size : n * size] for n in numbers]
    if syntax == stored:
        return [get_frame(ds.PixelData, n - 1, number_of_frames=count) for n in numbers]
    out = []
    for n in numbers:
        values = pixel_array(ds, index=n - 1)
        out.append(np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<")).tobytes())
    return out


def rendered(path: Path, number: int, media_type: str, quality: int = 90) -> bytes:
    """Frame ``number`` (1-based) rendered for display (its own window), JPEG or PNG.

    Raises
    ------
    FrameError
        A frame that does not exist.
    """
    ds = dcmread(path)
    count = _frame_count(ds)
    if not 1 <= number <= count:
        raise FrameError(f"frame {number} does not exist (the instance has {count})")
    image = SeriesRenderer().render(ds, number - 1)
    return encode(image, "PNG" if media_type == "image/png" else "JPEG", quality)


def bulk(path: Path, tag: int) -> bytes:
    """The value of a top-level element, as stored bytes.

    Raises
    ------
    FrameError
        The instance has no such element.
    """
    ds = dcmread(path)
    element = ds.get(Tag(tag))
    if element is None or element.value is None:
        raise FrameError(f"the instance has no element ({tag >> 16:04X},{tag & 0xFFFF:04X})")
    value = element.value
    if element.VR in _BINARY_VRS and isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")
