"""The C-STORE statuses the gateway answers, one name per outcome (DICOM PS3.4 B.2.3)."""

from __future__ import annotations

SUCCESS = 0x0000
# Refused, out of resources: disk full, permission, database error. The sender retries.
OUT_OF_RESOURCES = 0xA700
# Error, data set does not match SOP class: its SOP Class / Instance UID differ from the
# C-STORE request's.
DATASET_MISMATCH = 0xA900
# Error, cannot understand: a missing or invalid UID (it would have become a path).
INVALID_UID = 0xC000
# Cannot understand: the header does not decode in the negotiated transfer syntax.
DECODE_FAILURE = 0xC210
# pynetdicom's "unhandled exception in the handler": anything unexpected.
HANDLER_ERROR = 0xC211
