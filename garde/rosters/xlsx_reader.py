"""Spreadsheet rosters (.xlsx), read with `openpyxl`.

The first sheet (or the one named ``roster``) is laid out like the CSV: a header row
with ``radiologist``, ``start``, ``end`` and optionally ``role`` and ``sites`` (see
`garde.rosters.csv_reader`). Start and end may be date-time cells or text; date-time
cells are wall-clock times of the import's time zone. Errors name the row (``row 7``).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from garde.rosters.csv_reader import REQUIRED
from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.importer import DEFAULT_ROLE, RawShift

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

SHEET = "roster"

# What openpyxl raises on a damaged workbook: not a zip, a zip without a workbook in it
# (KeyError), corrupt compressed data, or malformed XML (ParseError is a SyntaxError).
_DAMAGED = (BadZipFile, InvalidFileException, KeyError, EOFError, zlib.error, SyntaxError)


def read_xlsx(path: Path) -> list[RawShift]:
    """The rows of the roster sheet as raw shifts."""
    try:
        values = _cells(path)
    except _DAMAGED as exc:  # only openpyxl's reading: a bug of ours is not "damage"
        reason = f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"
        raise RosterImportError([RowError(path, "0", reason)]) from exc
    return _rows(path, values)


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


def _rows(path: Path, values_by_row: Iterable[tuple[object, ...]]) -> list[RawShift]:
    header: list[str] | None = None
    rows: list[RawShift] = []
    for number, values in enumerate(values_by_row, start=1):
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
    if header is None:
        raise RosterImportError([RowError(path, "row 1", "missing header row")])
    return rows


def _cell(value: object) -> object:
    return value.strip() if isinstance(value, str) else value
