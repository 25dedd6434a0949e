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
# Failure, duplicate SOP instance (PS3.7 C.4 general status 0x0111): a different content
# under a SOP Instance UID already stored; not stored as that instance (kept aside for an
# operator). Not A7xx (the sender would retry the same conflict forever), not A9xx (the
# data set matches its SOP class), not a warning (nothing was stored as asked). ClearCanvas
# ImageServer answers the same for its "reject duplicates" policy.
DUPLICATE_INSTANCE = 0x0111
# Cannot understand (Cxxx): the data set did not arrive whole (an element, a Pixel Data
# fragment or native Pixel Data shorter than declared); the Error Comment says which.
INCOMPLETE = 0xC220
