"""The resume log of `garde push`: which files the gateway acknowledged.

One JSON line per acknowledged file, keyed by its content (SHA-256 of its bytes, with
its path for the reader), appended and flushed as each success arrives, so a push killed
half-way resumes where it was. Keyed by content, not by where the file is or which port
took it: the same study sent again from a copy, or to a standby of the same gateway,
skips what was acknowledged; a file changed since is sent again. Lines of the older form
(path, size, modification time) are still honoured.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _digest(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity of what was acknowledged."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class ResumeLog:
    """Acknowledged files, read from and appended to ``path`` (emptied first if ``fresh``)."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.path = path
        self._done: set[tuple[str, int, int]] = set()
        self._digests: set[str] = set()
        if path.exists() and not fresh:
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                try:
                    entry = json.loads(line)
                    if "sha256" in entry:
                        self._digests.add(str(entry["sha256"]))
                    else:
                        self._done.add(
                            (str(entry["path"]), int(entry["size"]), int(entry["mtime_ns"]))
                        )
                except (ValueError, KeyError, TypeError):
                    # a line cut short by a kill: that file is simply sent again
                    logger.warning("%s:%d: unreadable resume entry ignored", path, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: TextIO = path.open("w" if fresh else "a", encoding="utf-8")

    def acknowledged(self, path: Path) -> bool:
        """True if ``path``, unchanged, was acknowledged on an earlier run."""
        try:
            return _key(path) in self._done or _digest(path) in self._digests
        except OSError:
            return False

    def add(self, path: Path) -> None:
        """Record ``path``'s content as acknowledged (flushed at once)."""
        digest = _digest(path)
        self._digests.add(digest)
        entry = {"sha256": digest, "path": str(path.resolve())}
        self._out.write(json.dumps(entry) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Close the log file."""
        self._out.close()
