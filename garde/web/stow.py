"""STOW-RS: a hospital that sends over HTTPS instead of DICOM, through the gateway's intake.

The request body (``multipart/related; type="application/dicom"``, each part a Part 10
file) is written to spool files part by part as it arrives, never held in memory; each
part then goes through the same `IntakeService` as a C-STORE (policy, durable write,
index), as if sent by the hospital's first AE title. The stability sweep triages and
dispatches the study as it does a DICOM push. A part that is not DICOM fails alone,
named in the answer; nothing of it is stored.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from garde.dicom_gateway import status
from garde.dicom_gateway.intake import StoreRequest
from garde.dicom_gateway.writer import FileSlice

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from garde.dicom_gateway.intake import IntakeService
    from garde.dispatch.model import Site

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 << 10  # a part's headers; more is not a DICOMweb client
# PS3.18 table 10.5.3-2 failure reasons, from the DICOM status of the intake.
_PROCESSING_FAILURE = 0x0110
_NOT_DICOM = status.DECODE_FAILURE


class StowError(ValueError):
    """The request body is not a multipart of DICOM parts (answered 400)."""


class StowMediaTypeError(StowError):
    """The request is not ``multipart/related`` of DICOM parts at all (answered 415)."""


@dataclass(frozen=True, slots=True)
class StowResult:
    """One part's fate."""

    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    status: int  # 0: stored
    reason: str = ""


def boundary_of(content_type: str) -> str:
    """The boundary of a ``multipart/related; type="application/dicom"`` request.

    Raises
    ------
    StowError
        Another content type, another part type, or no boundary.
    """
    kind, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for piece in rest.split(";"):
        name, _, value = piece.strip().partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    if kind.strip().lower() != "multipart/related":
        raise StowMediaTypeError(
            f'Content-Type {kind.strip()!r}: expected multipart/related; type="application/dicom"'
        )
    if params.get("type", "application/dicom").lower() != "application/dicom":
        raise StowMediaTypeError(f"part type {params['type']!r}: only application/dicom is stored")
    if not params.get("boundary"):
        raise StowError("Content-Type has no boundary")
    return params["boundary"]


class _Spooler:
    """An incremental multipart parser writing each part's body to its own file."""

    def __init__(self, boundary: str, folder: Path) -> None:
        self.delimiter = b"\r\n--" + boundary.encode("latin-1")
        self.keep = len(self.delimiter) + 4  # a delimiter may straddle two chunks
        self.buffer = bytearray(b"\r\n")  # the first delimiter then looks like the others
        self.folder = folder
        self.paths: list[Path] = []
        self.state = "preamble"
        self.handle: BinaryIO | None = None
        self.done = False

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        step = {"preamble": self._until_delimiter, "body": self._until_delimiter}
        while not self.done:
            handler = step.get(self.state)
            if handler is None:
                handler = self._after_delimiter if self.state == "delimiter" else self._headers
            if not handler():
                return

    def _until_delimiter(self) -> bool:
        buffer = self.buffer
        at = buffer.find(self.delimiter)
        if at < 0:
            spare = len(buffer) - self.keep
            if spare > 0:
                if self.handle is not None:
                    self.handle.write(buffer[:spare])
                del buffer[:spare]
            return False
        if self.handle is not None:
            self.handle.write(buffer[:at])
            self.handle.close()
            self.handle = None
        del buffer[: at + len(self.delimiter)]
        self.state = "delimiter"
        return True

    def _after_delimiter(self) -> bool:
        if len(self.buffer) < 2:
            return False
        if self.buffer[:2] == b"--":
            self.done = True
            return False
        self.state = "headers"
        return True

    def _headers(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise StowError("a part's headers exceed 16 KiB")
            return False
        del self.buffer[: end + 4]
        path = self.folder / f".stow-{secrets.token_hex(8)}.part"
        self.paths.append(path)
        self.handle = path.open("wb")
        self.state = "body"
        return True

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def spool_parts(
    chunks: AsyncIterator[bytes], boundary: str, folder: Path, spooled: list[Path]
) -> list[Path]:
    """Write each part of a multipart body to its own file in ``folder``, as it arrives;
    every file made is appended to ``spooled`` (the caller removes them, error or not).

    Raises
    ------
    StowError
        A body that is not a well-formed multipart (no parts, headers too long, cut short).
    """
    spooler = _Spooler(boundary, folder)
    try:
        async for chunk in chunks:
            spooler.feed(chunk)
            if spooler.done:
                break
    finally:
        spooler.close()
        spooled.extend(spooler.paths)
    if not spooler.done:
        raise StowError("the body ends before the closing boundary (cut short?)")
    return _parts_or_error(spooler.paths)


def _parts_or_error(paths: list[Path]) -> list[Path]:
    if not paths:
        raise StowError("the multipart body has no part")
    return paths


def store_part(
    intake: IntakeService, site: Site, path: Path, study_uid: str | None = None
) -> StowResult:
    """Store one spooled part through the intake (as a C-STORE from ``site``); with
    ``study_uid`` (``POST /studies/{study}``), a part of another study fails."""
    try:
        offset = meta_end(path)
        ds = dcmread(
            path,
            stop_before_pixels=True,
            force=True,  # a client may leave the preamble out (pydicom's own dcmwrite does)
            specific_tags=["StudyInstanceUID", "SeriesInstanceUID"],
        )
        meta = ds.file_meta
        sop_class = str(meta.MediaStorageSOPClassUID)
        sop_instance = str(meta.MediaStorageSOPInstanceUID)
        syntax = str(meta.TransferSyntaxUID)
        study = str(ds.get("StudyInstanceUID", ""))
        series = str(ds.get("SeriesInstanceUID", ""))
    except (ValueError, InvalidDicomError, AttributeError, OSError) as exc:
        return StowResult("", "", "", "", _NOT_DICOM, f"not a DICOM Part 10 file ({str(exc)[:80]})")
    if study_uid is not None and study != study_uid:
        return StowResult(
            sop_class,
            sop_instance,
            study,
            series,
            status.DATASET_MISMATCH,
            f"instance of study {study[:64]}, not of {study_uid}",
        )
    request = StoreRequest(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax=syntax,
        calling_ae=min(site.ae_titles),
        dataset=FileSlice(path, offset),
    )
    outcome = intake.receive(request)
    ok = outcome.status == status.SUCCESS
    return StowResult(
        sop_class, sop_instance, study, series, 0 if ok else outcome.status, outcome.comment
    )


_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})


def meta_end(path: Path) -> int:
    """Where the dataset starts in a Part 10 file, with or without its 128-byte preamble
    and file meta group length (clients write both ways): the group 0002 is walked.

    Raises
    ------
    ValueError
        No file meta group (not a Part 10 file).
    """
    with path.open("rb") as fp:
        head = fp.read(64 << 10)
    at = 132 if head[128:132] == b"DICM" else 4 if head[:4] == b"DICM" else 0
    start = at
    while len(head) >= at + 8 and head[at : at + 2] == b"\x02\x00":
        vr = head[at + 4 : at + 6]
        if vr in _LONG_VRS:
            at += 12 + int.from_bytes(head[at + 8 : at + 12], "little")
        else:
            at += 8 + int.from_bytes(head[at + 6 : at + 8], "little")
    if at == start or at > len(head):
        raise ValueError("no file meta group")
    return at


def response_body(results: list[StowResult], base: str) -> dict[str, Any]:
    """The STOW-RS answer (PS3.18 10.5.3): what was stored, and what failed and why."""
    stored = [r for r in results if r.status == 0]
    failed = [r for r in results if r.status != 0]
    body: dict[str, Any] = {}
    if stored:
        body["00081199"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": {"vr": "UI", "Value": [r.sop_class_uid]},
                    "00081155": {"vr": "UI", "Value": [r.sop_instance_uid]},
                    "00081190": {
                        "vr": "UR",
                        "Value": [_url(base, r)],
                    },
                }
                for r in stored
            ],
        }
    if failed:
        body["00081198"] = {
            "vr": "SQ",
            "Value": [
                {
                    **(
                        {"00081150": {"vr": "UI", "Value": [r.sop_class_uid]}}
                        if r.sop_class_uid
                        else {}
                    ),
                    **(
                        {"00081155": {"vr": "UI", "Value": [r.sop_instance_uid]}}
                        if r.sop_instance_uid
                        else {}
                    ),
                    "00081197": {"vr": "US", "Value": [r.status or _PROCESSING_FAILURE]},
                    "00082111": {"vr": "ST", "Value": [r.reason[:1024]]}
                    if r.reason
                    else {"vr": "ST"},
                }
                for r in failed
            ],
        }
    return body


def _url(base: str, result: StowResult) -> str:
    return (
        f"{base}/studies/{result.study_uid}/series/{result.series_uid}"
        f"/instances/{result.sop_instance_uid}"
    )


def remove(paths: list[Path]) -> None:
    """Delete spool files (what the intake kept, it copied)."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
