"""Errors of the preview pipeline: one base, `PreviewError`, and what can go wrong."""

from __future__ import annotations


class PreviewError(Exception):
    """Base of every error raised by `garde.viewer_export`."""


class NoPixelDataError(PreviewError):
    """The file holds no image (a structured report, a presentation state...)."""


class UnsupportedImageError(PreviewError):
    """The image exists but this pipeline cannot render it; the message says why."""


class EmptySeriesError(PreviewError):
    """A series was given with no renderable instance."""
