"""The durable instance writer: temporary file, fsync, atomic rename, directory fsync.

After `DurableWriter.write` returns, the instance survives a crash or a power cut; if it
raises, nothing of it is left in the storage directory. Paths are built from validated
UIDs only: ``<storage>/<study_uid>/<series_uid>/<sop_instance_uid>.dcm``.

The gateway stages each received instance in an unnamed file (Linux's ``O_TMPFILE``)
where the filesystem allows it, and names it only once it is wanted. Creating a named
temporary file holds the series folder's lock while ext4 looks for a free inode, a search
that grows with what was deleted in the last minutes: four associations writing one
series spun on that lock for a sixth of the machine's CPU. An unnamed file takes the
lock only to be linked, needs no unlink afterwards, and leaves nothing behind on a crash.
While the gateway runs (`DurableWriter.make_ahead`), a thread keeps a few such files made
in advance, so that an answer does not wait for that search either.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import queue
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from garde.dicom_gateway.uids import checked_uid

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import BinaryIO

logger = logging.getLogger(__name__)

_COPY_CHUNK = 1 << 20
STALE_TEMPORARY_S = 600.0
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


@dataclass(slots=True)
class StagedFile:
    """A received instance written and fsynced to a temporary file beside its target,
    not yet in place: the intake decides whether it becomes the stored instance."""

    relative: str
    temporary: Path  # a hidden name beside the target, or /proc/self/fd/N of `descriptor`
    target: Path
    size_bytes: int
    dataset_offset: int  # where the dataset starts in it (after the file meta)
    descriptor: int | None = None  # an unnamed file's, open until `DurableWriter.release`
    unnamed: bool = False


class DurableWriter:
    """Writes instance files durably under ``storage_dir``.

    Parameters
    ----------
    storage_dir
        The root of the storage; created if missing. Several processes may share it.
    conflicts_dir
        Where a different content received under a stored SOP Instance UID is kept
        for the operator (default: ``conflicts`` beside ``storage_dir``).
    """

    def __init__(self, storage_dir: Path, conflicts_dir: Path | None = None) -> None:
        self.root = Path(storage_dir).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.conflicts = (
            Path(conflicts_dir).resolve()
            if conflicts_dir is not None
            else self.root.parent / "conflicts"
        )
        self._known_dirs: set[str] = set()
        self._lock = threading.Lock()
        self._directory_sync = GroupSync()
        self.unnamed_staging = _unnamed_files_work(self.root)
        self._root_device = self.root.stat().st_dev
        self._ahead: _Ahead | None = None
        self._staging = 0  # threads in `stage` now

    def make_ahead(self, count: int = 4) -> None:
        """Keep ``count`` unnamed files made in advance by a thread (until `stop_ahead`).

        An instance staged while no other is uses one: with one sender, every answer
        waited for its file's inode. When several are staged at once the machine is busy
        anyway, and each makes its own (taking them from the thread cost as much as it
        saved, in GIL hand-overs).
        """
        if self.unnamed_staging and self._ahead is None:
            self._ahead = _Ahead(self.root, count)

    @property
    def ready_ahead(self) -> int:
        """How many files made in advance wait to be used."""
        return 0 if self._ahead is None else self._ahead.ready

    def stop_ahead(self) -> None:
        """Stop making files in advance; close those made and not used."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.stop()

    # -- the intake's steps: stage, then place / replace / quarantine / drop -------------
    def stage(
        self, relative: str, parts: Sequence[bytes | memoryview | FileSlice], dataset_offset: int
    ) -> StagedFile:
        """Write ``parts`` durably to a temporary file beside ``relative``'s target.

        Raises
        ------
        OSError
            Disk full, permission... Nothing is left behind (nor an emptied folder).
        """
        target = self.root / relative
        directory = target.parent
        self._ensure_directory(directory)
        temporary = (
            None
            if self.unnamed_staging
            else directory / f".{target.name}.{secrets.token_hex(4)}.tmp"
        )
        try:
            try:
                return self._write_staged(relative, target, temporary, parts, dataset_offset)
            except FileNotFoundError:
                # The directory went since we made it (retention or a pruned conflict
                # removed an emptied folder): make it again, once.
                self._forget_directory(directory)
                self._ensure_directory(directory)
                return self._write_staged(relative, target, temporary, parts, dataset_offset)
        except BaseException:
            if temporary is not None:
                _unlink_quietly(temporary)
            self._prune(directory)
            raise

    def place(self, staged: StagedFile) -> StoredFile | None:
        """Put a staged file in place unless a file is there already (then None).

        ``link`` never replaces an existing target, so of two copies of one instance
        received at once, one is placed and the other sees it. The temporary file stays
        until `release`.
        """
        try:
            _link(staged, staged.target)
        except FileExistsError:
            return None
        try:
            self._directory_sync.sync(staged.target.parent)
        except BaseException:
            _unlink_quietly(staged.target)
            raise
        return StoredFile(staged.relative, staged.target, staged.size_bytes, replaced=False)

    def replace(self, staged: StagedFile) -> StoredFile:
        """Put a staged file in place over the existing one (the ``overwrite`` policy)."""
        if not staged.unnamed:
            staged.temporary.replace(staged.target)
        else:  # a name first: rename(2) is what replaces atomically
            named = staged.target.with_name(f".{staged.target.name}.{secrets.token_hex(4)}.tmp")
            _link(staged, named)
            try:
                named.replace(staged.target)
            except BaseException:
                _unlink_quietly(named)
                raise
        self._directory_sync.sync(staged.target.parent)
        return StoredFile(staged.relative, staged.target, staged.size_bytes, replaced=True)

    def release(self, staged: StagedFile) -> None:
        """Remove a staged file's temporary name (its content is placed, or not wanted),
        and the folders this left empty. Never raises; a second call does nothing more
        (a closed descriptor's number may be another thread's file by then)."""
        if not staged.unnamed:
            _unlink_quietly(staged.temporary)
        elif staged.descriptor is not None:
            descriptor, staged.descriptor = staged.descriptor, None
            with contextlib.suppress(OSError):
                os.close(descriptor)
        if not staged.target.exists():
            self._prune(staged.target.parent)

    def quarantine(self, staged: StagedFile, sop_instance_uid: str) -> tuple[Path, str]:
        """Keep a staged file in the conflicts folder, named by UID and content digest;
        returns its path and its SHA-256. The same conflicting content twice is kept once.
        """
        digest = _sha256(staged.temporary, staged.dataset_offset)
        self.conflicts.mkdir(parents=True, exist_ok=True)
        name = f"{checked_uid('SOPInstanceUID', sop_instance_uid)}.{digest[:16]}.dcm"
        destination = self.conflicts / name
        if not destination.exists():
            try:
                _link(staged, destination)
            except FileExistsError:
                pass  # the same content, quarantined by another thread just now
            except OSError as exc:
                # EXDEV: the conflicts folder is on another filesystem. ENOENT: an unnamed
                # file once linked (placed, then taken back) can never be named again.
                if exc.errno not in {errno.EXDEV, errno.ENOENT} or (
                    exc.errno == errno.ENOENT and not staged.unnamed
                ):
                    raise
                _copy_synced(staged.temporary, destination)
            _fsync_directory(self.conflicts)
        self.release(staged)
        return destination, digest

    def quarantine_stored(self, relative: str, sop_instance_uid: str) -> tuple[Path, str]:
        """Move a file already in place to the conflicts folder (as `quarantine`)."""
        path = self.root / relative
        with path.open("rb") as fp:
            offset = dataset_offset(fp)
        staged = StagedFile(relative, path, path, path.stat().st_size, offset)
        destination, digest = self.quarantine(staged, sop_instance_uid)
        _fsync_directory(path.parent)
        return destination, digest

    def remove_stale_temporaries(self, older_than_s: float = STALE_TEMPORARY_S) -> int:
        """Remove temporary files a crash left in the series folders (a write in flight
        lasts seconds; these are older); returns how many."""
        limit = time.time() - older_than_s
        removed = 0
        for study in _subdirectories(self.root):
            for series in _subdirectories(study):
                for path in series.glob(".*.tmp"):
                    with contextlib.suppress(OSError):
                        if path.stat().st_mtime < limit:
                            path.unlink()
                            removed += 1
        return removed

    def stored_paths(self) -> Iterator[str]:
        """Every instance file in place (``<study>/<series>/<sop>.dcm``), relative."""
        for study in _subdirectories(self.root):
            for series in _subdirectories(study):
                with os.scandir(series) as entries:
                    for entry in entries:
                        if entry.name.endswith(".dcm") and not entry.name.startswith("."):
                            yield f"{study.name}/{series.name}/{entry.name}"

    def same_dataset(self, staged: StagedFile, relative: str) -> bool:
        """True if the stored file at ``relative`` holds the staged dataset byte for byte
        (file meta aside: a re-send from another AE title is the same instance)."""
        stored = self.root / relative
        try:
            with stored.open("rb") as old, staged.temporary.open("rb") as new:
                old.seek(dataset_offset(old))
                new.seek(staged.dataset_offset)
                while True:
                    a, b = old.read(_COPY_CHUNK), new.read(_COPY_CHUNK)
                    if a != b:
                        return False
                    if not a:
                        return True
        except FileNotFoundError:
            return False

    def remove(self, stored: StoredFile) -> None:
        """Take back a file `place` put in place (its UID belongs elsewhere), durably."""
        _unlink_quietly(stored.path)
        _fsync_directory(stored.path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its parent (series, study) if they are empty."""
        for folder in (directory, directory.parent):
            if folder == self.root or self.root not in folder.parents:
                return
            self._forget_directory(folder)
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or gone): in use
            try:
                _fsync_directory(folder.parent)
            except OSError:
                logger.warning("could not sync %s", folder.parent, exc_info=True)

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

    def _write_staged(
        self,
        relative: str,
        target: Path,
        temporary: Path | None,
        parts: Sequence[bytes | memoryview | FileSlice],
        dataset_offset: int,
    ) -> StagedFile:
        """`stage`'s write: to ``temporary``, or to an unnamed file when it is None."""
        if temporary is not None:
            size = _write_synced(temporary, parts)
            return StagedFile(relative, temporary, target, size, dataset_offset)
        descriptor, size = self._write_unnamed(target.parent, parts)
        return StagedFile(
            relative,
            _proc_fd(descriptor),
            target,
            size,
            dataset_offset,
            descriptor=descriptor,
            unnamed=True,
        )

    def _write_unnamed(
        self, directory: Path, parts: Sequence[bytes | memoryview | FileSlice]
    ) -> tuple[int, int]:
        """An unnamed file holding ``parts``, fsynced, to be linked into ``directory``:
        (its descriptor, size). One made in advance when there is one (they are made in
        the storage root: used only for a folder on the root's filesystem)."""
        ahead = self._ahead
        with self._lock:
            self._staging += 1
            alone = self._staging == 1
        try:
            fd = None
            if alone and ahead is not None and self._same_device(directory):
                fd = ahead.take()
            if fd is None:
                fd = _open_unnamed(directory)
            try:
                return fd, _fill(fd, parts)
            except BaseException:
                os.close(fd)
                raise
        finally:
            with self._lock:
                self._staging -= 1

    def _same_device(self, directory: Path) -> bool:
        return directory.stat().st_dev == self._root_device

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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
    try:
        return _fill(fd, parts)
    finally:
        os.close(fd)


def _fill(fd: int, parts: Sequence[bytes | memoryview | FileSlice]) -> int:
    """Write ``parts`` one after the other to ``fd``, then fsync it; the size written."""
    size = 0
    for part in parts:
        if isinstance(part, FileSlice):
            size += _copy_slice(fd, part)
        else:
            size += _write_all(fd, memoryview(part))
    os.fsync(fd)
    return size


def _open_unnamed(directory: Path) -> int:
    return os.open(directory, os.O_WRONLY | _O_TMPFILE | os.O_CLOEXEC, _FILE_MODE)


class _Ahead:
    """Empty unnamed files made in advance in ``directory`` by a thread of their own.

    Allocating an inode is the slow part of making a file: ext4 without a journal skips
    every inode freed in the last minutes, reading their table blocks (0.02-0.6 ms here).
    At most ``count`` wait; `take` gives None when none is ready (the caller makes one).
    """

    def __init__(self, directory: Path, count: int) -> None:
        self._directory = directory
        self._ready: queue.Queue[int] = queue.Queue(maxsize=count)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="unnamed-files", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> int:
        return self._ready.qsize()

    def take(self) -> int | None:
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._stopping.set()
        self._close_ready()  # a thread waiting to hand one over sees the stop at once
        self._thread.join()
        self._close_ready()

    def _close_ready(self) -> None:
        while (fd := self.take()) is not None:
            os.close(fd)

    def _fill(self) -> None:
        fd: int | None = None
        while not self._stopping.is_set():
            if fd is None:
                try:
                    fd = _open_unnamed(self._directory)
                except OSError:  # disk full, no inode left...: the answers make their own
                    logger.warning("could not make an unnamed file ahead", exc_info=True)
                    self._stopping.wait(1.0)
                    continue
            try:
                self._ready.put(fd, timeout=0.5)
            except queue.Full:
                continue
            fd = None
        if fd is not None:
            os.close(fd)


def _proc_fd(descriptor: int) -> Path:
    return Path(f"/proc/self/fd/{descriptor}")


def _link(staged: StagedFile, destination: Path) -> None:
    """Give ``staged``'s content the name ``destination`` (FileExistsError if taken)."""
    if not staged.unnamed:
        os.link(staged.temporary, destination)
        return
    # An unnamed file is named by linkat(2) following /proc/self/fd/N (open(2), O_TMPFILE);
    # os.link asks linkat to follow only when it is given a directory descriptor.
    directory = os.open(destination.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(staged.temporary, destination.name, dst_dir_fd=directory, follow_symlinks=True)
    finally:
        os.close(directory)


def _unnamed_files_work(directory: Path) -> bool:
    """Whether unnamed files can be made in ``directory`` and named later (Linux 3.11+ on
    ext4, XFS, btrfs, tmpfs..., and /proc mounted); named temporary files otherwise."""
    if not _O_TMPFILE:
        return False
    probe = directory / f".probe.{secrets.token_hex(4)}.tmp"
    try:
        fd = _open_unnamed(directory)
    except OSError:
        return False
    try:
        _link(StagedFile("", _proc_fd(fd), probe, 0, 0, fd, unnamed=True), probe)
    except OSError:
        logger.info("unnamed files cannot be named in %s: named temporary files", directory)
        return False
    finally:
        os.close(fd)
    _unlink_quietly(probe)
    return True


_O_TMPFILE = getattr(os, "O_TMPFILE", 0)


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


def _subdirectories(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return [
            Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and e.name[0] != "."
        ]


def dataset_offset(fp: BinaryIO) -> int:
    """Where the dataset starts in a DICOM file written with a file meta group length
    (ours, or pynetdicom's spool), read from ``fp``'s start."""
    fp.seek(0)
    head = fp.read(_META_GROUP_LENGTH_AT + 4)
    if head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
        raise ValueError("file has no file meta group length")
    return _META_GROUP_LENGTH_AT + 4 + int.from_bytes(head[_META_GROUP_LENGTH_AT:], "little")


_META_GROUP_LENGTH_AT = 140  # preamble (128) + "DICM" (4) + tag (4) + "UL" (2) + length (2)


def _sha256(path: Path, offset: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fp:
        fp.seek(offset)
        while chunk := fp.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_synced(source: Path, destination: Path) -> None:
    temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.tmp")
    try:
        with source.open("rb") as src, temporary.open("xb") as dst:
            shutil.copyfileobj(src, dst, _COPY_CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        temporary.replace(destination)
    except BaseException:
        _unlink_quietly(temporary)
        raise


class GroupSync:
    """Directory fsyncs shared by the threads that need one at the same time.

    A thread that put a file in a directory needs an fsync of that directory that began
    after its change. If one is running, it began before the change may have: wait for
    it, then one fsync (by whichever waiter comes first) covers every change made
    meanwhile. Four associations writing one series then pay about one directory fsync
    per round instead of four queued on the disk.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._changes: dict[str, int] = {}  # directory -> changes announced so far
        self._synced: dict[str, int] = {}  # directory -> changes covered by a finished fsync
        self._users: dict[str, int] = {}  # directory -> callers in `sync` now
        self._running: set[str] = set()

    def sync(self, directory: Path) -> None:
        """Return once an fsync of ``directory`` that began after this call's change ended.

        Raises
        ------
        OSError
            The fsync this caller ran failed.
        """
        key = str(directory)
        with self._cond:
            self._users[key] = self._users.get(key, 0) + 1
            mine = self._changes[key] = self._changes.get(key, 0) + 1
        try:
            self._sync(directory, key, mine)
        finally:
            with self._cond:
                self._users[key] -= 1
                if not self._users[key]:  # nobody needs this directory now: forget it
                    del self._users[key], self._changes[key]
                    self._synced.pop(key, None)

    def _sync(self, directory: Path, key: str, mine: int) -> None:
        with self._cond:
            while self._synced.get(key, 0) < mine:
                if key not in self._running:
                    break
                self._cond.wait()
            else:
                return
            self._running.add(key)
            covered = self._changes[key]  # every change announced so far precedes the fsync
        ok = False
        try:
            _fsync_directory(directory)
            ok = True
        finally:
            with self._cond:
                self._running.discard(key)
                if ok:
                    self._synced[key] = max(self._synced.get(key, 0), covered)
                self._cond.notify_all()


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
