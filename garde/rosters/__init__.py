"""Rosters: import (CSV, iCalendar, XLSX), validation, CP-SAT generation and export.

The public API is re-exported here; the CLI and services import from `garde.rosters`.
Generation lives in `garde.rosters.generation` (imported on its own: OR-Tools takes
half a second to load, which `garde roster import` should not pay).
"""

from __future__ import annotations

from garde.rosters._localtime import day_range
from garde.rosters.errors import (
    RosterError,
    RosterFormatError,
    RosterGenerationError,
    RosterImportError,
    RowError,
)
from garde.rosters.export import write_csv, write_ics
from garde.rosters.heatmap import render_heatmap
from garde.rosters.importer import import_roster, roster_zone
from garde.rosters.model import RosterImport
from garde.rosters.oncall import OnCallHours
from garde.rosters.report_text import render_text
from garde.rosters.validation import Gap, RosterReport, ValidationRules, Violation, validate

__all__ = [
    "Gap",
    "OnCallHours",
    "RosterError",
    "RosterFormatError",
    "RosterGenerationError",
    "RosterImport",
    "RosterImportError",
    "RosterReport",
    "RowError",
    "ValidationRules",
    "Violation",
    "day_range",
    "import_roster",
    "render_heatmap",
    "render_text",
    "roster_zone",
    "validate",
    "write_csv",
    "write_ics",
]
