"""Who the patient is, without ever keeping who they are: the INS and the patient key.

The INS (identifiant national de santé) is the NIR (13 characters) and its 2-digit key,
qualified by the OID of its assigning authority (the French interoperability framework,
CI-SIS): ``1.2.250.1.213.1.4.8`` for the INS-NIR, ``.10`` for test and ``.11`` for
demonstration identities. In DICOM it is an issuer-qualified patient ID: PatientID with
IssuerOfPatientID (the OID itself, or the OID in the Issuer of Patient ID Qualifiers
Sequence's Universal Entity ID), or an item of the Other Patient IDs Sequence.

A valid INS keys the patient across hospitals; without one the patient is known per
hospital only (PatientID with its issuer, at the sending site). Names and birth dates
are never read: two patients are never linked by them. Keys are HMACs under a secret of
the region, so neither the store nor a log holds an identifier in clear.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import sha256
from typing import Any

INS_NIR = "1.2.250.1.213.1.4.8"
INS_NIR_TEST = "1.2.250.1.213.1.4.10"
INS_NIR_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = frozenset({INS_NIR, INS_NIR_TEST, INS_NIR_DEMO})
_INS_ROOT = "1.2.250.1.213.1.4."  # the INS authorities' arc: any other one is unknown here
_NIR_LENGTH = 13
_INS_LENGTH = 15  # NIR and key


class InsProblem(StrEnum):
    """Why an INS an instance carries is not used for linking (logged, never the value)."""

    BAD_CHECKSUM = "bad_checksum"  # malformed NIR, or its key does not match
    UNKNOWN_ISSUER = "unknown_issuer"  # an INS-like issuer that is not an INS OID


def nir_valid(ins: str) -> bool:
    """A 15-character INS: 13-character NIR (Corsica's 2A/2B allowed) and its key,
    97 minus the NIR modulo 97 (2A counts as 19, 2B as 18)."""
    if len(ins) != _INS_LENGTH or not ins.isascii():
        return False
    nir, key = ins[:_NIR_LENGTH].upper(), ins[_NIR_LENGTH:]
    department = nir[5:7]
    if department in {"2A", "2B"}:
        nir = nir[:5] + ("19" if department == "2A" else "18") + nir[7:]
    if not nir.isdigit() or not key.isdigit() or nir[0] not in "1234578":
        return False
    return 97 - int(nir) % 97 == int(key)


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """The identifiers one instance carries (values kept out of repr: never logged)."""

    patient_id: str = field(default="", repr=False)
    issuer: str = field(default="", repr=False)  # IssuerOfPatientID or its OID
    ins: str = field(default="", repr=False)  # "<OID>^<INS>" when a valid INS is carried
    ins_problem: InsProblem | None = None

    def key(self, secret: bytes, site_id: str) -> str:
        """The patient key: across hospitals with a valid INS, else per sending site
        (PatientID + issuer); empty without any identifier."""
        if self.ins:
            return hmac.new(secret, f"INS\x1f{self.ins}".encode(), sha256).hexdigest()
        if not self.patient_id:
            return ""
        # Without an issuer, the key of the earlier releases (site and PatientID).
        parts = (
            [site_id, self.issuer, self.patient_id] if self.issuer else [site_id, self.patient_id]
        )
        return hmac.new(secret, "\x1f".join(parts).encode(), sha256).hexdigest()


def identity_from(
    patient_id: str, issuer: str, qualifiers: Any = None, others: Any = None
) -> PatientIdentity:
    """The identity of an instance: its PatientID and IssuerOfPatientID, the Issuer of
    Patient ID Qualifiers and Other Patient IDs sequences (pydicom sequences, or None)."""
    authority = _issuer(issuer, qualifiers)
    candidates = [(patient_id, authority)]
    candidates.extend(
        (
            _text(item.get("PatientID")),
            _issuer(
                _text(item.get("IssuerOfPatientID")),
                item.get("IssuerOfPatientIDQualifiersSequence"),
            ),
        )
        for item in _items(others)
    )
    ins = ""
    problem: InsProblem | None = None
    for value, claimed in candidates:
        if not value or not _claims_ins(claimed):
            continue
        if claimed not in INS_OIDS:
            problem = problem or InsProblem.UNKNOWN_ISSUER
        elif not nir_valid(value):
            problem = InsProblem.BAD_CHECKSUM
        else:
            ins = f"{claimed}^{value.upper()}"
            problem = None
            break
    return PatientIdentity(patient_id, authority, ins, problem)


def _claims_ins(authority: str) -> bool:
    """An issuer that says it assigns INS: an INS authority's OID, or a name like
    ``ASIP-SANTE-INS-NIR``."""
    return authority.startswith(_INS_ROOT) or "INS" in authority.upper().replace("-", " ").split()


def _issuer(name: str, qualifiers: Any) -> str:
    """The issuer's OID (Universal Entity ID of the qualifiers) if given, else its name."""
    for item in _items(qualifiers):
        oid = _text(item.get("UniversalEntityID"))
        if oid:
            return oid
    return name


def _items(element: Any) -> list[Any]:
    value = getattr(element, "value", element)
    try:
        return list(value or [])
    except TypeError:
        return []


def _text(element: Any) -> str:
    value = getattr(element, "value", element)
    if value is None:
        return ""
    return str(value).strip()
