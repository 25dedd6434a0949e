"""Value objects of the roster part: what an import returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from garde.dispatch.model import Shift


@dataclass(frozen=True, slots=True)
class RosterImport:
    """The shifts of one roster file and the range they cover.

    ``start``/``end`` (UTC) span the earliest start to the latest end of the shifts, or
    the explicit period asked for; the store replaces exactly that range, so importing
    the same file twice leaves the same shifts (idempotent).
    """

    shifts: tuple[Shift, ...]
    start: datetime
    end: datetime
    source: Path
