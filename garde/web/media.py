"""Media types of DICOMweb: reading a request's ``Accept``, writing multipart parts.

Garde serves instances as they were received (no transcoding): a request for another
transfer syntax than the stored one is answered 406 naming what can be served.
"""

from __future__ import annotations

from dataclasses import dataclass

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
OCTETS = "application/octet-stream"
MULTIPART = "multipart/related"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
NATIVE_SYNTAXES = frozenset({EXPLICIT_LE, IMPLICIT_LE})
BOUNDARY = "garde-dicomweb-part-boundary"  # never appears in DICOM data (no NUL-free run)


class NotAcceptableError(Exception):
    """The client accepts nothing Garde can serve here; the message lists what it can."""


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One entry of an ``Accept`` header."""

    type: str  # "multipart/related", "application/dicom+json", "*/*", ...
    part_type: str = ""  # the ``type`` parameter of a multipart range
    transfer_syntax: str = ""  # "" (not given), "*", or a UID
    quality: float = 1.0


def parse_accept(header: str | None) -> list[MediaRange]:
    """The ranges of an ``Accept`` header, best first (absent: anything)."""
    if not header or not header.strip():
        return [MediaRange("*/*")]
    ranges: list[MediaRange] = []
    for raw in header.split(","):
        pieces = [p.strip() for p in raw.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 1.0
        ranges.append(
            MediaRange(
                pieces[0].lower(),
                params.get("type", "").lower(),
                params.get("transfer-syntax", ""),
                quality,
            )
        )
    ranges.sort(key=lambda r: -r.quality)
    return ranges


def _matches(offered: str, wanted: str) -> bool:
    if wanted in {"", "*/*"}:
        return True
    if wanted.endswith("/*"):
        return offered.startswith(wanted[:-1])
    return offered == wanted


def accepts_dicom(header: str | None, stored_syntaxes: set[str]) -> None:
    """Check that ``Accept`` takes Part 10 instances in their stored transfer syntaxes.

    Raises
    ------
    NotAcceptableError
        If no range takes ``multipart/related; type="application/dicom"`` in them.
    """
    for r in parse_accept(header):
        multipart = r.type == MULTIPART and _matches(DICOM, r.part_type or DICOM)
        if not (multipart or r.type in {"*/*", "multipart/*"}):
            continue
        if r.transfer_syntax in {"", "*"} or {r.transfer_syntax} >= stored_syntaxes:
            return
    raise NotAcceptableError(
        'can serve multipart/related; type="application/dicom" in the stored transfer '
        f"syntax{'es' if len(stored_syntaxes) > 1 else ''} "
        f"({', '.join(sorted(stored_syntaxes)) or 'none'}; no transcoding), "
        "or transfer-syntax=*"
    )


def accepts_json(header: str | None) -> None:
    """Check that ``Accept`` takes DICOM JSON.

    Raises
    ------
    NotAcceptableError
        If it does not.
    """
    for r in parse_accept(header):
        if r.type in {DICOM_JSON, "application/json", "application/*", "*/*"}:
            return
    raise NotAcceptableError(f"can serve {DICOM_JSON}")


def frame_syntax(header: str | None, stored: str) -> str:
    """The transfer syntax to send frames in: as stored when compressed and accepted
    (``transfer-syntax=*`` or its UID), else decoded to explicit VR little endian.

    Raises
    ------
    NotAcceptableError
        If neither is accepted.
    """
    for r in parse_accept(header):
        multipart = r.type == MULTIPART and _matches(OCTETS, r.part_type or OCTETS)
        if not (multipart or r.type in {"*/*", "multipart/*", OCTETS}):
            continue
        if r.transfer_syntax in {"*", stored}:
            return EXPLICIT_LE if stored in NATIVE_SYNTAXES else stored
        if r.transfer_syntax in {"", EXPLICIT_LE}:
            return EXPLICIT_LE
    raise NotAcceptableError(
        'can serve frames as multipart/related; type="application/octet-stream" '
        f"(uncompressed, or transfer-syntax={stored} as stored)"
    )


def rendered_type(header: str | None) -> str:
    """``image/jpeg`` (the default) or ``image/png``, as accepted.

    Raises
    ------
    NotAcceptableError
        If neither is accepted.
    """
    for r in parse_accept(header):
        for offered in ("image/jpeg", "image/png"):
            if _matches(offered, r.type):
                return offered
    raise NotAcceptableError("can render image/jpeg or image/png")


def multipart_type(part_type: str) -> str:
    """The response's ``Content-Type`` for parts of ``part_type``."""
    return f'{MULTIPART}; type="{part_type}"; boundary={BOUNDARY}'


def part_head(content_type: str, location: str = "") -> bytes:
    """The delimiter and headers that open one part."""
    head = f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\n"
    if location:
        head += f"Content-Location: {location}\r\n"
    return (head + "\r\n").encode("ascii")


PART_END = b"\r\n"
CLOSE = f"--{BOUNDARY}--\r\n".encode("ascii")
