"""The resume log of `garde push`: which files the gateway acknowledged.

One JSON line per acknowledged file (absolute path, size, modification time), appended
and flushed as each success arrives, so a push killed half-way resumes where it was.
A file changed since (size or mtime) is sent again.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


class ResumeLog:
    """Acknowledged files, read from and appended to ``path`` (emptied first if ``fresh``)."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.path = path
        self._done: set[tuple[str, int, int]] = set()
        if path.exists() and not fresh:
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                try:
                    entry = json.loads(line)
                    self._done.add((str(entry["path"]), int(entry["size"]), int(entry["mtime_ns"])))
                except (ValueError, KeyError, TypeError):
                    # a line cut short by a kill: that file is simply sent again
                    logger.warning("%s:%d: unreadable resume entry ignored", path, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: TextIO = path.open("w" if fresh else "a", encoding="utf-8")

    def acknowledged(self, path: Path) -> bool:
        """True if ``path``, unchanged, was acknowledged on an earlier run."""
        try:
            return _key(path) in self._done
        except OSError:
            return False

    def add(self, path: Path) -> None:
        """Record ``path`` as acknowledged (flushed at once)."""
        name, size, mtime = _key(path)
        self._done.add((name, size, mtime))
        self._out.write(json.dumps({"path": name, "size": size, "mtime_ns": mtime}) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Close the log file."""
        self._out.close()
