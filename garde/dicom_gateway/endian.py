"""Explicit VR Big Endian to Explicit VR Little Endian, for a peer that refuses the former.

Big endian was retired from DICOM in 2004 and the gateway (like most peers) does not
accept it; old archives still hold such files, and storescu converts them on the fly.
pydicom re-encodes values it decodes (US, SS, FL, AT, ...) in the new byte order, but
keeps the "other" binary values (OW, OF, OL, OD, OV, and Pixel Data) as the bytes read:
those are swapped here, by their word size (OW Pixel Data by Bits Allocated, 8- and
1-bit pixels word by word, as pydicom itself reads a big-endian image; OB is bytes), so
every value means what it meant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydicom import dcmread
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

if TYPE_CHECKING:
    from pathlib import Path

    from pydicom.dataset import Dataset

_WORD = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_PIXEL_DATA = 0x7FE00010


def to_little_endian(path: Path) -> Dataset:
    """The big-endian file at ``path`` as a data set to encode in explicit VR little endian.

    Raises
    ------
    ValueError
        The file is not encoded in Explicit VR Big Endian.
    """
    ds = dcmread(path)
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax != ExplicitVRBigEndian:
        raise ValueError(f"{path} is encoded in {syntax.name}, not Explicit VR Big Endian")
    _swap(ds, int(ds.get("BitsAllocated", 16)))
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_original_encoding(is_implicit_vr=False, is_little_endian=True, character_encoding=None)
    return ds


def _swap(ds: Dataset, bits_allocated: int) -> None:
    """Swap, in place, the binary values of ``ds`` and of its sequences' items."""
    for elem in ds:  # decodes each element, in the file's (big endian) order
        if elem.VR == "SQ":
            for item in elem.value:
                _swap(item, bits_allocated)
            continue
        if not isinstance(elem.value, bytes) or not elem.value:
            continue
        size = _WORD.get(elem.VR)
        if elem.tag == _PIXEL_DATA and elem.VR == "OW":
            # 8 and 1-bit pixels in OW words are swapped word by word, as pydicom reads them.
            size = max(2, bits_allocated // 8)
        if size is None or len(elem.value) % size:
            continue
        words = np.frombuffer(elem.value, dtype=f">u{size}")
        elem.value = words.astype(f"<u{size}").tobytes()
