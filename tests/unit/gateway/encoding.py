"""Encode test datasets the way a sender puts them on the wire (no file meta)."""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def part10(ds: Dataset, transfer_syntax: str) -> bytes:
    """``ds`` as a DICOM file encoded in ``transfer_syntax``."""
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def wire(ds: Dataset, transfer_syntax: str) -> bytes:
    """``ds`` encoded in ``transfer_syntax`` without preamble or file meta (a C-STORE's
    Data Set)."""
    data = part10(ds, transfer_syntax)
    group_length = int.from_bytes(data[140:144], "little")
    return data[144 + group_length :]
