"""Planners' availability file (CSV), read into generation `Availability` records.

Columns (header required, case-insensitive, order free)::

    radiologist    id in the config (r01)                                    required
    unavailable    days off, ";"-separated ISO dates (2026-12-24;2026-12-25)  optional
    max_nights     the most nights they will take this month                  optional
    fraction       part-time fraction, 0 < f <= 1 (default 1)                 optional
    wished_nights  evenings they would like to start a night, ISO dates       optional

Errors name the file, the line and the reason; on any error nothing is returned.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import TYPE_CHECKING

from garde.rosters.errors import RosterImportError, RowError
from garde.rosters.generation.request import Availability

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path


def read_availability(path: Path, radiologist_ids: Collection[str]) -> tuple[Availability, ...]:
    """Parse ``path``; raises `RosterImportError` listing every bad line."""
    errors: list[RowError] = []
    result: list[Availability] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = {f.strip().lower() for f in reader.fieldnames or ()}
        if "radiologist" not in fields:
            raise RosterImportError([RowError(path, "line 1", "missing column 'radiologist'")])
        for line, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            where = f"line {line}"
            rid = row.get("radiologist", "")
            if rid not in radiologist_ids:
                errors.append(RowError(path, where, f"unknown radiologist {rid!r}"))
                continue
            try:
                result.append(
                    Availability(
                        radiologist_id=rid,
                        unavailable=_dates(row.get("unavailable", "")),
                        max_nights=int(row["max_nights"]) if row.get("max_nights") else None,
                        fraction=float(row["fraction"]) if row.get("fraction") else 1.0,
                        wished_nights=_dates(row.get("wished_nights", "")),
                    )
                )
            except ValueError as exc:
                errors.append(RowError(path, where, str(exc)))
    if errors:
        raise RosterImportError(errors)
    return tuple(result)


def _dates(cell: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(part.strip()) for part in cell.split(";") if part.strip())
