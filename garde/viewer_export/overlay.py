"""Overlay planes (60xx groups) burnt into a rendered frame: set bits shown white.

Only overlays stored in Overlay Data (60xx,3000) are drawn; overlays in the unused high
bits of Pixel Data were retired from the standard and are ignored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

logger = logging.getLogger(__name__)


def overlay_groups(ds: Dataset) -> list[int]:
    """The overlay groups (0x6000, 0x6002, ...) that carry Overlay Data."""
    return [g for g in range(0x6000, 0x6020, 2) if (g << 16 | 0x3000) in ds]


def burn(image: NDArray[np.uint8], plane: NDArray[np.integer], origin: tuple[int, int]) -> None:
    """Set ``image`` white where ``plane`` is set, placed at 1-based ``origin`` (row, col)."""
    row0, col0 = origin[0] - 1, origin[1] - 1
    rows, cols = image.shape[:2]
    r_start, c_start = max(row0, 0), max(col0, 0)
    r_end, c_end = min(row0 + plane.shape[0], rows), min(col0 + plane.shape[1], cols)
    if r_end <= r_start or c_end <= c_start:
        return
    mask = plane[r_start - row0 : r_end - row0, c_start - col0 : c_end - col0] != 0
    image[r_start:r_end, c_start:c_end][mask] = 255


def burn_overlays(ds: Dataset, image: NDArray[np.uint8], frame: int = 0) -> NDArray[np.uint8]:
    """``image`` with every overlay of ``ds`` that applies to ``frame`` burnt in (a copy)."""
    groups = overlay_groups(ds)
    if not groups:
        return image
    out = image.copy()
    for group in groups:
        try:
            planes = ds.overlay_array(group)
        except (ValueError, AttributeError, KeyError) as exc:
            logger.warning("overlay group %04X unreadable: %s", group, exc)
            continue
        origin_elem = ds.get((group, 0x0050))
        origin = (
            (1, 1)
            if origin_elem is None
            else (int(origin_elem.value[0]), int(origin_elem.value[1]))
        )
        if planes.ndim == 3:  # multi-frame overlay: Image Frame Origin is 1-based
            first_elem = ds.get((group, 0x0051))
            first = int(first_elem.value) - 1 if first_elem is not None else 0
            if not 0 <= frame - first < planes.shape[0]:
                continue
            planes = planes[frame - first]
        burn(out, planes, origin)
    return out
