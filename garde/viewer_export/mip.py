"""The thick-slab maximum intensity projection (MIP) of a CT angiography series.

The slab is the slices within ``slab_mm`` around the middle one. Only grayscale slices
of the series' dominant shape are projected (a scout or a reformat filed in the series
is left out, and the result says so). The maximum is of modality values: taken on the
stored words when the slices share one increasing Modality LUT, else after applying
each slice's own (per-slice rescale, per-frame values of enhanced multi-frame objects).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.viewer_export import grayscale
from garde.viewer_export.chain import grayscale_chain
from garde.viewer_export.colour import is_colour
from garde.viewer_export.errors import PreviewError
from garde.viewer_export.montage import maximum, slab_indices
from garde.viewer_export.pixels import decode_frame
from garde.viewer_export.series import spacing_mm
from garde.viewer_export.thumbnail import pixel_aspect

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    import numpy as np
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

    from garde.viewer_export.grayscale import GrayscaleChain
    from garde.viewer_export.render import SeriesRenderer
    from garde.viewer_export.series import SliceRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _SlabSlice:
    """One decoded grayscale slice of a MIP slab; ``offset`` is its distance to the centre."""

    offset: int
    frame: int
    ds: Dataset
    stored: NDArray[np.generic]
    photometric: str
    chain: GrayscaleChain


def _commonest(
    shapes: Sequence[tuple[int, ...]], preferred: tuple[int, ...] | None
) -> tuple[int, ...] | None:
    """The most frequent shape; a tie goes to ``preferred``, else to the largest."""
    counts = Counter(shapes)
    if not counts:
        return None
    top = max(counts.values())
    tied = [shape for shape, n in counts.items() if n == top]
    if preferred in tied:
        return preferred
    return max(tied, key=math.prod)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _slab(
    load: Callable[[Path], Dataset], refs: Sequence[SliceRef], centre: int, slab_mm: float
) -> tuple[list[_SlabSlice], list[str], int]:
    """The slab's grayscale slices of the series' dominant shape, why others were left out,
    and the slab's size.

    The dominant shape is the commonest in the series' headers; a slice whose decoded
    frame disagrees with the others (a lying header) is left out too.
    """
    indices = slab_indices(len(refs), centre, spacing_mm(refs), slab_mm)
    header_shape = _commonest([r.shape for r in refs if r.shape], refs[centre].shape)
    left_out: list[str] = []
    candidates: list[_SlabSlice] = []
    for i in indices:
        ref = refs[i]
        if header_shape is not None and ref.shape is not None and ref.shape != header_shape:
            left_out.append(f"of {_shape_text(ref.shape)}")
            continue
        ds = load(ref.path)
        try:
            stored, photometric = decode_frame(ds, ref.frame)
        except PreviewError as exc:
            logger.warning(
                "slice %s frame %d left out of the MIP: %s", ref.path.name, ref.frame, exc
            )
            left_out.append("undecodable")
            continue
        if stored.ndim != 2 or is_colour(ds, photometric):
            left_out.append("colour")
            continue
        chain = grayscale_chain(ds, ref.frame)
        candidates.append(_SlabSlice(abs(i - centre), ref.frame, ds, stored, photometric, chain))
    dominant = _commonest([c.stored.shape for c in candidates], header_shape)
    kept = []
    for c in candidates:
        if c.stored.shape == dominant:
            kept.append(c)
        else:
            left_out.append(f"of {_shape_text(c.stored.shape)}")
    return kept, left_out, len(indices)


def _project(renderer: SeriesRenderer, kept: Sequence[_SlabSlice]) -> NDArray[np.uint8]:
    """The maximum of the slab, shown with the VOI of the slice nearest the centre.

    A maximum of stored values equals one of modality values only when every slice maps
    stored values to modality values by the same increasing transform, with words that
    are the values: then it is taken on the stored words (no float maths). Otherwise
    (per-slice rescale, per-frame values of an enhanced multi-frame, a negative slope,
    mixed bit depths) each slice's own Modality LUT is applied first.
    """
    ref = min(kept, key=lambda s: s.offset)
    first = kept[0]
    shared = all(
        s.chain.modality_key() == first.chain.modality_key()
        and s.stored.dtype == first.stored.dtype
        and grayscale.words_are_values(s.chain.pixel, s.stored)
        for s in kept
    )
    if shared and grayscale.increasing(first.chain):
        projected = maximum([s.stored for s in kept])
        return renderer.render_decoded(ref.ds, projected, ref.photometric, ref.frame)
    tables: dict[tuple[object, ...], grayscale.FloatArray] = {}
    values = []
    for s in kept:
        table = None
        if s.stored.dtype.kind in "iu" and grayscale.foldable(s.chain.pixel):
            key = s.chain.modality_key()
            table = tables.get(key)
            if table is None:
                table = tables[key] = grayscale.modality_table(s.chain)
        values.append(grayscale.modality_values(s.chain, s.stored, table))
    projected_values: NDArray[np.floating] = maximum(values)  # type: ignore[assignment]
    return renderer.render_modality(ref.ds, projected_values, ref.frame)


def thick_slab_mip(
    renderer: SeriesRenderer,
    load: Callable[[Path], Dataset],
    slices: Sequence[SliceRef],
    slab_mm: float,
) -> tuple[NDArray[np.uint8], float, str]:
    """Thick-slab MIP around the middle slice, its pixel aspect and a note ("" if whole).

    ``slices`` are the series' in anatomical order; ``load`` parses a file (a cache).

    Slices of another shape than the series' (a scout or a reformat filed in the series)
    or in colour are left out and the note says so.

    Raises
    ------
    PreviewError
        No slice of the slab can be projected.
    """
    refs = list(slices)
    kept, left_out, size = _slab(load, refs, (len(refs) - 1) // 2, slab_mm)
    reasons = ", ".join(f"{n} {what}" for what, n in sorted(Counter(left_out).items()))
    if not kept:
        raise PreviewError(f"none of the {size} slab slices can be projected ({reasons})")
    image = _project(renderer, kept)
    note = ""
    if left_out:
        shape = _shape_text(kept[0].stored.shape)
        note = f"MIP of {len(kept)} of {size} slab slices ({shape}); left out: {reasons}"
    return image, pixel_aspect(min(kept, key=lambda s: s.offset).ds), note
