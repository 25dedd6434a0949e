"""QIDO-RS query parameters (PS3.18 8.3.4): matching keys, ``includefield``, paging.

Pure: a request's parameters in, a validated filter out, or a `QueryError` naming the
key and what was wrong (answered 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydicom.datadict import keyword_for_tag, tag_for_keyword

from garde.dicom_gateway.uids import is_valid_uid
from garde.store.dicomweb_index import StudyFilter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_DATE = re.compile(r"\d{8}")
_HEX_TAG = re.compile(r"[0-9A-Fa-f]{8}")
# Accepted and without effect: fuzzy matching is off (exact and wildcard only).
_IGNORED = frozenset({"fuzzymatching"})
STUDY_KEYS = frozenset(
    {
        "StudyInstanceUID",
        "PatientID",
        "PatientName",
        "AccessionNumber",
        "StudyDate",
        "ModalitiesInStudy",
        "StudyDescription",
        "ReferringPhysicianName",
    }
)
SERIES_KEYS = frozenset({"SeriesInstanceUID", "Modality", "SeriesNumber"})
INSTANCE_KEYS = frozenset({"SOPInstanceUID", "SOPClassUID", "InstanceNumber", "SeriesInstanceUID"})


class QueryError(ValueError):
    """A malformed query: the message names the key and the problem."""


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: matching values by keyword, the extra fields asked, paging."""

    matches: dict[str, str]
    include: frozenset[str]  # keywords; "all" for every attribute
    limit: int
    offset: int


def parse(params: Iterable[tuple[str, str]], allowed: frozenset[str]) -> Query:
    """Parse query parameters; keys may be keywords or 8-digit hex tags.

    Raises
    ------
    QueryError
        An unknown or unsupported key, a bad number, a repeated key.
    """
    matches: dict[str, str] = {}
    include: set[str] = set()
    limit, offset = DEFAULT_LIMIT, 0
    for raw_key, value in params:
        key = raw_key.strip()
        lowered = key.lower()
        if lowered == "includefield":
            include.update(_fields(value))
        elif lowered == "limit":
            limit = _count(key, value, maximum=MAX_LIMIT, minimum=1)
        elif lowered == "offset":
            offset = _count(key, value, maximum=10**9, minimum=0)
        elif lowered in _IGNORED:
            continue
        else:
            keyword = _keyword(key)
            if keyword not in allowed:
                raise QueryError(
                    f"{key}: not a matching key Garde supports here "
                    f"(supported: {', '.join(sorted(allowed))})"
                )
            if keyword in matches:
                raise QueryError(f"{key}: given twice")
            if value.strip() in {"", "*"}:  # universal matching: return it, match all
                include.add(keyword)
                continue
            matches[keyword] = value
    return Query(matches, frozenset(include), limit, offset)


def study_filter(query: Query, patient_keys: Callable[[str], tuple[str, ...]]) -> StudyFilter:
    """The store filter of a study-level query; ``patient_keys`` hashes a PatientID as
    the gateway does (one key per site).

    Raises
    ------
    QueryError
        A bad UID list, date or date range.
    """
    m = query.matches
    uids: tuple[str, ...] = ()
    if "StudyInstanceUID" in m:
        uids = uid_list("StudyInstanceUID", m["StudyInstanceUID"])
    date_from, date_to = date_range(m["StudyDate"]) if "StudyDate" in m else ("", "")
    keys: tuple[str, ...] = ()
    if m.get("PatientID"):
        if "*" in m["PatientID"] or "?" in m["PatientID"]:
            raise QueryError("PatientID: wildcards are not supported (the ID is stored hashed)")
        keys = patient_keys(m["PatientID"])
    modalities = tuple(x for x in re.split(r"[\\,]", m.get("ModalitiesInStudy", "")) if x)
    return StudyFilter(
        study_uids=uids,
        patient_keys=keys,
        patient_name=m.get("PatientName", ""),
        accession=m.get("AccessionNumber", ""),
        date_from=date_from,
        date_to=date_to,
        modalities=modalities,
        description=m.get("StudyDescription", ""),
        referring_physician=m.get("ReferringPhysicianName", ""),
        limit=query.limit,
        offset=query.offset,
    )


def uid_list(key: str, value: str) -> tuple[str, ...]:
    """A UID, or a comma- or backslash-separated list of UIDs (UID list matching).

    Raises
    ------
    QueryError
        If one is not a UID.
    """
    uids = tuple(u.strip() for u in re.split(r"[\\,]", value) if u.strip())
    bad = [u for u in uids if not is_valid_uid(u)]
    if bad or not uids:
        raise QueryError(f"{key}: {bad[0] if bad else value!r} is not a UID")
    return uids


def date_range(value: str) -> tuple[str, str]:
    """``YYYYMMDD``, ``A-B``, ``-B`` or ``A-`` as (from, to), either possibly empty.

    Raises
    ------
    QueryError
        A malformed date or a range that ends before it starts.
    """
    start, dash, end = value.strip().partition("-")
    if not dash:
        end = start
    for part in (start, end):
        if part and not _DATE.fullmatch(part):
            raise QueryError(f"StudyDate: {value!r} is not YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    if not start and not end:
        raise QueryError(f"StudyDate: {value!r} is an empty range")
    if start and end and end < start:
        raise QueryError(f"StudyDate: the range {value!r} ends before it starts")
    return start, end


def _fields(value: str) -> set[str]:
    fields: set[str] = set()
    for raw in re.split(r",|%2[cC]", value):
        name = raw.strip()
        if not name:
            continue
        if name.lower() == "all":
            fields.add("all")
            continue
        fields.add(_keyword(name))
    return fields


def _keyword(key: str) -> str:
    """A keyword from a keyword or an 8-digit hex tag.

    Raises
    ------
    QueryError
        If it is neither.
    """
    if _HEX_TAG.fullmatch(key):
        keyword = keyword_for_tag(int(key, 16))
        if keyword:
            return keyword
        raise QueryError(f"{key}: not a tag of the DICOM dictionary")
    if tag_for_keyword(key) is None:
        raise QueryError(f"{key}: not a DICOM keyword, tag or QIDO-RS parameter")
    return key


def _count(key: str, value: str, *, maximum: int, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{key}: expected an integer, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise QueryError(f"{key}: expected {minimum} to {maximum}, got {number}")
    return number
