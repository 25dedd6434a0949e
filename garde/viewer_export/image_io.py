"""The one module that touches Pillow: resizing and encoding display pixels, atomically.

Everything before this is pure ``ndarray -> ndarray``; here ``uint8`` grey ``(r, c)`` or
RGB ``(r, c, 3)`` arrays become JPEG or WebP files (chosen by the file suffix).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from numpy.typing import NDArray

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".png": "PNG"}


def fit_size(rows: int, cols: int, max_px: int, aspect: float = 1.0) -> tuple[int, int]:
    """Output (width, height) fitting in ``max_px`` square, keeping the physical aspect.

    ``aspect`` is the physical height / width of one pixel (row spacing / column
    spacing); images are never enlarged beyond ``max_px`` nor shrunk below 1 pixel.
    """
    if max_px < 1:
        raise ValueError(f"size must be at least 1 pixel, got {max_px}")
    width, height = float(cols), rows * aspect
    scale = max_px / max(width, height)
    return max(round(width * scale), 1), max(round(height * scale), 1)


def shrink_factor(rows: int, cols: int, max_px: int, aspect: float = 1.0) -> int:
    """The integer box reduction `resize` would start with (1: none)."""
    width, height = fit_size(rows, cols, max_px, aspect)
    return max(min(cols // width, rows // height), 1)


def resize(image: NDArray[np.uint8], max_px: int, aspect: float = 1.0) -> NDArray[np.uint8]:
    """Shrink (or enlarge) to fit ``max_px``: an integer box reduction, then bicubic."""
    rows, cols = image.shape[:2]
    width, height = fit_size(rows, cols, max_px, aspect)
    if (width, height) == (cols, rows):
        return image
    pil = Image.fromarray(image)
    factor = shrink_factor(rows, cols, max_px, aspect)
    if factor >= 2:  # a box reduction is fast and alias-free; finish with a small resample
        pil = pil.reduce(factor)
    if pil.size != (width, height):
        pil = pil.resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(pil)


def encode(image: NDArray[np.uint8], fmt: str, quality: int = 85) -> bytes:
    """JPEG / WebP / PNG bytes of a grey or RGB ``uint8`` image."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be within 1..100, got {quality}")
    buffer = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image))
    if fmt == "PNG":
        pil.save(buffer, fmt)
    elif fmt == "WEBP":
        pil.save(buffer, fmt, quality=quality, method=2)  # method 2: fast, still small
    else:
        pil.save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def format_for(path: Path) -> str:
    """The Pillow format name for ``path``'s suffix."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"{path.name}: unsupported image suffix (use {', '.join(sorted(FORMATS))})"
        ) from None


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (no torn previews)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_image(image: NDArray[np.uint8], path: Path, quality: int = 85) -> Path:
    """Encode by suffix (.jpg, .jpeg, .webp, .png) and write atomically."""
    return write_atomic(path, encode(image, format_for(path), quality))


def load_image(path: Path) -> NDArray[np.uint8]:
    """Read an image file back as a ``uint8`` array (tests, the page checker)."""
    with Image.open(path) as pil:
        return np.asarray(pil.convert("RGB") if pil.mode not in ("L", "RGB") else pil)
