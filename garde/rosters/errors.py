"""Roster errors: one base, `RosterError`, and what import and generation raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


class RosterError(Exception):
    """Base of every roster error."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in a roster file.

    ``where`` is the 1-based line of a CSV file, ``"row N"`` of a spreadsheet, or the
    event (``"event 3 (UID ...)"``) of an iCalendar file.
    """

    file: Path
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file.name}:{self.where}: {self.reason}"


class RosterImportError(RosterError):
    """A roster file was rejected; nothing of it was imported.

    ``errors`` lists every problem found (not just the first), one per line in the message.
    """

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: tuple[RowError, ...] = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class RosterFormatError(RosterError):
    """A roster file's kind (suffix) is not one Garde reads."""


class RosterGenerationError(RosterError):
    """A generation request is malformed (not infeasible: infeasibility is explained)."""
