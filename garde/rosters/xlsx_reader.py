"""Spreadsheet rosters (.xlsx), read with `openpyxl`.

The first sheet (or the one named ``roster``) is laid out like the CSV: a header row
with ``radiologist``, ``start``, ``end`` and optionally ``role`` and ``sites`` (see
`garde.rosters.csv_reader`). Start and end may be date-time cells or text; date-time
cells are wall-clock times of the import's time zone. Errors name the row and, where one
cell is at fault, its column (``row 7, column B``). A sheet whose header is
``radiologist`` then days (text or date cells) is a grid roster (`garde.rosters.grid`).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from garde.rosters.csv_reader import REQUIRED
from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.grid import grid_rows, is_grid_header
from garde.rosters.matching import ImportRules
from garde.rosters.raw_shift import DEFAULT_ROLE, RawShift

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

SHEET = "roster"

# What openpyxl raises on a damaged workbook: not a zip, a zip without a workbook in it
# (KeyError), corrupt compressed data, or malformed XML (ParseError is a SyntaxError).
_DAMAGED = (BadZipFile, InvalidFileException, KeyError, EOFError, zlib.error, SyntaxError)


def read_xlsx(path: Path, rules: ImportRules | None = None) -> list[RawShift]:
    """The rows of the roster sheet as raw shifts."""
    try:
        values = _cells(path)
    except _DAMAGED as exc:  # only openpyxl's reading: a bug of ours is not "damage"
        reason = f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"
        raise RosterImportError([RowError(path, "0", reason)]) from exc
    return _rows(path, values, rules or ImportRules())


def _locate(number: int, col: int) -> tuple[str, str]:
    return f"row {number}", f", column {get_column_letter(col)}"


def _cells(path: Path) -> list[tuple[object, ...]]:
    # The file is ours to close: openpyxl leaves its handle open when it fails half-way
    # (read-only workbooks parse sheets lazily, so damage may surface while iterating).
    with path.open("rb") as handle:
        book = load_workbook(handle, read_only=True, data_only=True)
        try:
            sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
            return list(sheet.iter_rows(values_only=True))
        finally:
            book.close()


def _rows(
    path: Path, values_by_row: Iterable[tuple[object, ...]], rules: ImportRules
) -> list[RawShift]:
    header: list[str] | None = None
    rows: list[RawShift] = []
    lines = (
        (number, cells)
        for number, values in enumerate(values_by_row, start=1)
        if (cells := ["" if v is None else v for v in values])
        and any(str(c).strip() for c in cells)
        and not str(cells[0]).startswith("#")
    )
    for number, cells in lines:
        if header is None and is_grid_header(cells):
            return grid_rows(path, (number, cells), lines, rules, _locate)
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
                columns={name: _locate(number, col)[1] for col, name in enumerate(header, 1)},
            )
        )
    if header is None:
        raise RosterImportError([RowError(path, "row 1", "missing header row")])
    return rows


def _cell(value: object) -> object:
    return value.strip() if isinstance(value, str) else value
