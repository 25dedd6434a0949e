"""Staffing demands per night (CSV): what `garde forecast --demands-out` writes and
`garde roster generate --demands` reads, so that a generated roster staffs the nights
the forecast found at risk.

Columns (header required, case-insensitive, order free)::

    night        the evening the night starts, ISO date (2026-12-24)    required
    night_staff  radiologists needed on that night, >= 1                 required
    reason       free text (the forecast's addition)                     optional

Lines starting with ``#`` are comments. Errors name the file, the line and the reason;
on any error nothing is returned.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import TYPE_CHECKING

from garde.rosters.errors import RosterImportError, RowError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


def read_demands(path: Path) -> dict[date, int]:
    """Parse ``path``; raises `RosterImportError` listing every bad line."""
    errors: list[RowError] = []
    demands: dict[date, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = [(n, text) for n, text in enumerate(handle, start=1) if not text.startswith("#")]
    reader = csv.DictReader(text for _, text in lines)
    fields = {f.strip().lower() for f in reader.fieldnames or ()}
    missing = sorted({"night", "night_staff"} - fields)
    if missing:
        first = lines[0][0] if lines else 1
        raise RosterImportError([RowError(path, f"line {first}", f"missing column(s) {missing}")])
    for (number, _), raw in zip(lines[1:], reader, strict=False):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        where = f"line {number}"
        try:
            night = date.fromisoformat(row.get("night", ""))
        except ValueError:
            errors.append(
                RowError(path, where, f"night: expected a date, got {row.get('night')!r}")
            )
            continue
        try:
            staff = int(row.get("night_staff", ""))
        except ValueError:
            staff = 0
        if staff < 1:
            errors.append(
                RowError(
                    path,
                    where,
                    f"night_staff: expected a whole number >= 1, got {row.get('night_staff')!r}",
                )
            )
            continue
        if night in demands:
            errors.append(RowError(path, where, f"night {night} is given twice"))
            continue
        demands[night] = staff
    if errors:
        raise RosterImportError(errors)
    return demands


def write_demands(path: Path, rows: Iterable[tuple[date, int, str]]) -> None:
    """Write ``(night, night_staff, reason)`` rows as the CSV `read_demands` reads."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("# staffing demands per night (garde forecast); roster generate --demands\n")
        writer = csv.writer(handle)
        writer.writerow(["night", "night_staff", "reason"])
        for night, staff, reason in rows:
            writer.writerow([night.isoformat(), staff, reason])
