"""UID validation: the only way a UID from the network becomes part of a file path."""

from __future__ import annotations

import re

from garde.dicom_gateway.errors import InvalidUIDError

MAX_UID_LENGTH = 64
# Digits and dots, no empty component: rules out "", ".", "..", "/", "\\" and NULs.
# Leading zeros in a component are non-conformant but harmless in a path; real
# modalities emit them, so they are tolerated.
_UID = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def is_valid_uid(value: object) -> bool:
    """True if ``value`` is a string of digits and dots of at most 64 characters."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_UID_LENGTH
        and _UID.fullmatch(value) is not None
    )


def checked_uid(name: str, value: object) -> str:
    """``value`` if it is a valid UID, else raise `InvalidUIDError` naming ``name``."""
    if not is_valid_uid(value):
        raise InvalidUIDError(name, value)
    return str(value)
