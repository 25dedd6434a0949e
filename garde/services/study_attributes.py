"""A study's patient context and study-level attributes, read from its first instance.

What the gateway indexes is what routing needs; what a reader needs to decide (age, sex,
accession, who asks and why) and what DICOMweb answers with is read here, once per
study, from a stored file, and kept in ``study_attributes``. Studies already stored
before that table existed get their row the first time anyone asks.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

from garde.store.records import StudyAttributes

if TYPE_CHECKING:
    from pathlib import Path

    from garde.store.ports import StudyAttributeIndex

logger = logging.getLogger(__name__)

# Patient and study level attributes (PS3.4 C.6.1.1.2/C.6.1.1.3 and the request): what a
# study-level QIDO-RS answer carries, besides the counts computed from the index.
STUDY_LEVEL_KEYWORDS = (
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "IssuerOfAccessionNumberSequence",
    "InstanceAvailability",
    "ReferringPhysicianName",
    "TimezoneOffsetFromUTC",
    "StudyDescription",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "OtherPatientIDsSequence",
    "StudyInstanceUID",
    "StudyID",
    "RequestingPhysician",
    "RequestedProcedureDescription",
    "ReasonForTheRequestedProcedure",
    "RequestAttributesSequence",
    "AdditionalPatientHistory",
    "StudyComments",
)
_STUDY_LEVEL_TAGS = [Tag(keyword) for keyword in STUDY_LEVEL_KEYWORDS]
_LONGEST = 256  # the text columns' width


def read_study_attributes(path: Path) -> StudyAttributes:
    """The study-level attributes of the instance stored at ``path`` (header only).

    Raises
    ------
    OSError
        If the file cannot be read.
    InvalidDicomError
        If it is not DICOM.
    """
    ds = dcmread(path, stop_before_pixels=True, specific_tags=list(STUDY_LEVEL_KEYWORDS))
    return study_attributes_of(ds)


def study_attributes_of(ds: Dataset) -> StudyAttributes:
    """The study-level attributes of a header (only `STUDY_LEVEL_KEYWORDS` are kept)."""
    kept = Dataset()
    for tag in _STUDY_LEVEL_TAGS:
        if tag in ds:
            kept[tag] = ds[tag]
    study_date = _text(ds, "StudyDate")[:8]
    birth = _text(ds, "PatientBirthDate")[:8]
    return StudyAttributes(
        study_date=study_date,
        study_time=_text(ds, "StudyTime")[:16],
        patient_name=_text(ds, "PatientName")[:_LONGEST],
        patient_sex=_text(ds, "PatientSex")[:16],
        patient_age=(_text(ds, "PatientAge") or age_between(birth, study_date))[:16],
        patient_birth_date=birth,
        referring_physician=_text(ds, "ReferringPhysicianName")[:_LONGEST],
        requesting_physician=_text(ds, "RequestingPhysician")[:_LONGEST],
        indication=indication_of(ds),
        dataset=kept.to_json_dict(),
    )


def indication_of(ds: Dataset) -> str:
    """Why the study was asked for: the reason for the requested procedure (top level or
    in the request attributes), the patient history and the study comments, de-duplicated."""
    found: list[str] = []
    items = ds.get("RequestAttributesSequence") or []
    for value in (
        _text(ds, "ReasonForTheRequestedProcedure"),
        *(_text(item, "ReasonForTheRequestedProcedure") for item in items),
        _text(ds, "AdditionalPatientHistory"),
        _text(ds, "StudyComments"),
    ):
        if value and value not in found:
            found.append(value)
    return " / ".join(found)


def age_between(birth: str, on: str) -> str:
    """The DICOM age string (``067Y``, ``011M``, ``020D``) of someone born on ``birth``
    on day ``on`` (both YYYYMMDD); empty if either is missing or malformed."""
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        day = date(int(on[:4]), int(on[4:6]), int(on[6:8]))
    except ValueError:
        return ""
    if day < born:
        return ""
    years = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    if years >= 2:
        return f"{min(years, 999):03d}Y"
    months = (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)
    if months >= 1:
        return f"{months:03d}M"
    return f"{(day - born).days:03d}D"


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None or value == "":
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip()


def safe_read(path: Path) -> StudyAttributes:
    """`read_study_attributes`, or empty attributes (logged) for a file that cannot be read:
    a study is listed without its context rather than not at all."""
    try:
        return read_study_attributes(path)
    except (OSError, InvalidDicomError, ValueError) as exc:
        logger.warning("study attributes unreadable from %s: %s", path.name, exc)
        return StudyAttributes()


def fill_missing(index: StudyAttributeIndex, storage_dir: Path) -> int:
    """Read the attributes of every study that has none yet (new ones, or stored before
    the table existed) from its first stored file under ``storage_dir``; how many were
    read (an unreadable file gives empty attributes: it is not read again). Called by
    the stability sweep (so the worklist shows the context) and before DICOMweb
    searches, on the SQL store's `DicomWebIndex` or the memory store's attributes."""
    done = 0
    while True:
        missing = index.missing_attributes()
        if not missing:
            return done
        index.save_attributes([(m.study_id, safe_read(storage_dir / m.path)) for m in missing])
        done += len(missing)
