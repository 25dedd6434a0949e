"""Garde: a regional teleradiology on-call dispatch engine."""

import logging

__version__ = "0.1.0"

# A library adds no handlers of its own; cli.py configures logging once.
logging.getLogger(__name__).addHandler(logging.NullHandler())
