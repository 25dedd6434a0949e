"""Decoding: a DICOM file to one frame's stored values, one frame at a time.

Native (uncompressed) little-endian frames of 8 or 16 bits are viewed straight from the
Pixel Data bytes, with no copy; everything else (JPEG, JPEG-LS, JPEG 2000, RLE, deflate,
big endian, odd bit depths, float pixels) goes through pydicom's decoders and the
pylibjpeg plugins. YBR colour is converted to RGB by the decoder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from garde.viewer_export.errors import NoPixelDataError, PreviewError, UnsupportedImageError

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

logger = logging.getLogger(__name__)

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_NATIVE_LE = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian})


def read_dataset(path: Path, *, headers_only: bool = False) -> Dataset:
    """Parse a DICOM file (Part 10, or a bare dataset as some senders write)."""
    try:
        return dcmread(path, stop_before_pixels=headers_only, force=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise PreviewError(f"{path.name}: not a readable DICOM file ({exc})") from exc


def has_pixels(ds: Dataset) -> bool:
    """True when the dataset carries an image."""
    return any(k in ds for k in PIXEL_KEYWORDS)


def number_of_frames(ds: Dataset) -> int:
    """Number of Frames (0028,0008), 1 when absent or empty."""
    value = ds.get("NumberOfFrames")
    try:
        return max(int(value), 1) if value not in (None, "") else 1
    except (TypeError, ValueError):
        return 1


def transfer_syntax(ds: Dataset) -> str:
    """The dataset's Transfer Syntax UID (implicit VR little endian when the meta is absent)."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid) if uid else str(ImplicitVRLittleEndian)


def _raw_us(ds: Dataset, tag: int) -> int | None:
    """A US value read from its raw little-endian bytes (no pydicom conversion), or None.

    Only for native little-endian datasets: converting an element through pydicom costs
    ~10 us, which adds up over the handful read per slice of a 300-slice series.
    """
    if tag not in ds:
        return None
    value = ds.get_item(tag).value
    if isinstance(value, bytes):
        return int.from_bytes(value[:2], "little") if len(value) >= 2 else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _photometric(ds: Dataset) -> str:
    """Photometric Interpretation (MONOCHROME2 when absent), raw bytes decoded directly."""
    if 0x00280004 not in ds:
        return "MONOCHROME2"
    value = ds.get_item(0x00280004).value
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return text.strip(" \x00") or "MONOCHROME2"


def _native_frame(ds: Dataset, index: int) -> NDArray[np.integer] | None:
    """A zero-copy view of one frame when the plain layout allows it, else None."""
    if transfer_syntax(ds) not in _NATIVE_LE or "PixelData" not in ds:
        return None
    if _raw_us(ds, 0x00280002) not in (None, 1):  # Samples per Pixel
        return None
    bits = _raw_us(ds, 0x00280100)  # Bits Allocated
    rows, cols = _raw_us(ds, 0x00280010), _raw_us(ds, 0x00280011)
    if bits not in (8, 16) or not rows or not cols:
        return None
    signed = _raw_us(ds, 0x00280103) == 1  # Pixel Representation
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    data = ds.get_item(0x7FE00010).value
    count = rows * cols
    offset = index * count * dtype.itemsize
    if not isinstance(data, bytes) or len(data) < offset + count * dtype.itemsize:
        return None  # short (or undefined-length) Pixel Data: let pydicom explain
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(rows, cols)


def decode_frame(ds: Dataset, index: int = 0) -> tuple[NDArray[np.generic], str]:
    """One frame's stored values and its photometric interpretation after decoding.

    Grayscale frames keep their stored (raw) values; YBR colour comes back as RGB.

    Raises
    ------
    NoPixelDataError
        The dataset has no Pixel Data.
    UnsupportedImageError
        No decoder is available or decoding failed; the message names the transfer
        syntax and the reason.
    """
    if not has_pixels(ds):
        raise NoPixelDataError("no Pixel Data in the dataset")
    photometric = _photometric(ds)
    native = _native_frame(ds, index)
    if native is not None:
        return native, photometric
    syntax = transfer_syntax(ds)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise UnsupportedImageError(f"no decoder for transfer syntax {syntax}") from exc
    if not decoder.is_available:
        raise UnsupportedImageError(
            f"transfer syntax {syntax} needs a decoder plugin that is not installed "
            f"({', '.join(decoder.missing_dependencies) or 'none available'})"
        )
    try:
        array, meta = decoder.as_array(ds, index=index)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError) as exc:
        raise UnsupportedImageError(f"cannot decode frame {index} ({syntax}): {exc}") from exc
    return array, str(meta.get("photometric_interpretation", photometric))
