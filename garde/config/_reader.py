"""A typed reader over a parsed TOML table that collects problems instead of raising.

Collecting lets one load report every bad key at once, each with its file and dotted key.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeVar

from garde.config.errors import ConfigProblem

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")

_MISSING = object()
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class Reader:
    """Reads keys of one table; ``prefix`` is the dotted path of the table itself."""

    def __init__(
        self,
        file: str,
        table: Mapping[str, Any],
        problems: list[ConfigProblem],
        prefix: str = "",
    ) -> None:
        self.file = file
        self.table = table
        self.problems = problems
        self.prefix = prefix
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted path of ``name`` in this table."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def problem(self, name: str, message: str) -> None:
        """Record a problem at ``name``."""
        self.problems.append(ConfigProblem(self.file, self.key(name), message))

    def mark_read(self, name: str) -> None:
        """Count ``name`` as read (for a value checked by hand)."""
        self._read.add(name)

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self.table.get(name, _MISSING)

    def scalar(self, name: str, kind: type[T], default: T | object = _MISSING) -> T | None:
        """A str/int/float/bool value; None (and a problem recorded) when missing or wrong."""
        value = self._get(name)
        if value is _MISSING:
            if default is _MISSING:
                self.problem(name, f"missing; expected {_TYPE_NAMES[kind]}")
                return None
            return default  # type: ignore[return-value]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not bool and isinstance(value, bool):
            self.problem(name, f"expected {_TYPE_NAMES[kind]}, got {value!r}")
            return None
        if not isinstance(value, kind):
            self.problem(
                name, f"expected {_TYPE_NAMES[kind]}, got {type(value).__name__} {value!r}"
            )
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(name, f"expected a finite number, got {value!r}")
            return None
        return value

    def number(
        self, name: str, default: float, *, minimum: float = 0.0, strict: bool = False
    ) -> float:
        """A float >= ``minimum`` (> if ``strict``); the default if missing or bad."""
        value = self.scalar(name, float, default)
        if value is None:
            return default
        if value < minimum or (strict and value == minimum):
            self.problem(
                name, f"expected a number {'>' if strict else '>='} {minimum}, got {value}"
            )
            return default
        return value

    def flag(self, name: str, *, default: bool = False) -> bool:
        """A boolean; the default if missing or bad."""
        value = self.scalar(name, bool, default)
        return default if value is None else value

    def integer(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        """An int within [minimum, maximum]; the default if missing or bad."""
        value = self.scalar(name, int, default)
        if value is None:
            return default
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            self.problem(name, f"expected an integer {bound}, got {value}")
            return default
        return value

    def string_list(self, name: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of strings; a problem if missing (without default) or of the wrong type."""
        value = self._get(name)
        if value is _MISSING:
            if default is None:
                self.problem(name, "missing; expected a list of strings")
                return ()
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(name, f"expected a list of strings, got {value!r}")
            return ()
        return tuple(value)

    def sub(self, name: str) -> Reader:
        """A reader over the sub-table ``name`` (empty if missing)."""
        value = self._get(name)
        if value is _MISSING:
            value = {}
        elif not isinstance(value, dict):
            self.problem(name, f"expected a table, got {type(value).__name__}")
            value = {}
        return Reader(self.file, value, self.problems, self.key(name))

    def tables(self, name: str) -> list[Reader]:
        """Readers over an array of tables (``[[name]]``)."""
        value = self._get(name)
        if value is _MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(name, "expected an array of tables ([[...]])")
            return []
        return [
            Reader(self.file, item, self.problems, f"{self.key(name)}[{i}]")
            for i, item in enumerate(value)
        ]

    def mapping(self, name: str, convert: Callable[[str, Any], T | None]) -> dict[str, T]:
        """A table of arbitrary keys whose values ``convert`` checks (None: bad, skipped)."""
        sub = self.sub(name)
        result: dict[str, T] = {}
        for key, raw in sub.table.items():
            sub.mark_read(key)
            converted = convert(key, raw)
            if converted is None:
                sub.problem(key, f"unexpected value {raw!r}")
            else:
                result[key] = converted
        return result

    def reject_unknown(self) -> None:
        """Record a problem for every key of this table that no one read (typos)."""
        for name in self.table:
            if name not in self._read:
                self.problem(name, "unknown key")
