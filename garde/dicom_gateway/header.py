"""Reading what the gateway needs from a received dataset, without touching pixel data.

The dataset arrives encoded; it is never decoded in full nor re-encoded. Only its
header is parsed (``stop_before_pixels``), to file and index it.
"""

from __future__ import annotations

import hmac
import zlib
from dataclasses import dataclass, field
from hashlib import sha256
from io import BytesIO
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom import dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID

from garde.dicom_gateway.errors import TransferSyntaxMismatchError
from garde.dicom_gateway.header_scan import ScanUnsureError
from garde.dicom_gateway.uids import checked_uid

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pydicom.dataset import Dataset

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
]

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


def file_meta(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str, calling_ae: str
) -> bytes:
    """Preamble, ``DICM`` and the encoded file meta group, recording the sending AE.

    Encoded by hand (explicit VR little endian, PS3.10 7.1): on the receive path of
    every instance, pydicom's ``write_file_meta_info`` costs more than the durable
    write itself. `file_meta_pydicom` is the reference it is tested against.
    """
    elements = b"".join(
        (
            _element(0x0001, b"OB", b"\x00\x01"),
            _element(0x0002, b"UI", _uid_bytes(sop_class_uid)),
            _element(0x0003, b"UI", _uid_bytes(sop_instance_uid)),
            _element(0x0010, b"UI", _uid_bytes(transfer_syntax)),
            _element(0x0012, b"UI", _uid_bytes(PYNETDICOM_IMPLEMENTATION_UID)),
            _element(0x0013, b"SH", _text_bytes(IMPLEMENTATION_VERSION)),
            _element(0x0016, b"AE", _text_bytes(calling_ae)),
        )
    )
    group_length = _element(0x0000, b"UL", len(elements).to_bytes(4, "little"))
    return _PREAMBLE + group_length + elements


_PREAMBLE = b"\x00" * 128 + b"DICM"
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    tag = (0x0002).to_bytes(2, "little") + element.to_bytes(2, "little")
    if vr in _LONG_VRS:
        return tag + vr + b"\x00\x00" + len(value).to_bytes(4, "little") + value
    return tag + vr + len(value).to_bytes(2, "little") + value


def _uid_bytes(uid: str) -> bytes:
    raw = uid.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _text_bytes(text: str) -> bytes:
    raw = text.encode("ascii", "replace")
    return raw + b" " if len(raw) % 2 else raw


def file_meta_pydicom(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str, calling_ae: str
) -> bytes:
    """`file_meta` as pydicom encodes it (the reference for the hand-made one)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = PYNETDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    meta.SourceApplicationEntityTitle = calling_ae
    buffer = BytesIO()
    buffer.write(_PREAMBLE)
    write_file_meta_info(buffer, meta, enforce_standard=True)  # type: ignore[arg-type]
    return buffer.getvalue()


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


def header_from_dataset(ds: Dataset) -> InstanceHeader:
    """The `InstanceHeader` of an already read dataset."""
    return InstanceHeader(
        sop_class_uid=checked_uid("SOPClassUID", ds.get("SOPClassUID")),
        sop_instance_uid=checked_uid("SOPInstanceUID", ds.get("SOPInstanceUID")),
        study_uid=checked_uid("StudyInstanceUID", ds.get("StudyInstanceUID")),
        series_uid=checked_uid("SeriesInstanceUID", ds.get("SeriesInstanceUID")),
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
    )


def header_from_scan(values: Mapping[str, str]) -> InstanceHeader:
    """The `InstanceHeader` of a `garde.dicom_gateway.header_scan.scan_header` result.

    Raises `ScanUnsureError` if a UID is missing (pydicom decides then), and
    `InvalidUIDError` if one is invalid, as `header_from_dataset` would.
    """
    uids = [values.get(k) for k in ("SOPClassUID", "SOPInstanceUID")]
    uids += [values.get(k) for k in ("StudyInstanceUID", "SeriesInstanceUID")]
    if None in uids:
        raise ScanUnsureError("a UID is missing")

    def text(keyword: str, limit: int) -> str:
        return values.get(keyword, "")[:limit]

    return InstanceHeader(
        sop_class_uid=checked_uid("SOPClassUID", uids[0]),
        sop_instance_uid=checked_uid("SOPInstanceUID", uids[1]),
        study_uid=checked_uid("StudyInstanceUID", uids[2]),
        series_uid=checked_uid("SeriesInstanceUID", uids[3]),
        modality=text("Modality", 16),
        series_number=_parse_integer(values.get("SeriesNumber", "").split("\\")[0]),
        instance_number=_parse_integer(values.get("InstanceNumber", "").split("\\")[0]),
        series_description=text("SeriesDescription", 256),
        study_description=text("StudyDescription", 256),
        body_part=text("BodyPartExamined", 64),
        requested_procedure=text("RequestedProcedureDescription", 256),
        requested_priority=text("RequestedProcedurePriority", 64),
        accession_number=text("AccessionNumber", 64),
        patient_id=text("PatientID", 256),
    )


def patient_key(secret: bytes, site_id: str, patient_id: str) -> str:
    """HMAC-SHA256 of (site id, PatientID), hex: links a patient's studies at one site
    without storing the ID. Empty when the instance carries no PatientID."""
    if not patient_id:
        return ""
    message = f"{site_id}\x1f{patient_id}".encode()
    return hmac.new(secret, message, sha256).hexdigest()


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _integer(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
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
