"""The gateway's exceptions; the C-STORE handler translates each into one DICOM status."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every gateway error."""


class InvalidUIDError(GatewayError, ValueError):
    """A UID is missing, too long or not digits and dots: it never becomes a path."""

    def __init__(self, name: str, value: object) -> None:
        # repr, truncated: the value came from the network and may be hostile
        super().__init__(f"{name} is not a valid UID: {str(value)[:80]!r}")
        self.name = name


class DatasetMismatchError(GatewayError):
    """The dataset's SOP Class or SOP Instance UID differs from the C-STORE request's."""


class TransferSyntaxMismatchError(GatewayError):
    """The dataset is not encoded in the transfer syntax negotiated for its context."""


class UnknownSenderError(GatewayError):
    """The calling AE title belongs to no configured site (any more)."""


class IncompleteDatasetError(GatewayError):
    """The dataset did not arrive whole (an element or Pixel Data shorter than declared)."""


class InstanceConflictError(GatewayError):
    """A different content under a SOP Instance UID already stored: not stored as it."""
