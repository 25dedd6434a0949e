"""The durable instance writer: temporary file, fsync, atomic rename, directory fsync.

After `DurableWriter.write` returns, the instance survives a crash or a power cut; if it
raises, nothing of it is left in the storage directory. Paths are built from validated
UIDs only: ``<storage>/<study_uid>/<series_uid>/<sop_instance_uid>.dcm``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from garde.dicom_gateway.uids import checked_uid

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

_COPY_CHUNK = 1 << 20
_FILE_MODE = 0o640
_DIR_MODE = 0o750
# Directories known to exist (and to have been made durable); bounded so a long-running
# gateway does not grow without limit, cleared wholesale when full (a miss costs a stat).
_MAX_KNOWN_DIRS = 65_536


@dataclass(frozen=True, slots=True)
class FileSlice:
    """The bytes of ``path`` from ``offset`` to its end (a dataset pynetdicom spooled)."""

    path: Path
    offset: int


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An instance file now durably in place."""

    relative: str  # POSIX path relative to the storage directory (what the index keeps)
    path: Path
    size_bytes: int
    replaced: bool  # a file was already there (a re-send): never delete it on rollback


class DurableWriter:
    """Writes instance files durably under ``storage_dir``.

    Parameters
    ----------
    storage_dir
        The root of the storage; created if missing. Several processes may share it.
    """

    def __init__(self, storage_dir: Path) -> None:
        self.root = Path(storage_dir).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._known_dirs: set[str] = set()
        self._lock = threading.Lock()

    def relative_path(self, study_uid: str, series_uid: str, sop_instance_uid: str) -> str:
        """``<study>/<series>/<sop>.dcm`` after checking each UID (digits and dots)."""
        study = checked_uid("StudyInstanceUID", study_uid)
        series = checked_uid("SeriesInstanceUID", series_uid)
        sop = checked_uid("SOPInstanceUID", sop_instance_uid)
        return f"{study}/{series}/{sop}.dcm"

    def write(self, relative: str, parts: Sequence[bytes | memoryview | FileSlice]) -> StoredFile:
        """Write ``parts`` one after the other to ``relative``, durably and atomically.

        Raises
        ------
        OSError
            Disk full, permission... The temporary file is removed; nothing is left.
        """
        target = self.root / relative
        directory = target.parent
        self._ensure_directory(directory)
        temporary = directory / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            try:
                size = _write_synced(temporary, parts)
            except FileNotFoundError:
                # The directory went since we made it (retention removes emptied study
                # folders; a study can be sent again later): make it again, once.
                self._forget_directory(directory)
                self._ensure_directory(directory)
                size = _write_synced(temporary, parts)
            replaced = target.exists()
            temporary.replace(target)
        except BaseException:
            _unlink_quietly(temporary)
            raise
        try:
            _fsync_directory(directory)
        except BaseException:
            if not replaced:
                _unlink_quietly(target)
            raise
        return StoredFile(relative, target, size, replaced)

    def discard(self, stored: StoredFile) -> None:
        """Undo a `write` whose indexing failed, unless it replaced an earlier copy.

        Never raises: it runs on an error path already; a file left behind is an orphan
        the retention job removes, not a lost instance.
        """
        if stored.replaced:
            return
        try:
            stored.path.unlink()
            _fsync_directory(stored.path.parent)
        except OSError:
            logger.warning("could not remove unindexed file %s", stored.relative, exc_info=True)

    def _forget_directory(self, directory: Path) -> None:
        with self._lock:
            self._known_dirs.discard(str(directory))

    def _ensure_directory(self, directory: Path) -> None:
        """Create the study and series directories, making each new entry durable."""
        key = str(directory)
        if key in self._known_dirs:
            return
        relative = directory.relative_to(self.root)
        current = self.root
        for part in relative.parts:
            parent, current = current, current / part
            try:
                current.mkdir(mode=_DIR_MODE)
            except FileExistsError:
                continue
            _fsync_directory(parent)  # the new directory's entry in its parent
        with self._lock:
            if len(self._known_dirs) >= _MAX_KNOWN_DIRS:
                self._known_dirs.clear()
            self._known_dirs.add(key)


def _write_synced(path: Path, parts: Sequence[bytes | memoryview | FileSlice]) -> int:
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
    try:
        for part in parts:
            if isinstance(part, FileSlice):
                size += _copy_slice(fd, part)
            else:
                size += _write_all(fd, memoryview(part))
        os.fsync(fd)
    finally:
        os.close(fd)
    return size


def _write_all(fd: int, data: memoryview) -> int:
    written = 0
    while written < len(data):
        written += os.write(fd, data[written:])
    return written


def _copy_slice(fd: int, part: FileSlice) -> int:
    copied = 0
    with part.path.open("rb") as source:
        source.seek(part.offset)
        while chunk := source.read(_COPY_CHUNK):
            copied += _write_all(fd, memoryview(chunk))
    return copied


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove temporary file %s", path.name, exc_info=True)
