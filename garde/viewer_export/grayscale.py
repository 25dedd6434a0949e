"""The grayscale chain as pure ``ndarray -> ndarray`` steps, folded into one lookup table.

Stored value -> Modality LUT (rescale or LUT) -> VOI (window or LUT) -> polarity
(MONOCHROME1 / INVERSE) -> 8 bits. For integer pixels of at most 16 bits allocated the
whole chain is evaluated once over every possible stored bit pattern, giving a
``uint8`` table indexed by the raw (unsigned view of the) pixel: rendering a frame is
then one ``take``. Unused high bits are masked and signed values sign-extended inside
the table, so the decoder's raw words index it directly. The formulas are PS3.3
C.11.1 (Modality LUT) and C.11.2 (VOI LUT, window LINEAR / LINEAR_EXACT / SIGMOID).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from garde.viewer_export.model import VoiFunction, Window

if TYPE_CHECKING:
    from numpy.typing import NDArray

FloatArray = np.ndarray[tuple[int, ...], np.dtype[np.float64]]
MAX_TABLE_BITS = 16  # 65536 entries: beyond that, compute per pixel


@dataclass(frozen=True, slots=True, eq=False)
class LookupTable:
    """A DICOM LUT (LUT Descriptor + LUT Data): ``first_mapped`` is the first input value."""

    first_mapped: int
    bits: int  # nominal bits of each entry (LUT Descriptor's third value)
    data: NDArray[np.integer]

    def __post_init__(self) -> None:
        if self.data.ndim != 1 or self.data.size == 0:
            raise ValueError("LUT data must be a non-empty 1-D array")
        if not 1 <= self.bits <= 16:
            raise ValueError(f"LUT entries of {self.bits} bits are not supported")

    def key(self) -> tuple[int, int, bytes]:
        """A hashable identity, so equal LUTs share one folded table."""
        return (self.first_mapped, self.bits, self.data.tobytes())

    def lookup(self, values: NDArray[np.floating] | NDArray[np.integer]) -> FloatArray:
        """Map input values through the LUT; outside values clamp to the first/last entry."""
        index = np.clip(np.rint(values) - self.first_mapped, 0, self.data.size - 1)
        out: FloatArray = self.data.astype(np.float64).take(index.astype(np.intp))
        return out


@dataclass(frozen=True, slots=True)
class PixelFormat:
    """How stored values are encoded: Bits Allocated/Stored and Pixel Representation."""

    bits_allocated: int
    bits_stored: int
    signed: bool

    def __post_init__(self) -> None:
        if not 1 <= self.bits_stored <= self.bits_allocated:
            raise ValueError(
                f"bits stored {self.bits_stored} must be within 1..{self.bits_allocated}"
            )


@dataclass(frozen=True, slots=True)
class GrayscaleChain:
    """Everything between a stored value and its grey level.

    ``modality_lut`` wins over slope/intercept when both are given (PS3.3 C.11.1 forbids
    both). ``window`` wins over ``voi_lut`` (Garde shows the technologist's first window
    by default); with neither, ``auto_range`` (min, max of the modality values) becomes a
    LINEAR window whose ends map exactly to black and white.
    """

    pixel: PixelFormat
    slope: float = 1.0
    intercept: float = 0.0
    modality_lut: LookupTable | None = None
    window: Window | None = None
    voi_lut: LookupTable | None = None
    invert: bool = False
    auto_range: tuple[float, float] | None = None

    def key(self) -> tuple[object, ...]:
        """A hashable identity for caching folded tables."""
        return (
            *self.modality_key(),
            self.window,
            self.voi_lut.key() if self.voi_lut else None,
            self.invert,
            self.auto_range,
        )

    def modality_key(self) -> tuple[object, ...]:
        """The identity of the stored value -> modality value part alone."""
        return (
            self.pixel,
            self.slope,
            self.intercept,
            self.modality_lut.key() if self.modality_lut else None,
        )


def stored_values(pixel: PixelFormat) -> NDArray[np.int64]:
    """The stored value of every raw bit pattern 0 .. 2**bits_allocated - 1.

    Bits above Bits Stored are masked off; signed values are sign-extended from the
    high bit (Bits Stored - 1), as the standard's Pixel Representation says.
    """
    raw = np.arange(1 << pixel.bits_allocated, dtype=np.int64)
    values = raw & ((1 << pixel.bits_stored) - 1)
    if pixel.signed:
        sign = 1 << (pixel.bits_stored - 1)
        values = (values ^ sign) - sign
    return values


def apply_modality(
    chain: GrayscaleChain, values: NDArray[np.floating] | NDArray[np.integer]
) -> FloatArray:
    """Stored values -> modality values (Hounsfield units for CT)."""
    if chain.modality_lut is not None:
        return chain.modality_lut.lookup(values)
    out = values.astype(np.float64)
    if chain.slope != 1.0:
        out *= chain.slope
    if chain.intercept != 0.0:
        out += chain.intercept
    return out


def window_unit(values: FloatArray, window: Window) -> FloatArray:
    """VOI window to [0, 1] per PS3.3 C.11.2.1.2 (output range 0..1 instead of ymin..ymax)."""
    c, w = window.center, window.width
    if window.function is VoiFunction.SIGMOID:
        # clip the exponent: exp(>709) overflows, and past 60 the result is 0 or 1 anyway
        return 1.0 / (1.0 + np.exp(np.clip(-4.0 * (values - c) / w, -60.0, 60.0)))
    if window.function is VoiFunction.LINEAR_EXACT:
        return np.clip((values - c) / w + 0.5, 0.0, 1.0)
    # LINEAR: x <= c - 0.5 - (w-1)/2 -> 0; x > c - 0.5 + (w-1)/2 -> 1; linear between.
    if w == 1.0:  # a threshold: the formula's slope is infinite
        return np.where(values > c - 0.5, 1.0, 0.0)
    return np.clip((values - (c - 0.5)) / (w - 1.0) + 0.5, 0.0, 1.0)


def auto_window(low: float, high: float) -> Window:
    """A LINEAR window whose ``low`` maps to black and ``high`` to white (dcmtk's +Wm)."""
    if high <= low:
        return Window(center=low + 0.5, width=1.0)  # flat image: everything mid-grey/black
    return Window(center=(low + high + 1.0) / 2.0, width=high - low + 1.0)


def apply_voi(chain: GrayscaleChain, values: FloatArray) -> FloatArray:
    """Modality values -> [0, 1] by the window, the VOI LUT, or the min/max range."""
    if chain.window is not None:
        return window_unit(values, chain.window)
    if chain.voi_lut is not None:
        top = float((1 << chain.voi_lut.bits) - 1)
        return np.clip(chain.voi_lut.lookup(values) / top, 0.0, 1.0)
    low, high = chain.auto_range or (values.min(), values.max())
    return window_unit(values, auto_window(float(low), float(high)))


def increasing(chain: GrayscaleChain) -> bool:
    """True when the modality transform never decreases (a maximum commutes with it)."""
    if chain.modality_lut is not None:
        return bool(np.all(np.diff(chain.modality_lut.data.astype(np.int64)) >= 0))
    return chain.slope > 0


def modality_table(chain: GrayscaleChain) -> FloatArray:
    """The modality value of every raw word (see `stored_values`); integer pixels only."""
    return apply_modality(chain, stored_values(chain.pixel))


def modality_values(
    chain: GrayscaleChain,
    stored: NDArray[np.generic],
    table: FloatArray | None = None,
) -> FloatArray:
    """A frame's modality values; integer words are masked and sign-extended as `fold` does.

    ``table`` is `modality_table` of ``chain``, when the caller already has it.
    """
    if stored.dtype.kind in "iu" and foldable(chain.pixel):
        lookup = modality_table(chain) if table is None else table
        words = raw_words(stored)  # type: ignore[arg-type]
        if words.dtype.itemsize * 8 > chain.pixel.bits_allocated:
            words = words & np.asarray(lookup.size - 1, dtype=words.dtype)
        out: FloatArray = lookup.take(words)
        return out
    return apply_modality(chain, stored)  # type: ignore[arg-type]


def to_grey8(unit: FloatArray, *, invert: bool) -> NDArray[np.uint8]:
    """[0, 1] -> 0..255, rounding half up; MONOCHROME1 / INVERSE turn it around."""
    grey = np.floor(unit * 255.0 + 0.5)
    if invert:
        grey = 255.0 - grey
    return grey.astype(np.uint8)


def evaluate(
    chain: GrayscaleChain, stored: NDArray[np.floating] | NDArray[np.integer]
) -> NDArray[np.uint8]:
    """The whole chain on stored values, pixel by pixel (the reference; slow, float64)."""
    return to_grey8(apply_voi(chain, apply_modality(chain, stored)), invert=chain.invert)


def foldable(pixel: PixelFormat) -> bool:
    """True when one table over every raw bit pattern is small enough to build."""
    return pixel.bits_allocated <= MAX_TABLE_BITS


def fold(chain: GrayscaleChain) -> NDArray[np.uint8]:
    """The chain as one ``uint8`` table indexed by the raw (unsigned) pixel word."""
    if not foldable(chain.pixel):
        raise ValueError(f"{chain.pixel.bits_allocated} bits allocated: too many to fold")
    return evaluate(chain, stored_values(chain.pixel))


def raw_words(stored: NDArray[np.integer]) -> NDArray[np.unsignedinteger]:
    """The unsigned view of integer pixels, as indices into a folded table."""
    if stored.dtype.kind == "u":
        return stored  # type: ignore[return-value]
    return stored.view(stored.dtype.str.replace("i", "u"))


def apply_table(table: NDArray[np.uint8], stored: NDArray[np.integer]) -> NDArray[np.uint8]:
    """Render a frame through a folded table (one gather; no float maths per pixel)."""
    words = raw_words(stored)
    if words.dtype.itemsize * 8 > table.size.bit_length() - 1:
        # wider words than the table (e.g. 8 bits allocated decoded as uint16): mask them
        words = words & np.asarray(table.size - 1, dtype=words.dtype)
    return table.take(words)


def words_are_values(pixel: PixelFormat, stored: NDArray[np.generic]) -> bool:
    """True when the decoded integer words are the stored values (no junk high bits).

    Then arithmetic on the words (a box average, a maximum) is arithmetic on the values.
    Signed words are compared as signed integers, so only a partial signed width (whose
    sign bit is not the word's) is excluded; unsigned words must fit in Bits Stored.
    """
    if stored.dtype.kind not in "iu" or not foldable(pixel):
        return False
    if pixel.bits_stored == stored.dtype.itemsize * 8:
        return True
    if stored.dtype.kind == "i" or pixel.signed:
        return False
    return bool(stored.max(initial=0) < (1 << pixel.bits_stored))


def box_reduce(
    stored: NDArray[np.integer], factor: int, *, bits_stored: int | None = None
) -> NDArray[np.integer]:
    """Mean of each ``factor`` x ``factor`` block (rounded), in the input's dtype.

    Shrinking stored values before the lookup table averages modality values (a linear
    map) and windows the result, as a viewer resampling before display does; it makes a
    thumbnail's table gather four times smaller. Edge rows/columns that do not fill a
    block are dropped. With ``bits_stored`` given for unsigned words whose block sums
    cannot overflow the word (12-bit CT in 16-bit words), the sums stay in the input
    dtype, which halves the memory traffic.
    """
    if factor < 2:
        return stored
    rows, cols = (stored.shape[0] // factor) * factor, (stored.shape[1] // factor) * factor
    area = factor * factor
    narrow = (
        stored.dtype.kind == "u"
        and bits_stored is not None
        and area * ((1 << bits_stored) - 1) + area // 2 < (1 << (stored.dtype.itemsize * 8))
    )
    wide: Any = stored.dtype if narrow else (np.int64 if stored.dtype.kind == "i" else np.uint32)
    acc: Any = stored[0:rows:factor, :cols].astype(wide)  # numpy's stubs lose the int dtype
    for i in range(1, factor):
        acc += stored[i:rows:factor, :cols]
    out: Any = acc[:, 0::factor].copy()
    for j in range(1, factor):
        out += acc[:, j::factor]
    out += area // 2
    if area & (area - 1) == 0:
        out >>= area.bit_length() - 1  # a shift: floor division by a power of two, faster
    else:
        out //= area
    reduced: NDArray[np.integer] = out.astype(stored.dtype, copy=False)
    return reduced
