"""The planner's words -> the registry's: radiologists by id or display name, roles by
name or French alias, grid cell codes.

Planners write ``Dr Claire Morel``, ``Claire Morel`` or ``MOREL`` where the config says
``r01``, and ``nuit`` or ``astreinte`` where the roster says ``night`` or ``oncall``. Each
word is matched without case or accents; a name that fits two radiologists is an error
naming both, never a guess.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from garde.dispatch.model import Radiologist

DEFAULT_ROLES = ("oncall", "night", "day", "stroke", "backup")
_TITLES = frozenset({"dr", "dr.", "docteur", "pr", "pr.", "professeur"})


@dataclass(frozen=True, slots=True)
class CellCode:
    """A grid cell code: a shift of ``role`` from ``start`` to ``end`` local time on the
    cell's day (an ``end`` not after ``start`` ends the next morning)."""

    role: str
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class ImportRules:
    """What an imported shift must satisfy beyond the registry (from ``[rosters]``).

    ``roles`` are the allowed roles and ``role_aliases`` the planner's words for them;
    ``max_shift`` bounds a shift's length; ``grid_codes`` and ``grid_off_codes`` read the
    cells of a grid roster (an empty cell is always "no shift").
    """

    roles: tuple[str, ...] = DEFAULT_ROLES
    role_aliases: Mapping[str, str] = field(default_factory=dict)
    max_shift: timedelta = timedelta(hours=24)
    grid_codes: Mapping[str, CellCode] = field(default_factory=dict)
    grid_off_codes: frozenset[str] = frozenset({"-"})

    def __post_init__(self) -> None:
        if not self.max_shift > timedelta(0):
            raise ValueError(f"max_shift must be positive, got {self.max_shift}")
        bad = sorted(a for a, role in self.role_aliases.items() if role not in self.roles)
        if bad:
            raise ValueError(f"role aliases {bad} name no role of {list(self.roles)}")

    def role(self, text: str) -> str:
        """The role ``text`` names; `LookupError` listing the allowed words if none."""
        word = fold(text)
        for role in self.roles:
            if fold(role) == word:
                return role
        for alias, role in self.role_aliases.items():
            if fold(alias) == word:
                return role
        words = ", ".join([*self.roles, *sorted(self.role_aliases)])
        raise LookupError(f"unknown role {text!r} (expected one of: {words})")

    def cell(self, text: str) -> CellCode | None:
        """The shift a grid cell's code stands for; None for no shift; `LookupError`."""
        code = text.strip()
        if not code or fold(code) in {fold(c) for c in self.grid_off_codes}:
            return None
        for known, meaning in self.grid_codes.items():
            if fold(known) == fold(code):
                return meaning
        known_codes = ", ".join([*self.grid_codes, *sorted(self.grid_off_codes)])
        raise LookupError(
            f"cell code {code!r} is not in [rosters.grid_codes] (known: {known_codes})"
        )


def fold(text: str) -> str:
    """``text`` without case, accents or repeated spaces: ``Inès  GARNIER`` -> ``ines garnier``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def _untitled(name: str) -> str:
    words = fold(name).split()
    while words and words[0] in _TITLES:
        words = words[1:]
    return " ".join(words)


def match_radiologist(text: str, radiologists: Sequence[Radiologist]) -> Radiologist:
    """The radiologist ``text`` names: an id, an RPPS number, a display name (with or
    without its title, ``Dr Claire Morel`` or ``Claire Morel``), or a surname that only
    one radiologist has.

    Raises
    ------
    LookupError
        Nobody matches, or several do (the message names them all).
    """
    wanted = text.strip()
    for radiologist in radiologists:
        if wanted and wanted in {radiologist.id, radiologist.rpps}:
            return radiologist
    key = _untitled(wanted)
    if not key:
        raise LookupError("missing radiologist")
    by_name = [r for r in radiologists if _untitled(r.name) == key]
    if not by_name:
        by_name = [r for r in radiologists if _untitled(r.name).split()[-1:] == [key]]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        names = ", ".join(f"{r.id} ({r.name})" for r in by_name)
        raise LookupError(f"ambiguous radiologist {wanted!r}: could be {names}; use the id")
    raise LookupError(f"unknown radiologist {wanted!r}")
