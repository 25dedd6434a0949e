"""Read the grayscale chain's parameters (Modality LUT, VOI, polarity) from a dataset.

Enhanced multi-frame objects carry them per frame (Per-frame Functional Groups) or for
all frames (Shared Functional Groups); classic objects at the top level. Non-conformant
values (a zero window width, an empty slope) are warned about, logged and ignored
rather than rejected: a preview of a slightly broken file beats none.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from garde.viewer_export.grayscale import GrayscaleChain, LookupTable, PixelFormat
from garde.viewer_export.model import VoiFunction, Window

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

logger = logging.getLogger(__name__)

_PIXEL_VALUE_TRANSFORMATION = "PixelValueTransformationSequence"
_FRAME_VOI_LUT = "FrameVOILUTSequence"


def _warn(message: str) -> None:
    """Non-conformant input is logged and worked around, never fatal for a preview."""
    logger.warning(message)


def _first(value: Any) -> Any:
    """The first value of a possibly multi-valued element."""
    if value is None or isinstance(value, str | bytes):
        return value
    try:
        return value[0]
    except (TypeError, IndexError):
        return value


def _float(value: Any) -> float | None:
    value = _first(value)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _functional_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The item of ``keyword`` for frame ``index``: per-frame first, then shared."""
    for groups, i in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        seq = ds.get(groups)
        if seq and i < len(seq):
            inner = seq[i].get(keyword)
            if inner:
                item: Dataset = inner[0]
                return item
    return None


def pixel_format(ds: Dataset) -> PixelFormat:
    """Bits Allocated, Bits Stored and Pixel Representation (defaults for missing ones)."""
    allocated = int(ds.get("BitsAllocated", 16) or 16)
    stored = int(ds.get("BitsStored", allocated) or allocated)
    if not 1 <= stored <= allocated:
        _warn(f"Bits Stored {stored} outside 1..{allocated}: using {allocated}")
        stored = allocated
    return PixelFormat(allocated, stored, ds.get("PixelRepresentation", 0) == 1)


def _little_endian(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(syntax) != "1.2.840.10008.1.2.2"  # only Explicit VR Big Endian is big


def read_lut(item: Dataset, ds: Dataset, *, signed_input: bool) -> LookupTable | None:
    """A Modality or VOI LUT item (LUT Descriptor + LUT Data), or None if unusable."""
    descriptor = item.get("LUTDescriptor")
    if not descriptor or len(descriptor) != 3 or "LUTData" not in item:
        return None
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    if signed_input and first >= 32768:  # US-encoded negative first value (PS3.3 C.11.1.1.1)
        first -= 65536
    bits = int(descriptor[2])
    element = item["LUTData"]
    raw = element.value
    if isinstance(raw, bytes):
        if bits <= 8 and len(raw) in (entries, entries + 1):
            data = np.frombuffer(raw, dtype=np.uint8, count=entries)
        else:
            order = "<" if _little_endian(ds) else ">"
            data = np.frombuffer(raw, dtype=f"{order}u2", count=min(entries, len(raw) // 2))
    else:
        data = np.asarray(raw if isinstance(raw, list | tuple) else [raw], dtype=np.int64)
    if data.size == 0 or not 1 <= bits <= 16:
        _warn(f"ignoring a LUT with {data.size} entries of {bits} bits")
        return None
    return LookupTable(first, bits, data.astype(np.uint16 if bits > 8 else np.uint8))


def _window(item: Dataset) -> Window | None:
    center, width = _float(item.get("WindowCenter")), _float(item.get("WindowWidth"))
    if center is None or width is None:
        return None
    function = str(item.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    try:
        return Window(center, width, VoiFunction(function))
    except ValueError as exc:
        _warn(f"ignoring the file's window: {exc}")
        return None


def grayscale_chain(
    ds: Dataset,
    index: int = 0,
    *,
    window: Window | None = None,
    auto_range: tuple[float, float] | None = None,
) -> GrayscaleChain:
    """The chain for frame ``index``; ``window`` (a preset) overrides the file's VOI."""
    pixel = pixel_format(ds)
    transform = _functional_item(ds, index, _PIXEL_VALUE_TRANSFORMATION) or ds
    slope = _float(transform.get("RescaleSlope"))
    intercept = _float(transform.get("RescaleIntercept"))
    modality_lut = None
    if ds.get("ModalityLUTSequence"):
        modality_lut = read_lut(ds.ModalityLUTSequence[0], ds, signed_input=pixel.signed)
    if slope == 0.0:
        _warn("Rescale Slope is 0: using 1")
        slope = 1.0
    voi_source = _functional_item(ds, index, _FRAME_VOI_LUT) or ds
    file_window = _window(voi_source)
    voi_lut = None
    if file_window is None and voi_source.get("VOILUTSequence"):
        voi_lut = read_lut(voi_source.VOILUTSequence[0], ds, signed_input=pixel.signed)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    return GrayscaleChain(
        pixel=pixel,
        slope=1.0 if slope is None else slope,
        intercept=0.0 if intercept is None else intercept,
        modality_lut=modality_lut,
        window=window or file_window,
        voi_lut=None if window else voi_lut,
        invert=photometric == "MONOCHROME1" or shape == "INVERSE",
        auto_range=auto_range,
    )


# Every element `grayscale_chain` reads at the top level; sequences and functional groups
# are left out because their presence turns the signature off.
_SIGNATURE_TAGS = (
    0x00280004,  # Photometric Interpretation
    0x00280100,  # Bits Allocated
    0x00280101,  # Bits Stored
    0x00280103,  # Pixel Representation
    0x00281050,  # Window Center
    0x00281051,  # Window Width
    0x00281052,  # Rescale Intercept
    0x00281053,  # Rescale Slope
    0x00281056,  # VOI LUT Function
    0x20500020,  # Presentation LUT Shape
)
_NO_SIGNATURE_TAGS = (
    0x00283000,  # Modality LUT Sequence
    0x00283010,  # VOI LUT Sequence
    0x52009229,  # Shared Functional Groups Sequence
    0x52009230,  # Per-frame Functional Groups Sequence
)


def chain_signature(ds: Dataset) -> tuple[object, ...] | None:
    """The raw bytes of every element the chain depends on, without decoding them.

    Slices of a series whose signatures are equal share one chain and one folded table,
    so the chain is built once per series instead of once per slice (reading a dozen
    elements through pydicom costs more than the table gather). None when a sequence is
    involved (LUTs, enhanced multi-frame): the chain is then built every time.
    """
    if any(tag in ds for tag in _NO_SIGNATURE_TAGS):
        return None
    values: list[object] = [_little_endian(ds)]
    for tag in _SIGNATURE_TAGS:
        if tag not in ds:
            values.append(None)
            continue
        value = ds.get_item(tag).value
        values.append(value if isinstance(value, bytes | str | int | float) else repr(value))
    return tuple(values)


def needs_auto_range(chain: GrayscaleChain) -> bool:
    """True when neither a window nor a VOI LUT applies: the min/max window is needed."""
    return chain.window is None and chain.voi_lut is None
