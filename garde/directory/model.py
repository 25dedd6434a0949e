"""A health professional as the directory knows them, and the RPPS number's check."""

from __future__ import annotations

from dataclasses import dataclass

RPPS_LENGTH = 11


def rpps_valid(value: str) -> bool:
    """An RPPS number: 11 digits whose last is a Luhn check digit (ISO/IEC 7812)."""
    if len(value) != RPPS_LENGTH or not value.isascii() or not value.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(value)):
        digit = int(char)
        if position % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Professional:
    """One professional of the extract (their rows, one per practice, merged).

    ``specialties`` are the savoir-faire codes kept by the filter (``SM44``...), in the
    order first met; ``structures`` the practice sites' names.
    """

    rpps: str
    last_name: str
    first_name: str
    title: str = ""  # civilité d'exercice, e.g. "Docteur" (empty if none)
    profession: str = ""
    specialties: tuple[str, ...] = ()
    specialty_labels: tuple[str, ...] = ()
    structures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not rpps_valid(self.rpps):
            raise ValueError(f"malformed RPPS number {self.rpps!r}")

    @property
    def display_name(self) -> str:
        """``Dr Claire Morel``: the name people read (the extract is in capitals)."""
        name = f"{_capitalised(self.first_name)} {_capitalised(self.last_name)}".strip()
        prefix = "Dr " if self.title.strip().upper() in {"DR", "DOCTEUR"} else ""
        return prefix + name


def _capitalised(text: str) -> str:
    """``JEAN-PIERRE`` -> ``Jean-Pierre``, ``DE LA TOUR`` -> ``De La Tour``."""
    return " ".join(part.title() for part in text.split())
