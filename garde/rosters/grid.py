"""Grid rosters: one row per radiologist, one column per day, a code in each cell.

The layout planners keep in a spreadsheet::

    radiologist,      2026-12-01, 2026-12-02, 2026-12-03
    Dr Claire Morel,  N,          R,
    r02,              J,          N,          -

The header's first cell is ``radiologist`` and every other one a day (``2026-12-01``
or ``01/12/2026``); a row names a radiologist by id or display name. Each cell's code
stands for a shift of that day in ``[rosters.grid_codes]`` (``N`` = night 20:00 to
08:00 the next morning); an empty cell or an off code (``R``, ``CA``, ``-``) is no shift.
A code that is not in the map is refused with its line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.raw_shift import RawShift

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from garde.rosters.matching import ImportRules

_FRENCH_DAY = re.compile(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$")
GRID_FIRST = frozenset({"radiologist", "radiologue", "name", "nom"})

# (line or row number, 1-based column) -> (row locator, column suffix)
Locate = Callable[[int, int], tuple[str, str]]


def header_day(value: object) -> date | None:
    """The day a header cell names, or None (a `datetime` cell counts by its date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    match = _FRENCH_DAY.match(text)
    try:
        if match:
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
        return date.fromisoformat(text)
    except ValueError:
        return None


def is_grid_header(cells: Sequence[object]) -> bool:
    """True if the header is a grid's: ``radiologist`` then at least one day."""
    first = str(cells[0]).strip().lower() if cells else ""
    days = [header_day(c) for c in cells[1:] if str(c).strip()]
    return first in GRID_FIRST and bool(days) and all(d is not None for d in days)


def grid_rows(
    path: Path,
    header: tuple[int, Sequence[object]],
    rows: Iterable[tuple[int, Sequence[object]]],
    rules: ImportRules,
    locate: Locate,
) -> list[RawShift]:
    """Raw shifts of a grid (every unmapped code reported at once, nothing returned)."""
    header_number, header_cells = header
    days: dict[int, date] = {}
    for col, value in enumerate(header_cells[1:], start=2):
        if not str(value).strip():
            continue
        day = header_day(value)
        if day is None:  # pragma: no cover - is_grid_header checked every day already
            where, column = locate(header_number, col)
            raise RosterImportError([RowError(path, where + column, f"not a day: {value!r}")])
        days[col] = day
    shifts: list[RawShift] = []
    errors: list[RowError] = []
    for number, cells in rows:
        name = str(cells[0]).strip() if cells else ""
        for col, day in days.items():
            raw = cells[col - 1] if col - 1 < len(cells) else ""
            code_text = "" if raw is None else str(raw)
            where, column = locate(number, col)
            try:
                code = rules.cell(code_text)
            except LookupError as exc:
                errors.append(RowError(path, where + column, f"{day:%Y-%m-%d}: {exc.args[0]}"))
                continue
            if code is None:
                continue
            start = datetime.combine(day, code.start)
            end_day = day if code.end > code.start else day + timedelta(days=1)
            _, name_column = locate(number, 1)
            shifts.append(
                RawShift(
                    where=where,
                    radiologist=name,
                    start=start,
                    end=datetime.combine(end_day, code.end),
                    role=code.role,
                    columns={
                        "radiologist": name_column,
                        "start": column,
                        "end": column,
                        "role": column,
                        "sites": column,
                    },
                )
            )
    if errors:
        raise RosterImportError(errors)
    return shifts
