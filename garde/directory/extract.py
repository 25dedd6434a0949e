"""Reading the public extract of the national directory (the "PS_LibreAcces" layout).

The extract (``PS_LibreAcces_Personne_activite_*.txt``) is pipe-separated text with a
header line, one row per professional and practice. Only the rows the filter keeps
(profession and savoir-faire codes: physicians in radiology and nuclear medicine by
default) are read further; each kept row must carry a valid RPPS number. All or
nothing: one bad kept row and the whole file is refused with every bad row's line, so a
half-read extract never flags the missing half as gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from garde.directory.errors import ExtractLayoutError, ExtractRowsError
from garde.directory.model import Professional, rpps_valid

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

ID_TYPE = "Type d'identifiant PP"
ID = "Identifiant PP"
TITLE = "Libellé civilité d'exercice"
LAST_NAME = "Nom d'exercice"
FIRST_NAME = "Prénom d'exercice"
PROFESSION_CODE = "Code profession"
PROFESSION = "Libellé profession"
SPECIALTY_CODE = "Code savoir-faire"
SPECIALTY = "Libellé savoir-faire"
STRUCTURE = "Raison sociale site"
REQUIRED_COLUMNS = (
    ID_TYPE,
    ID,
    TITLE,
    LAST_NAME,
    FIRST_NAME,
    PROFESSION_CODE,
    PROFESSION,
    SPECIALTY_CODE,
    SPECIALTY,
    STRUCTURE,
)
RPPS_ID_TYPE = "8"  # the other value, 0, is an ADELI number (professions without RPPS)
PHYSICIAN = "10"
RADIOLOGY = "SM44"  # Radio-diagnostic (ordinal specialty)
NUCLEAR_MEDICINE = "SM28"  # Médecine nucléaire


@dataclass(frozen=True, slots=True)
class ExtractFilter:
    """Which rows count: ``[directory]`` professions and specialties in the config."""

    professions: frozenset[str] = frozenset({PHYSICIAN})
    specialties: frozenset[str] = frozenset({RADIOLOGY, NUCLEAR_MEDICINE})

    def keeps(self, profession: str, specialty: str) -> bool:
        """Whether a row of this profession and savoir-faire is read."""
        return profession in self.professions and specialty in self.specialties


@dataclass(frozen=True, slots=True)
class Extract:
    """The professionals an extract holds (by RPPS), and how many rows it had."""

    professionals: tuple[Professional, ...]
    rows: int
    kept_rows: int


@dataclass(slots=True)
class _Gathered:
    first_line: int
    title: str
    last_name: str
    first_name: str
    profession: str
    specialties: dict[str, str] = field(default_factory=dict)
    structures: dict[str, None] = field(default_factory=dict)


def read_extract(path: Path, keep: ExtractFilter | None = None) -> Extract:
    """Read an extract file (UTF-8, a byte order mark allowed).

    Raises
    ------
    ExtractLayoutError
        The header lacks columns of the layout (they are named).
    ExtractRowsError
        Kept rows are malformed (each with its line); nothing is to be imported.
    """
    with path.open(encoding="utf-8-sig", newline="") as lines:
        return parse_extract(lines, str(path), keep or ExtractFilter())


def parse_extract(lines: Iterable[str], source: str, keep: ExtractFilter) -> Extract:
    """`read_extract` over lines of text (``source`` names them in errors)."""
    it = iter(lines)
    header = [c.strip() for c in next(it, "").rstrip("\r\n").split("|")]
    missing = tuple(c for c in REQUIRED_COLUMNS if c not in header)
    if missing:
        raise ExtractLayoutError(source, missing)
    at = {name: header.index(name) for name in REQUIRED_COLUMNS}
    problems: list[tuple[int, str]] = []
    gathered: dict[str, _Gathered] = {}
    rows = kept = 0
    for number, raw in enumerate(it, start=2):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        rows += 1
        cells = line.split("|")
        if len(cells) < len(header) - 1:  # the layout ends each line with a "|"
            problems.append((number, f"{len(cells)} fields, expected {len(header)}"))
            continue
        cell = {name: cells[i].strip() if i < len(cells) else "" for name, i in at.items()}
        if not keep.keeps(cell[PROFESSION_CODE], cell[SPECIALTY_CODE]):
            continue
        kept += 1
        problem = _row_problem(cell)
        if problem:
            problems.append((number, problem))
            continue
        entry = gathered.setdefault(
            cell[ID],
            _Gathered(
                number,
                cell[TITLE],
                cell[LAST_NAME],
                cell[FIRST_NAME],
                cell[PROFESSION],
            ),
        )
        entry.specialties.setdefault(cell[SPECIALTY_CODE], cell[SPECIALTY])
        if cell[STRUCTURE]:
            entry.structures.setdefault(cell[STRUCTURE])
    if problems:
        raise ExtractRowsError(source, tuple(problems))
    professionals = tuple(
        Professional(
            rpps=rpps,
            last_name=g.last_name,
            first_name=g.first_name,
            title=g.title,
            profession=g.profession,
            specialties=tuple(g.specialties),
            specialty_labels=tuple(g.specialties.values()),
            structures=tuple(g.structures),
        )
        for rpps, g in sorted(gathered.items())
    )
    return Extract(professionals, rows, kept)


def _row_problem(cell: dict[str, str]) -> str:
    """What is wrong with a kept row ("" if nothing): never the row's names, only ids."""
    if cell[ID_TYPE] != RPPS_ID_TYPE:
        return f"{ID_TYPE} {cell[ID_TYPE]!r}: expected {RPPS_ID_TYPE} (an RPPS number)"
    if not rpps_valid(cell[ID]):
        return f"{ID} {cell[ID]!r} is not an RPPS number (11 digits, the last a Luhn check digit)"
    if not cell[LAST_NAME]:
        return f"{ID} {cell[ID]}: {LAST_NAME!r} is empty"
    return ""
