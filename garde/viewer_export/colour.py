"""Colour frames to 8-bit RGB: RGB as is, PALETTE COLOR through its LUTs, deep colour scaled.

YBR_FULL / YBR_FULL_422 / YBR_ICT / YBR_RCT arrive already converted to RGB by the
decoder (see `pixels.decode_frame`); planar configuration is undone there too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydicom.pixels.processing import apply_color_lut, convert_color_space

from garde.viewer_export.errors import UnsupportedImageError

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

COLOUR_PHOTOMETRICS = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_422", "PALETTE COLOR"}
)


def is_colour(ds: Dataset, photometric: str) -> bool:
    """True for colour images (three samples per pixel, or a palette)."""
    return photometric in COLOUR_PHOTOMETRICS or int(ds.get("SamplesPerPixel", 1) or 1) == 3


def scale_to_8bit(values: NDArray[np.integer], bits: int) -> NDArray[np.uint8]:
    """Deep colour (e.g. 16-bit RGB, 16-bit palette entries) to 8 bits, rounding."""
    if bits <= 8:
        return values.astype(np.uint8)
    top = (1 << bits) - 1
    return ((values.astype(np.uint64) * 255 + top // 2) // top).astype(np.uint8)


def rgb8(ds: Dataset, frame: NDArray[np.generic], photometric: str) -> NDArray[np.uint8]:
    """A decoded colour frame as ``(rows, columns, 3)`` ``uint8`` RGB."""
    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(frame, ds)
        except (ValueError, AttributeError, KeyError) as exc:
            raise UnsupportedImageError(f"unusable palette colour LUT: {exc}") from exc
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        return scale_to_8bit(rgb, 16 if bits > 8 else 8)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise UnsupportedImageError(f"colour frame has shape {frame.shape}, expected (r, c, 3)")
    if photometric.startswith("YBR") and photometric not in ("YBR_ICT", "YBR_RCT"):
        # the decoder leaves YBR alone when it could not convert (e.g. raw native data)
        frame = convert_color_space(frame, photometric, "RGB")
    bits = int(ds.get("BitsStored", 8) or 8)
    return scale_to_8bit(frame.astype(np.uint64), bits)
