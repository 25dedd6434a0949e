"""Spreadsheet rosters (.xlsx), read with `openpyxl`.

The first sheet (or the one named ``roster``) is laid out like the CSV: a header row
with ``radiologist``, ``start``, ``end`` and optionally ``role`` and ``sites`` (see
`garde.rosters.csv_reader`). Start and end may be date-time cells or text; date-time
cells are wall-clock times of the import's time zone. Errors name the row (``row 7``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openpyxl import load_workbook

from garde.rosters.csv_reader import REQUIRED
from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.importer import DEFAULT_ROLE, RawShift

if TYPE_CHECKING:
    from pathlib import Path

SHEET = "roster"


def read_xlsx(path: Path) -> list[RawShift]:
    """The rows of the roster sheet as raw shifts."""
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        header: list[str] | None = None
        rows: list[RawShift] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = ["" if v is None else v for v in values]
            if not any(str(c).strip() for c in cells) or str(cells[0]).startswith("#"):
                continue
            if header is None:
                header = [str(c).strip().lower() for c in cells]
                missing = [c for c in REQUIRED if c not in header]
                if missing:
                    raise RosterImportError(
                        [RowError(path, f"row {number}", f"missing column {c!r}") for c in missing]
                    )
                continue
            cell = dict(zip(header, cells, strict=False))
            rows.append(
                RawShift(
                    where=f"row {number}",
                    radiologist=str(cell.get("radiologist", "")).strip(),
                    start=_cell(cell.get("start", "")),
                    end=_cell(cell.get("end", "")),
                    role=str(cell.get("role", "")).strip() or DEFAULT_ROLE,
                    sites=str(cell.get("sites", "")).strip(),
                )
            )
    finally:
        book.close()
    if header is None:
        raise RosterImportError([RowError(path, "row 1", "missing header row")])
    return rows


def _cell(value: object) -> object:
    return value.strip() if isinstance(value, str) else value
