"""What can be wrong with a directory extract."""

from __future__ import annotations


class DirectoryError(Exception):
    """Base of the directory's errors."""


class ExtractLayoutError(DirectoryError):
    """The file is not in the PS_LibreAcces layout: ``missing`` names the absent columns."""

    def __init__(self, path: str, missing: tuple[str, ...]) -> None:
        self.missing = missing
        columns = ", ".join(repr(c) for c in missing)
        super().__init__(
            f"{path}: not a PS_LibreAcces extract (pipe-separated); missing columns: {columns}"
        )


class ExtractRowsError(DirectoryError):
    """Rows of the extract are wrong: ``problems`` are (line, message); nothing imported."""

    def __init__(self, path: str, problems: tuple[tuple[int, str], ...]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {path}:{line}: {message}" for line, message in problems)
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported:\n{lines}")
