"""A fast scan of a received dataset's top-level header (little endian, not deflated).

pydicom's ``dcmread`` plus attribute access costs about 2 ms per instance, as much as
the durable write; this scan reads the few attributes the gateway files and indexes by
walking element headers only (skipping values, sequences and items by their lengths) up
to the Pixel Data. Anything it is not sure of (a character set other than ASCII,
Latin-1 or UTF-8, a length running past the end, an odd structure) raises
`ScanUnsure`, and the caller reads the header with pydicom instead: the scan is an
optimisation that never changes an answer.
"""

from __future__ import annotations

import struct

from pydicom import uid
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

# (group << 16 | element) -> field name, for the attributes `InstanceHeader` holds.
WANTED: dict[int, str] = {
    0x00080005: "SpecificCharacterSet",
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x00080050: "AccessionNumber",
    0x00080060: "Modality",
    0x00081030: "StudyDescription",
    0x0008103E: "SeriesDescription",
    0x00100020: "PatientID",
    0x00180015: "BodyPartExamined",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00200011: "SeriesNumber",
    0x00200013: "InstanceNumber",
    0x00321060: "RequestedProcedureDescription",
    0x00401003: "RequestedProcedurePriority",
}
_LAST_WANTED = max(WANTED)
_PIXEL_DATA = 0x7FE00010
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})
_CHARSETS = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}
_TAG = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
# Implicit or explicit VR little endian headers; the compressed syntaxes encode their
# header as explicit VR little endian too (only the Pixel Data is encapsulated).
SUPPORTED = frozenset(
    {
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        uid.JPEGBaseline8Bit,
        uid.JPEGExtended12Bit,
        uid.JPEGLossless,
        uid.JPEGLosslessSV1,
        uid.JPEGLSLossless,
        uid.JPEGLSNearLossless,
        uid.JPEG2000Lossless,
        uid.JPEG2000,
        uid.RLELossless,
    }
)


class ScanUnsureError(Exception):
    """The scan cannot vouch for its reading: read the header with pydicom."""


def scan_header(data: bytes | memoryview, transfer_syntax: str) -> dict[str, str]:
    """The wanted top-level attributes of an encoded dataset, as decoded text.

    Raises
    ------
    ScanUnsureError
        Unsupported syntax or character set, or a structure it cannot walk.
    """
    if transfer_syntax not in SUPPORTED:
        raise ScanUnsureError(f"transfer syntax {transfer_syntax}")
    view = memoryview(data)
    try:
        raw = _Walker(view, implicit=transfer_syntax == ImplicitVRLittleEndian).top_level()
    except (struct.error, IndexError, ValueError) as exc:
        raise ScanUnsureError(str(exc)) from exc
    charset = raw.pop("SpecificCharacterSet", b"").decode("ascii", "replace").strip()
    encoding = _CHARSETS.get(charset)
    if encoding is None:
        raise ScanUnsureError(f"character set {charset!r}")
    try:
        return {name: _text(value, encoding) for name, value in raw.items()}
    except UnicodeDecodeError as exc:
        raise ScanUnsureError(str(exc)) from exc


def _text(value: bytes, encoding: str) -> str:
    text = value.decode(encoding).rstrip("\x00 ")
    return "\\".join(part.strip() for part in text.split("\\")).strip()


class _Walker:
    def __init__(self, view: memoryview, *, implicit: bool) -> None:
        self.view = view
        self.implicit = implicit

    def top_level(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        position, end = 0, len(self.view)
        while position < end:
            tag, length, start = self._header(position)
            if tag >= _PIXEL_DATA or tag > _LAST_WANTED:
                break  # nothing wanted beyond: stop early, as pydicom's specific_tags
            name = WANTED.get(tag)
            if name is not None:
                if length == _UNDEFINED or start + length > end:
                    raise ScanUnsureError(f"attribute {name} has no usable length")
                found[name] = bytes(self.view[start : start + length])
            position = self._skip(start, length)
        return found

    def _header(self, position: int) -> tuple[int, int, int]:
        """(tag, value length, value start) of the element at ``position``."""
        if position + 8 > len(self.view):
            raise ScanUnsureError("element header cut short")
        group, element = _TAG.unpack_from(self.view, position)
        tag = group << 16 | element
        if self.implicit or group == 0xFFFE:
            return tag, _U32.unpack_from(self.view, position + 4)[0], position + 8
        vr = bytes(self.view[position + 4 : position + 6])
        if vr in _LONG_VRS:
            if position + 12 > len(self.view):
                raise ScanUnsureError("element header cut short")
            length = _U32.unpack_from(self.view, position + 8)[0]
            if length == _UNDEFINED and vr != b"SQ":
                raise ScanUnsureError(f"undefined length {vr!r}")  # e.g. UN: implicit inside
            return tag, length, position + 12
        if not vr.isalpha() or not vr.isupper():
            raise ScanUnsureError(f"not a VR: {vr!r}")
        return tag, _U16.unpack_from(self.view, position + 6)[0], position + 8

    def _skip(self, start: int, length: int) -> int:
        """Where the element whose value starts at ``start`` ends."""
        if length != _UNDEFINED:
            end = start + length
            if end > len(self.view):
                raise ScanUnsureError("value runs past the end")
            return end
        return self._skip_sequence(start)

    def _skip_sequence(self, position: int) -> int:
        """Skip an undefined-length sequence's items up to its delimiter."""
        while True:
            tag, length, start = self._header(position)
            if tag == _SEQUENCE_END:
                return start
            if tag != _ITEM:
                raise ScanUnsureError("sequence without items")
            position = self._skip(start, length) if length != _UNDEFINED else self._skip_item(start)

    def _skip_item(self, position: int) -> int:
        """Skip an undefined-length item's elements up to its delimiter."""
        while True:
            tag, length, start = self._header(position)
            if tag == _ITEM_END:
                return start
            position = self._skip(start, length)
