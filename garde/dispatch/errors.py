"""Errors of the dispatch core: one base class, a subclass per thing that can go wrong."""

from __future__ import annotations


class DispatchError(Exception):
    """Base of every error the dispatch core raises on purpose."""


class IllegalTransition(DispatchError):  # noqa: N818 - the name STYLE.md gives the lifecycle's error
    """An event that the study's current state does not allow (see `lifecycle`)."""


class UnknownStudyError(DispatchError, KeyError):
    """The study is not on the board."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a message reads better plainly.
        return str(self.args[0]) if self.args else "unknown study"


class UnknownRadiologistError(DispatchError, KeyError):
    """The radiologist is not on the board's roster."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown radiologist"


class DuplicateStudyError(DispatchError):
    """The study is already on the board (assign it once; use ``reassign`` to move it)."""
