"""One frame of a dataset to display pixels (``uint8`` grey or RGB), with per-series caches.

A `SeriesRenderer` is made per series: the folded grayscale table is built once for the
series (slices normally share slope, intercept and window) and reused for every slice;
when a slice differs, its own table is built and cached too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from garde.viewer_export import grayscale
from garde.viewer_export.chain import chain_signature, grayscale_chain, needs_auto_range
from garde.viewer_export.colour import is_colour, rgb8
from garde.viewer_export.errors import UnsupportedImageError
from garde.viewer_export.overlay import burn_overlays, overlay_groups
from garde.viewer_export.pixels import decode_frame

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pydicom.dataset import Dataset

    from garde.viewer_export.model import Window

_CACHE_LIMIT = 16  # distinct tables per series; a series with more is pathological


@dataclass
class SeriesRenderer:
    """Renders frames of one series with a shared window.

    ``window`` overrides every file's VOI (a preset or an explicit request). When neither it
    nor the files give a window, the min/max of the first frame rendered (the middle slice,
    by the callers' convention) sets one window for the whole series, so slices of a
    montage are comparable.
    """

    window: Window | None = None
    burn_overlays: bool = True
    auto_range: tuple[float, float] | None = None
    _tables: dict[tuple[object, ...], NDArray[np.uint8]] = field(default_factory=dict)
    _signatures: dict[
        tuple[object, ...], tuple[grayscale.GrayscaleChain, NDArray[np.uint8] | None]
    ] = field(default_factory=dict)

    def render(self, ds: Dataset, index: int = 0, *, shrink: int = 1) -> NDArray[np.uint8]:
        """Frame ``index`` of ``ds`` as ``(rows, cols)`` grey or ``(rows, cols, 3)`` RGB.

        ``shrink`` > 1 asks for a grey frame box-reduced by that factor before the lookup
        table (thumbnails); it is ignored (full size returned) where it would be wrong:
        colour, overlays, words with junk high bits. Callers resize what they get.
        """
        stored, photometric = decode_frame(ds, index)
        return self.render_decoded(ds, stored, photometric, index, shrink=shrink)

    def render_decoded(
        self,
        ds: Dataset,
        stored: NDArray[np.generic],
        photometric: str,
        index: int = 0,
        *,
        shrink: int = 1,
    ) -> NDArray[np.uint8]:
        """Like `render`, from an already decoded frame (lets callers time the stages)."""
        if is_colour(ds, photometric):
            image = rgb8(ds, stored, photometric)
        elif self.burn_overlays and overlay_groups(ds):
            image = self.grey(ds, stored, index)
        else:
            return self.grey(ds, stored, index, shrink=shrink)
        if self.burn_overlays:
            image = burn_overlays(ds, image, index)
        return image

    def render_modality(
        self, ds: Dataset, values: NDArray[np.floating], index: int = 0
    ) -> NDArray[np.uint8]:
        """Modality values (a projection across slices) through frame ``index``'s VOI.

        The values already went through each slice's own Modality LUT; the VOI, polarity
        and overlays are those of frame ``index`` of ``ds``, as for a rendered slice.
        """
        chain = grayscale_chain(ds, index, window=self.window, auto_range=self.auto_range)
        identity = replace(chain, slope=1.0, intercept=0.0, modality_lut=None)
        image = grayscale.evaluate(identity, values)
        if self.burn_overlays and overlay_groups(ds):
            image = burn_overlays(ds, image, index)
        return image

    def grey(
        self, ds: Dataset, stored: NDArray[np.generic], index: int = 0, *, shrink: int = 1
    ) -> NDArray[np.uint8]:
        """The grayscale chain on one decoded frame (box-reduced first when ``shrink`` > 1)."""
        if stored.ndim != 2:
            raise UnsupportedImageError(f"grayscale frame has shape {stored.shape}")
        chain, table = self._chain_and_table(ds, stored, index)
        if table is None:
            return grayscale.evaluate(chain, stored.astype(np.float64))
        words: NDArray[np.integer] = stored  # type: ignore[assignment]
        if shrink > 1 and grayscale.words_are_values(chain.pixel, words):
            words = grayscale.box_reduce(words, shrink, bits_stored=chain.pixel.bits_stored)
        return grayscale.apply_table(table, words)

    def _chain_and_table(
        self, ds: Dataset, stored: NDArray[np.generic], index: int
    ) -> tuple[grayscale.GrayscaleChain, NDArray[np.uint8] | None]:
        """The frame's chain and folded table (None: not foldable), cached per signature."""
        signature = chain_signature(ds)
        if signature is not None:
            hit = self._signatures.get((signature, self.window, self.auto_range))
            if hit is not None:
                return hit
        chain = grayscale_chain(ds, index, window=self.window, auto_range=self.auto_range)
        if needs_auto_range(chain):
            self.auto_range = _modality_range(chain, stored)
            chain = grayscale_chain(ds, index, window=self.window, auto_range=self.auto_range)
        table = None
        if stored.dtype.kind in "iu" and grayscale.foldable(chain.pixel):
            key = chain.key()
            table = self._tables.get(key)
            if table is None:
                if len(self._tables) >= _CACHE_LIMIT:
                    self._tables.clear()
                    self._signatures.clear()
                table = self._tables[key] = grayscale.fold(chain)
        if signature is not None:
            if len(self._signatures) >= _CACHE_LIMIT:
                self._signatures.clear()
            self._signatures[signature, self.window, self.auto_range] = (chain, table)
        return chain, table


def _modality_range(
    chain: grayscale.GrayscaleChain, stored: NDArray[np.generic]
) -> tuple[float, float]:
    """Min and max modality values present in the frame."""
    if stored.dtype.kind in "iu" and grayscale.foldable(chain.pixel):
        values = grayscale.stored_values(chain.pixel)
        words = grayscale.raw_words(stored).ravel()  # type: ignore[arg-type]
        present = np.flatnonzero(np.bincount(words, minlength=values.size)[: values.size])
        modality = grayscale.apply_modality(chain, values[present])
    else:
        finite = stored[np.isfinite(stored)] if stored.dtype.kind == "f" else stored
        modality = grayscale.apply_modality(chain, finite.astype(np.float64))
    if modality.size == 0:
        return (0.0, 0.0)
    return (float(modality.min()), float(modality.max()))
