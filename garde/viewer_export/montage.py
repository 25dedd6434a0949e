"""Pure array compositions: a grid of tiles (montage) and a maximum intensity projection."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for ``count`` tiles, wider than tall."""
    if count < 1:
        raise ValueError(f"a montage needs at least one tile, got {count}")
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def tile(images: Sequence[NDArray[np.uint8]], gap: int = 2) -> NDArray[np.uint8]:
    """Lay images out in a near-square grid on black, each centred in its cell.

    Grey and RGB tiles may be mixed: the montage is RGB as soon as one tile is.
    """
    rows, columns = grid_shape(len(images))
    cell_h = max(i.shape[0] for i in images)
    cell_w = max(i.shape[1] for i in images)
    colour = any(i.ndim == 3 for i in images)
    shape: tuple[int, ...] = (
        rows * cell_h + (rows - 1) * gap,
        columns * cell_w + (columns - 1) * gap,
    )
    out = np.zeros((*shape, 3) if colour else shape, dtype=np.uint8)
    for n, image in enumerate(images):
        r, c = divmod(n, columns)
        top = r * (cell_h + gap) + (cell_h - image.shape[0]) // 2
        left = c * (cell_w + gap) + (cell_w - image.shape[1]) // 2
        block = image if not colour or image.ndim == 3 else image[..., None]
        out[top : top + image.shape[0], left : left + image.shape[1]] = block
    return out


def slab_indices(count: int, centre: int, spacing_mm: float | None, slab_mm: float) -> range:
    """Indices of the slices within ``slab_mm`` around ``centre`` (3 slices without spacing)."""
    if spacing_mm is None or spacing_mm <= 0:
        half = 1
    else:
        half = max(round(slab_mm / spacing_mm / 2), 1)
    return range(max(centre - half, 0), min(centre + half + 1, count))


def maximum(frames: Sequence[NDArray[np.generic]]) -> NDArray[np.generic]:
    """Pixel-wise maximum of frames of one shape and dtype (a MIP), in that dtype."""
    if not frames:
        raise ValueError("a MIP needs at least one frame")
    shape, dtype = frames[0].shape, frames[0].dtype
    out = np.array(frames[0], copy=True)
    for frame in frames[1:]:
        if frame.shape != shape:
            raise ValueError(f"MIP frames differ in shape: {frame.shape} vs {shape}")
        if frame.dtype != dtype:
            raise ValueError(f"MIP frames differ in dtype: {frame.dtype} vs {dtype}")
        np.maximum(out, frame, out=out)
    return out
