"""The durable writer: files land whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path

import pytest

from garde.dicom_gateway import writer as writer_module
from garde.dicom_gateway.errors import InvalidUIDError
from garde.dicom_gateway.writer import DurableWriter, FileSlice

STUDY, SERIES, SOP = "1.2.3", "1.2.3.4", "1.2.3.4.5"


def _all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_write_places_the_file_under_its_uids(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    relative = w.relative_path(STUDY, SERIES, SOP)
    stored = w.write(relative, [b"head", memoryview(b"-body")])
    assert relative == "1.2.3/1.2.3.4/1.2.3.4.5.dcm"
    assert stored.path.read_bytes() == b"head-body"
    assert stored.size_bytes == 9
    assert not stored.replaced
    assert _all_files(w.root) == [relative]  # no temporary file left


def test_a_study_folder_removed_since_its_last_instance_is_made_again(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    first = w.write(w.relative_path(STUDY, SERIES, SOP), [b"one"])
    # Retention purges the study and removes its emptied folders; the hospital sends
    # the study again later, to the same writer (whose cache knew those folders).
    first.path.unlink()
    first.path.parent.rmdir()
    first.path.parent.parent.rmdir()
    again = w.write(w.relative_path(STUDY, SERIES, SOP + ".6"), [b"two"])
    assert again.path.read_bytes() == b"two"
    assert _all_files(w.root) == [again.relative]


def test_write_copies_a_file_slice(tmp_path):
    source = tmp_path / "spooled.dcm"
    source.write_bytes(b"META" * 10 + b"DATASET" * 1000)
    w = DurableWriter(tmp_path / "storage")
    stored = w.write(w.relative_path(STUDY, SERIES, SOP), [b"H", FileSlice(source, 40)])
    assert stored.path.read_bytes() == b"H" + b"DATASET" * 1000


@pytest.mark.parametrize(
    ("study", "series", "sop"), [("..", SERIES, SOP), (STUDY, "a/b", SOP), (STUDY, SERIES, "")]
)
def test_hostile_uids_never_become_paths(tmp_path, study, series, sop):
    w = DurableWriter(tmp_path / "storage")
    with pytest.raises(InvalidUIDError):
        w.relative_path(study, series, sop)


def test_a_resend_replaces_atomically_and_is_flagged(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    relative = w.relative_path(STUDY, SERIES, SOP)
    w.write(relative, [b"first"])
    again = w.write(relative, [b"second"])
    assert again.replaced
    w.discard(again)  # a failed re-index must not delete the earlier, indexed copy
    assert again.path.read_bytes() == b"second"


def test_discard_removes_a_new_file(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    stored = w.write(w.relative_path(STUDY, SERIES, SOP), [b"x"])
    w.discard(stored)
    assert _all_files(w.root) == []


def test_disk_full_during_fsync_leaves_nothing(tmp_path, monkeypatch):
    w = DurableWriter(tmp_path / "storage")

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        w.write(w.relative_path(STUDY, SERIES, SOP), [b"x" * 1000])
    monkeypatch.undo()
    assert _all_files(w.root) == []


def test_write_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    w = DurableWriter(tmp_path / "storage")
    real_write = os.write
    calls = {"n": 0}

    def flaky(fd, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(writer_module.os, "write", flaky)
    with pytest.raises(OSError):
        w.write(w.relative_path(STUDY, SERIES, SOP), [b"a" * 10, b"b" * 10])
    monkeypatch.undo()
    assert _all_files(w.root) == []


def test_directory_fsync_failure_removes_the_new_file(tmp_path, monkeypatch):
    w = DurableWriter(tmp_path / "storage")
    relative = w.relative_path(STUDY, SERIES, SOP)
    w.write(w.relative_path(STUDY, SERIES, "9.9"), [b"warm the directory cache"])

    def broken(_directory):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(writer_module, "_fsync_directory", broken)
    with pytest.raises(OSError, match="I/O"):
        w.write(relative, [b"x"])
    monkeypatch.undo()
    assert _all_files(w.root) == ["1.2.3/1.2.3.4/9.9.dcm"]


def test_read_only_storage_raises_oserror(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    root = tmp_path / "storage"
    w = DurableWriter(root)
    root.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            w.write(w.relative_path(STUDY, SERIES, SOP), [b"x"])
    finally:
        root.chmod(0o700)


def test_stale_temporaries_are_removed_fresh_ones_kept(tmp_path):
    import os
    import time

    writer = DurableWriter(tmp_path / "s")
    folder = writer.root / "1.2" / "1.2.3"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".1.dcm.aa.tmp", folder / ".2.dcm.bb.tmp"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert writer.remove_stale_temporaries() == 1
    assert not stale.exists()
    assert fresh.exists()
    assert list(writer.stored_paths()) == []


def test_concurrent_directory_syncs_are_shared(tmp_path, monkeypatch):
    import threading
    import time

    from garde.dicom_gateway.writer import GroupSync

    calls = []

    def slow_fsync(directory):
        calls.append(directory)
        time.sleep(0.05)

    monkeypatch.setattr(writer_module, "_fsync_directory", slow_fsync)
    group = GroupSync()
    threads = [threading.Thread(target=group.sync, args=(tmp_path,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(calls) <= 3  # one running, then one for everyone who came meanwhile
    group.sync(tmp_path)  # later: a fsync of its own
    assert len(calls) <= 4


def test_a_failed_directory_sync_is_not_taken_as_done(tmp_path, monkeypatch):
    from garde.dicom_gateway.writer import GroupSync

    def broken(_directory):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(writer_module, "_fsync_directory", broken)
    group = GroupSync()
    with pytest.raises(OSError, match="I/O error"):
        group.sync(tmp_path)
    with pytest.raises(OSError, match="I/O error"):
        group.sync(tmp_path)


def _staged(w, name="1.2.3.4.5"):
    relative = w.relative_path(STUDY, SERIES, name)
    return w.stage(relative, [b"META", b"DATASET"], 4)


def test_an_unnamed_staged_file_is_named_only_when_placed(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    if not w.unnamed_staging:
        pytest.skip("this filesystem makes no unnamed files (O_TMPFILE)")
    staged = _staged(w)
    assert _all_files(w.root) == []  # nothing named yet: a crash now leaves no file
    assert staged.temporary.read_bytes() == b"METADATASET"
    stored = w.place(staged)
    assert stored is not None
    assert _all_files(w.root) == [stored.relative]
    assert stored.path.read_bytes() == b"METADATASET"
    descriptor = staged.descriptor
    w.release(staged)
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(descriptor)
    assert _all_files(w.root) == [stored.relative]


def test_releasing_twice_never_closes_another_file(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    staged = _staged(w)
    w.release(staged)
    with (tmp_path / "other").open("wb") as other:  # likely the number just freed
        w.release(staged)
        other.write(b"still open")
    assert (tmp_path / "other").read_bytes() == b"still open"
    assert _all_files(w.root) == []  # and no folder left for nothing


def test_an_unwanted_staged_file_leaves_nothing(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    w.release(_staged(w))
    assert list(w.root.iterdir()) == []


def test_a_placed_then_removed_unnamed_file_can_still_be_quarantined(tmp_path):
    # Linux never names again an unnamed file that was linked once (ENOENT): its
    # content is copied to the conflicts folder instead.
    w = DurableWriter(tmp_path / "storage")
    staged = _staged(w)
    stored = w.place(staged)
    assert stored is not None
    w.remove(stored)
    path, digest = w.quarantine(staged, "1.2.3.4.5")
    assert path.read_bytes() == b"METADATASET"
    assert len(digest) == 64
    assert _all_files(w.root) == []


def test_unnamed_staging_falls_back_where_unsupported(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "_O_TMPFILE", 0)
    w = DurableWriter(tmp_path / "storage")
    assert not w.unnamed_staging
    staged = _staged(w)
    assert staged.temporary.name.startswith(".1.2.3.4.5.dcm.")  # a hidden name beside it
    assert w.place(staged) is not None
    w.release(staged)
    assert _all_files(w.root) == ["1.2.3/1.2.3.4/1.2.3.4.5.dcm"]


def _unnamed_files_open(root):
    """This process's descriptors of unnamed files in ``root`` (/proc shows "(deleted)")."""
    found = set()
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            target = str(entry.readlink())
            if target.startswith(str(root)) and target.endswith("(deleted)"):
                found.add(int(entry.name))
    return found


def test_files_made_ahead_are_used_then_closed_at_stop(tmp_path):
    w = DurableWriter(tmp_path / "storage")
    if not w.unnamed_staging:
        pytest.skip("this filesystem makes no unnamed files (O_TMPFILE)")
    w.make_ahead(2)
    deadline = time.monotonic() + 10
    while w.ready_ahead < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.ready_ahead == 2
    waiting = _unnamed_files_open(w.root)
    staged = _staged(w)
    assert staged.descriptor in waiting  # one made ahead, not one made now
    stored = w.place(staged)
    w.release(staged)
    assert stored is not None
    assert stored.path.read_bytes() == b"METADATASET"
    w.stop_ahead()
    assert w.ready_ahead == 0
    assert _unnamed_files_open(w.root) == set()  # the unused ones closed, the thread gone
    assert _all_files(w.root) == [stored.relative]
