"""Presentation contexts the gateway accepts: Verification and every Storage SOP class.

pynetdicom's default contexts cover about 120 storage classes and only uncompressed
transfer syntaxes; real traffic (CT Performed Procedure Protocol, Radiation Dose SR,
JPEG-compressed CR...) would be refused at negotiation. The list here is pynetdicom's
170 storage classes plus the ones pydicom's UID dictionary knows that it misses,
each with the common transfer syntaxes. Instances are stored as received, never
decoded, so accepting a compressed syntax costs nothing.
"""

from __future__ import annotations

from functools import cache

from pydicom import uid
from pydicom._uid_dict import UID_dictionary
from pynetdicom import sop_class
from pynetdicom.presentation import PresentationContext, build_context

# Implicit / explicit VR little endian first: the uncompressed syntaxes most senders use.
TRANSFER_SYNTAXES: tuple[str, ...] = (
    uid.ImplicitVRLittleEndian,
    uid.ExplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,  # process 14
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.RLELossless,
)

# Named "... Storage" in the standard but not composite instances of a patient's study:
# storage commitment is an N-ACTION service, a DICOMDIR never travels by C-STORE, and
# these non-patient objects (hanging protocols, palettes, implant templates, protocol
# definitions, inventories) carry no Study Instance UID to file them under.
_NOT_PATIENT_STORAGE = frozenset(
    {
        "1.2.840.10008.1.20.1",  # Storage Commitment Push Model
        "1.2.840.10008.1.3.10",  # Media Storage Directory Storage
        "1.2.840.10008.5.1.4.38.1",  # Hanging Protocol Storage
        "1.2.840.10008.5.1.4.39.1",  # Color Palette Storage
        "1.2.840.10008.5.1.4.43.1",  # Generic Implant Template Storage
        "1.2.840.10008.5.1.4.44.1",  # Implant Assembly Template Storage
        "1.2.840.10008.5.1.4.45.1",  # Implant Template Group Storage
        "1.2.840.10008.5.1.4.1.1.200.1",  # CT Defined Procedure Protocol Storage
        "1.2.840.10008.5.1.4.1.1.200.3",  # Protocol Approval Storage
        "1.2.840.10008.5.1.4.1.1.200.7",  # XA Defined Procedure Protocol Storage
        "1.2.840.10008.5.1.4.1.1.201.1",  # Inventory Storage
    }
)


@cache
def storage_sop_classes() -> tuple[str, ...]:
    """Every patient-level Storage SOP class UID (active and retired), sorted."""
    known = set(sop_class._STORAGE_CLASSES.values())  # noqa: SLF001 - pynetdicom's full list
    for value, (name, kind, *_rest) in UID_dictionary.items():
        if kind == "SOP Class" and "Storage" in name:
            known.add(value)
    return tuple(sorted(known - _NOT_PATIENT_STORAGE))


def scp_contexts(
    transfer_syntaxes: tuple[str, ...] = TRANSFER_SYNTAXES,
) -> list[PresentationContext]:
    """Verification plus one context per storage SOP class, as an SCP supports them."""
    contexts = [build_context(sop_class.Verification)]  # type: ignore[attr-defined]
    contexts.extend(build_context(cls, list(transfer_syntaxes)) for cls in storage_sop_classes())
    return contexts
