"""Reading what the gateway needs from a received dataset, without touching pixel data.

The dataset arrives encoded; it is never decoded in full nor re-encoded. Only its
header is parsed (up to the pixel data, only the attributes used), to file and index it.
The negotiated transfer syntax is known, so the dataset is read as it arrived with
pydicom's `read_dataset`, without first prefixing a file meta group to parse back.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom import dcmread
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR
from pydicom.filereader import read_dataset, read_sequence
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from garde.dicom_gateway.completeness import PixelGeometry
from garde.dicom_gateway.errors import TransferSyntaxMismatchError
from garde.dicom_gateway.patient import PatientIdentity, identity_from
from garde.dicom_gateway.uids import checked_uid

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

IMPLEMENTATION_VERSION = "GARDE_01"

# Header attributes read on the receive path (all before the pixel data).
_TAGS = [
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "InstanceNumber",
    "SeriesDescription",
    "StudyDescription",
    "BodyPartExamined",
    "RequestedProcedureDescription",
    "RequestedProcedurePriority",
    "AccessionNumber",
    "PatientID",
    # Who the patient is across hospitals (`garde.dicom_gateway.patient`): the INS.
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "OtherPatientIDsSequence",
    # What sizes native Pixel Data (`garde.dicom_gateway.completeness`).
    "SamplesPerPixel",
    "NumberOfFrames",
    "Rows",
    "Columns",
    "BitsAllocated",
    # How many instances the series holds, where the modality says (a stroke's first
    # series is complete once that many are stored: issue 12 item 6).
    "NumberOfSeriesRelatedInstances",
    "ImagesInAcquisition",
]
_TAG_OF: dict[str, BaseTag] = {keyword: Tag(keyword) for keyword in _TAGS}
_TAG_LIST: list[BaseTag | int] = list(_TAG_OF.values())
_DICTIONARY_VR = {int(tag): dictionary_VR(tag) for tag in _TAG_OF.values()}
# Where pydicom's ``stop_before_pixels`` stops: Float, Double Float and Pixel Data.
_PIXEL_DATA_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})

# Every VR of PS3.5 6.2: an explicit VR element carries one of these after its tag.
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV "
    b"TM UC UI UL UN UR US UT UV".split()
)


@dataclass(frozen=True, slots=True)
class InstanceHeader:
    """The header facts of one received instance (UIDs validated; texts bounded)."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    modality: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    series_description: str = ""
    study_description: str = ""
    body_part: str = ""
    requested_procedure: str = ""
    requested_priority: str = ""
    accession_number: str = ""
    # Only ever hashed (`patient_key`); kept out of repr so it cannot reach a log line.
    patient_id: str = field(default="", repr=False)
    # PatientID with its issuer and the INS if one is carried (values out of repr too).
    identity: PatientIdentity = field(default_factory=PatientIdentity)
    geometry: PixelGeometry | None = None  # None: no Rows / Columns (not an image)
    # Instances the series declares it holds (Number of Series Related Instances, else
    # Images in Acquisition); None when neither is sent or the value is not positive.
    declared_images: int | None = None


def file_meta(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str, calling_ae: str
) -> bytes:
    """Preamble, ``DICM`` and the encoded file meta group, recording the sending AE.

    Encoded by hand (explicit VR little endian, PS3.10 7.1), byte for byte what pydicom's
    ``write_file_meta_info`` writes (a test compares them): the elements before and
    after the SOP Instance UID are encoded once per (SOP class, transfer syntax, AE)
    and only the instance's element and the group length are new per instance (pydicom
    took a fifth of a millisecond per instance).
    """
    key = (sop_class_uid, transfer_syntax, calling_ae)
    parts = _meta_parts.get(key)
    if parts is None:
        if len(_meta_parts) >= _MAX_META_TEMPLATES:
            _meta_parts.clear()
        parts = _meta_parts[key] = (
            _element(0x0001, "OB", b"\x00\x01") + _element(0x0002, "UI", _uid_bytes(sop_class_uid)),
            _element(0x0010, "UI", _uid_bytes(transfer_syntax))
            + _element(0x0012, "UI", _uid_bytes(PYNETDICOM_IMPLEMENTATION_UID))
            + _element(0x0013, "SH", _text_bytes(IMPLEMENTATION_VERSION))
            + _element(0x0016, "AE", _text_bytes(calling_ae)),
        )
    head, tail = parts
    instance = _element(0x0003, "UI", _uid_bytes(sop_instance_uid))
    length = len(head) + len(instance) + len(tail)
    group_length = _element(0x0000, "UL", length.to_bytes(4, "little"))
    return b"".join((_PREAMBLE, group_length, head, instance, tail))


_MAX_META_TEMPLATES = 256  # (class, syntax, AE) triples; cleared wholesale when full
_meta_parts: dict[tuple[str, str, str], tuple[bytes, bytes]] = {}
_SHORT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<HH2s2xI")


def _element(element: int, vr: str, value: bytes) -> bytes:
    """One explicit VR little endian element of group 0002."""
    if vr == "OB":
        return _LONG.pack(0x0002, element, b"OB", len(value)) + value
    return _SHORT.pack(0x0002, element, vr.encode("ascii"), len(value)) + value


def _uid_bytes(uid: str) -> bytes:
    data = uid.encode("ascii")
    return data + b"\x00" if len(data) % 2 else data


def _text_bytes(text: str) -> bytes:
    data = text.encode("ascii", errors="replace")
    return data + b" " if len(data) % 2 else data


_PREAMBLE = b"\x00" * 128 + b"DICM"


def check_encoding(start: bytes, transfer_syntax: str) -> None:
    """Raise `TransferSyntaxMismatchError` if the dataset's first element contradicts
    the negotiated transfer syntax (explicit VR sent on an implicit context or back).

    pydicom would silently guess the other encoding and read on; a sender that encodes
    in a syntax other than the one negotiated is broken, and its file would be labelled
    wrongly, so it is refused instead.
    """
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        try:
            start = zlib.decompressobj(-zlib.MAX_WBITS).decompress(start, 16)
        except zlib.error as exc:
            raise TransferSyntaxMismatchError("deflated dataset does not inflate") from exc
    if len(start) < 8:
        raise TransferSyntaxMismatchError("dataset shorter than one element")
    looks_explicit = start[4:6] in _VRS
    if transfer_syntax == ImplicitVRLittleEndian and looks_explicit:
        raise TransferSyntaxMismatchError("explicit VR dataset on an implicit VR context")
    if transfer_syntax != ImplicitVRLittleEndian and not looks_explicit:
        raise TransferSyntaxMismatchError("implicit VR dataset on an explicit VR context")


def read_header(source: bytes | Path | BinaryIO) -> InstanceHeader:
    """Parse a DICOM file's header (file meta included) up to the pixel data.

    Raises
    ------
    pydicom.errors.InvalidDicomError, ValueError, ...
        Whatever pydicom raises on a malformed header (the caller maps it to 0xC210).
    garde.dicom_gateway.errors.InvalidUIDError
        A UID the instance is filed under is missing or invalid.
    """
    fp: Any = BytesIO(source) if isinstance(source, bytes) else source
    ds = dcmread(fp, stop_before_pixels=True, specific_tags=_TAGS)
    return header_from_dataset(ds)


def read_dataset_header(source: bytes | BinaryIO, transfer_syntax: str) -> InstanceHeader:
    """Parse an encoded dataset (no file meta, as received) up to the pixel data.

    ``source`` is read from its current position in the negotiated ``transfer_syntax``
    (implicit or explicit VR, little or big endian). Deflated datasets are not accepted
    here: prefix their file meta and use `read_header` (pydicom inflates them).

    Raises
    ------
    pydicom.errors.InvalidDicomError, ValueError, ...
        Whatever pydicom raises on a malformed header (the caller maps it to 0xC210).
    garde.dicom_gateway.errors.InvalidUIDError
        A UID the instance is filed under is missing or invalid.
    """
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        raise ValueError("a deflated dataset is read with its file meta (read_header)")
    fp: Any = BytesIO(source) if isinstance(source, bytes) else source
    ds = read_dataset(
        fp,
        is_implicit_VR=transfer_syntax == ImplicitVRLittleEndian,
        is_little_endian=transfer_syntax != ExplicitVRBigEndian,
        stop_when=_at_pixel_data,
        specific_tags=list(_TAG_LIST),
    )
    return header_from_dataset(ds)


# What `header_from_elements` needs from `garde.dicom_gateway.completeness.walk_dataset`:
# the header tags and the character set their texts are decoded with.
HEADER_TAGS = frozenset({int(tag) for tag in _TAG_LIST} | {0x00080005})


def header_from_elements(
    elements: Mapping[int, tuple[str | None, bytes]], transfer_syntax: str
) -> InstanceHeader:
    """The header of a data set whose elements a walk already found (values undecoded).

    Only the few value representations of `_TAGS` are decoded, here (pydicom's element
    conversion cost five times the walk): UIDs and texts (in the data set's Specific
    Character Set when they are not ASCII), integer strings and unsigned shorts. pydicom
    warns about non-conformant values; nothing here does, so none reaches a log.
    """
    return header_from_dataset(_RawValues(elements, transfer_syntax))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Value:
    value: Any


class _RawValues:
    """What `header_from_dataset` reads of a dataset (``get(tag).value``), decoded from
    raw element values on demand."""

    def __init__(self, elements: Mapping[int, tuple[str | None, bytes]], syntax: str) -> None:
        self._elements = elements
        self._order = ">" if syntax == ExplicitVRBigEndian else "<"
        self._encodings: list[str] | None = None

    def get(self, tag: BaseTag) -> _Value | None:
        found = self._elements.get(int(tag))
        if found is None:
            return None
        vr, raw = found
        vr = _DICTIONARY_VR[int(tag)] if vr in {None, "UN"} else vr
        if vr == "SQ":
            return _Value(self._sequence(raw, implicit=found[0] in {None, "UN"}))
        if vr in {"US", "SS"}:
            if len(raw) < 2:
                return None
            return _Value(struct.unpack(self._order + ("H" if vr == "US" else "h"), raw[:2])[0])
        text = self._text(raw).rstrip("\x00 ")
        if vr == "IS":
            text = text.split("\\", 1)[0].strip()
        return _Value(text)

    def _sequence(self, raw: bytes, *, implicit: bool) -> Sequence:
        """A sequence's items, parsed by pydicom (only the few identity sequences)."""
        return read_sequence(
            BytesIO(raw),
            is_implicit_VR=implicit,
            is_little_endian=self._order == "<",
            bytelength=len(raw),
            encoding=self._encodings_of(),
        )

    def _encodings_of(self) -> list[str]:
        if self._encodings is None:
            charset = self._elements.get(0x00080005)
            terms = charset[1].decode("ascii", "replace").split("\\") if charset else [""]
            self._encodings = convert_encodings([t.strip() for t in terms])
        return self._encodings

    def _text(self, raw: bytes) -> str:
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            return str(decode_bytes(raw, self._encodings_of(), set()))


def _at_pixel_data(tag: BaseTag, _vr: str | None, _length: int) -> bool:
    return tag in _PIXEL_DATA_TAGS


def header_from_dataset(ds: Dataset) -> InstanceHeader:
    """The `InstanceHeader` of an already read dataset."""
    return InstanceHeader(
        sop_class_uid=checked_uid("SOPClassUID", _value(ds, "SOPClassUID")),
        sop_instance_uid=checked_uid("SOPInstanceUID", _value(ds, "SOPInstanceUID")),
        study_uid=checked_uid("StudyInstanceUID", _value(ds, "StudyInstanceUID")),
        series_uid=checked_uid("SeriesInstanceUID", _value(ds, "SeriesInstanceUID")),
        modality=_text(ds, "Modality", 16),
        series_number=_integer(ds, "SeriesNumber"),
        instance_number=_integer(ds, "InstanceNumber"),
        series_description=_text(ds, "SeriesDescription", 256),
        study_description=_text(ds, "StudyDescription", 256),
        body_part=_text(ds, "BodyPartExamined", 64),
        requested_procedure=_text(ds, "RequestedProcedureDescription", 256),
        requested_priority=_text(ds, "RequestedProcedurePriority", 64),
        accession_number=_text(ds, "AccessionNumber", 64),
        patient_id=_text(ds, "PatientID", 256),
        identity=identity_from(
            _text(ds, "PatientID", 256),
            _text(ds, "IssuerOfPatientID", 256),
            _value(ds, "IssuerOfPatientIDQualifiersSequence"),
            _value(ds, "OtherPatientIDsSequence"),
        ),
        geometry=_geometry(ds),
        declared_images=_declared_images(ds),
    )


def _declared_images(ds: Dataset) -> int | None:
    """How many instances the series says it holds: (0020,1209), which counts the series,
    before (0020,1002), which counts one acquisition (a CT or MR series is commonly one)."""
    for keyword in ("NumberOfSeriesRelatedInstances", "ImagesInAcquisition"):
        count = _integer(ds, keyword)
        if count is not None and count > 0:
            return count
    return None


def _geometry(ds: Dataset) -> PixelGeometry | None:
    """The image attributes sizing Pixel Data; None if it has no Rows and Columns.

    Absurd values (negative, zero bits) give None too: the completeness check then only
    asks that every element, Pixel Data included, arrived whole.
    """
    rows, columns = _integer(ds, "Rows"), _integer(ds, "Columns")
    if not rows or not columns:
        return None
    samples = _integer(ds, "SamplesPerPixel") or 1
    bits = _integer(ds, "BitsAllocated") or 0
    frames = _integer(ds, "NumberOfFrames") or 1
    if min(rows, columns, samples, bits, frames) <= 0:
        return None
    return PixelGeometry(rows, columns, samples, bits, frames)


def patient_key(secret: bytes, site_id: str, patient_id: str) -> str:
    """HMAC-SHA256 of (site id, PatientID), hex: links a patient's studies at one site
    without storing the ID. Empty when the instance carries no PatientID.

    The gateway keys patients with `PatientIdentity.key` (the INS across hospitals);
    this is its form for an identifier without issuer nor INS.
    """
    return PatientIdentity(patient_id).key(secret, site_id)


def _value(ds: Dataset, keyword: str) -> Any:
    """The value of one of `_TAGS`, or None; looked up by tag (no keyword resolution)."""
    element = ds.get(_TAG_OF[keyword])
    return None if element is None else element.value


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = _value(ds, keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _integer(ds: Dataset, keyword: str) -> int | None:
    value = _value(ds, keyword)
    if isinstance(value, MultiValue):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    return _parse_integer(value)


def _parse_integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None  # non-conformant IS: index without it rather than refuse the image
    return number if -(2**31) <= number < 2**31 else None
