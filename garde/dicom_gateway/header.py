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
from garde.dicom_gateway.uids import checked_uid

if TYPE_CHECKING:
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
    """Preamble, ``DICM`` and the encoded file meta group, recording the sending AE."""
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
