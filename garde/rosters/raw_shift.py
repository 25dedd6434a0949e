"""A shift as a roster file gives it, before any check: what every reader (CSV, iCalendar,
XLSX, the grid layouts) produces and `garde.rosters.importer` checks.

Its own module so that the readers and the importer both import it and neither imports
the other (the importer picks a reader by the file's suffix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_ROLE = "oncall"


@dataclass(frozen=True, slots=True)
class RawShift:
    """One shift as read from a file, before any check.

    ``start``/``end`` are the raw values (text, or a spreadsheet's datetime); ``sites``
    is the raw text (``"h01;h02"``, ``"all"`` or empty for all credentialed sites).
    """

    where: str
    radiologist: str
    start: object
    end: object
    role: str = DEFAULT_ROLE
    sites: str = ""
    # field name -> where its cell is, appended to ``where`` (":3" in a CSV, ", column C"
    # in a spreadsheet), so an error names the line and the column.
    columns: Mapping[str, str] = field(default_factory=dict)
    all_day: bool = False  # an iCalendar event without times (refused: no shift lasts all day)

    def at(self, name: str) -> str:
        """Where the cell of field ``name`` is (the row alone if unknown)."""
        return f"{self.where}{self.columns.get(name, '')}"
