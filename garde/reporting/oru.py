"""The report as an HL7 v2.5 ORU^R01, and the ACK that is its receipt.

Built and parsed with the `hl7` package (python-hl7: parsing, escaping and ACK
building are its job). The message carries the accession (OBR-3, the filler order
number the RIS knows), the radiologist (OBR-32, principal result interpreter), the
report text as one OBX per line (OBX-5, type TX) and the conclusion. No PID fields
beyond the patient ID the hospital sent with the images: the RIS matches on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

import hl7

from garde.reporting.errors import RejectedError

if TYPE_CHECKING:
    from garde.reporting.document import ReportContent

SENDING_APPLICATION = "GARDE"
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


@dataclass(frozen=True, slots=True)
class OruContext:
    """What the ORU needs besides the report itself."""

    control_id: str  # MSH-10: the key a RIS deduplicates on
    patient_id: str
    issuer: str
    accession: str
    study_uid: str
    procedure: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str


def escape(text: str) -> str:
    """HL7 v2 escaping of the delimiters (a report may contain any of them)."""
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def unescape(text: str) -> str:
    """The inverse of `escape` (what a receiver reads)."""
    for raw, escaped in reversed(_ESCAPES):
        text = text.replace(escaped, raw)
    return text


def build_oru(report: ReportContent, context: OruContext) -> str:
    """The ORU^R01 message, segments separated by CR, encoded UTF-8 (MSH-18)."""
    stamp = report.at.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    status = "F" if report.number == 1 else "C"  # an addendum corrects the final result
    doctor = f"{escape(report.author_id)}&{escape(report.author_name)}"
    segments = [
        "|".join(
            [
                "MSH",
                "^~\\&",
                SENDING_APPLICATION,
                escape(context.sending_facility),
                escape(context.receiving_application),
                escape(context.receiving_facility),
                stamp,
                "",
                "ORU^R01^ORU_R01",
                escape(context.control_id),
                "P",
                "2.5",
                "",
                "",
                "AL",
                "NE",
                "",
                "UNICODE UTF-8",
            ]
        ),
        f"PID|1||{escape(context.patient_id)}^^^{escape(context.issuer)}",
        "|".join(
            [
                "OBR",
                "1",
                escape(context.accession),
                escape(context.accession),
                f"^{escape(context.procedure)}",
                *[""] * 17,
                stamp,
                "",
                "",
                status,
                *[""] * 6,  # OBR-26 to OBR-31
                doctor,  # OBR-32, principal result interpreter
            ]
        ),
    ]
    lines = report.text.splitlines() or [""]
    n = 0
    for line in lines:
        n += 1
        segments.append(f"OBX|{n}|TX|18782-3^Findings^LN||{escape(line)}||||||{status}")
    if report.conclusion:
        for line in report.conclusion.splitlines():
            n += 1
            segments.append(f"OBX|{n}|TX|19005-8^Impression^LN||{escape(line)}||||||{status}")
    if report.critical:
        n += 1
        segments.append(f"OBX|{n}|CE|RID49482^Critical result^RADLEX||Y||||||{status}")
    n += 1
    segments.append(f"OBX|{n}|ST|STUDYUID^Study Instance UID^DCM||{context.study_uid}||||||F")
    return "\r".join(segments)


def check_ack(answer: str, control_id: str) -> str:
    """The ACK's code (AA/CA) if it accepts message ``control_id``.

    Raises
    ------
    RejectedError
        An AE/AR (or CE/CR) answer, with the receiver's text; an ACK for another message.
    """
    try:
        message = hl7.parse(answer)
        code = str(message.segment("MSA")[1])
        acked = str(message.segment("MSA")[2])
        text = str(message.segment("MSA")[3]) if len(message.segment("MSA")) > 3 else ""
    except (KeyError, IndexError, hl7.ParseException) as exc:
        raise RejectedError(f"unreadable HL7 answer: {answer[:80]!r}") from exc
    if acked != control_id:
        raise RejectedError(f"HL7 ACK for message {acked!r}, expected {control_id!r}")
    if code not in {"AA", "CA"}:
        raise RejectedError(f"HL7 {code}: {unescape(text) or 'no reason given'}")
    return code
