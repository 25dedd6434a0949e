"""Errors of report building and delivery."""

from __future__ import annotations


class ReportingError(Exception):
    """Base of the reporting package's errors."""


class DeliveryError(ReportingError):
    """A destination did not take a report (retried; ``str`` is for the operator)."""


class RejectedError(DeliveryError):
    """The destination answered and refused (HL7 AE/AR, a DICOM failure status)."""
