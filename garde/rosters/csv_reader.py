"""CSV rosters.

Columns (a header row is required; names are case-insensitive, order free)::

    radiologist  the radiologist's id in the config (r01)               required
    start        start of the shift                                       required
    end          end of the shift (after start; a night ends next day)   required
    role         oncall (default), night, day, stroke, backup...          optional
    sites        ";"-separated site ids (h01;h03), or "all" / empty for   optional
                 every site the radiologist is credentialed for

Times are ``2025-10-25 18:00`` (ISO, ``T`` or space), ``25/10/2025 18:00`` (French),
or ISO with an offset (``2025-10-25T18:00+02:00``, ``...Z``). Times without an offset
are wall-clock times of the import's time zone (Europe/Paris by default), so a night
18:00-08:30 across the October change lasts 15.5 h. Blank lines and lines whose first
cell starts with ``#`` are ignored. A French Excel export separated by ``;`` is read
too; its sites are then separated by commas (h01,h03). Errors name the file's line and,
where one cell is at fault, its column (``roster.csv:4:2: unknown radiologist``).

``radiologist`` is an id or a display name (``Dr Claire Morel``, ``Claire Morel``, or a
surname only one radiologist has); ``role`` is one of ``[rosters] roles`` or an alias
(``nuit``, ``garde``, ``astreinte``). A header ``radiologist,2026-12-01,2026-12-02,...``
is a grid roster instead (see `garde.rosters.grid`).
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.grid import GRID_FIRST, grid_rows, is_grid_header
from garde.rosters.matching import ImportRules
from garde.rosters.raw_shift import DEFAULT_ROLE, RawShift

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = ("radiologist", "start", "end", "role", "sites")
REQUIRED = ("radiologist", "start", "end")


def read_csv(path: Path, rules: ImportRules | None = None) -> list[RawShift]:
    """The rows of a CSV roster (`RosterImportError` if a required column is missing)."""
    text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    try:
        return _rows(path, text, rules or ImportRules())
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise RosterImportError([RowError(path, "0", f"not a readable CSV file: {exc}")]) from exc


def _rows(path: Path, text: str, rules: ImportRules) -> list[RawShift]:
    reader = csv.reader(text.splitlines(), _dialect(text))
    header: list[str] | None = None
    rows: list[RawShift] = []
    lines = (
        (line, cells)
        for line, cells in enumerate(reader, start=1)
        if any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#")
    )
    for line, cells in lines:
        if header is None and is_grid_header(cells):
            return grid_rows(path, (line, cells), lines, rules, lambda n, col: (str(n), f":{col}"))
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise RosterImportError(
                    [RowError(path, str(line), f"missing column {c!r}") for c in missing]
                )
            continue
        cell = dict(zip(header, (c.strip() for c in cells), strict=False))
        rows.append(
            RawShift(
                where=str(line),
                radiologist=cell.get("radiologist", ""),
                start=cell.get("start", ""),
                end=cell.get("end", ""),
                role=cell.get("role", "") or DEFAULT_ROLE,
                sites=cell.get("sites", ""),
                columns={name: f":{col}" for col, name in enumerate(header, start=1)},
            )
        )
    if header is None:
        raise RosterImportError([RowError(path, "1", "missing header row")])
    return rows


def _dialect(text: str) -> type[csv.Dialect]:
    """Comma by default; a French Excel export uses semicolons between columns."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    named = "radiologist" in first.lower() or first.split(";")[0].strip().lower() in GRID_FIRST
    if first.count(";") > first.count(",") and named:

        class _Semicolon(csv.excel):
            delimiter = ";"

        return _Semicolon
    return csv.excel
