"""The fast native reader gives what `dcmread` gives, or steps aside (None).

Checked over every file pydicom ships: each file the fast reader accepts must decode to
the same elements with the same values as `dcmread`, whole and header-only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_files

from garde.viewer_export.native_reader import read_native
from garde.viewer_export.pixels import read_dataset
from tests.helpers import make_dataset

SHIPPED = sorted(p for p in map(Path, get_testdata_files()) if p.is_file())  # local files only


def _same(fast: object, reference: object) -> None:
    assert fast is not None
    assert sorted(fast.keys()) == sorted(reference.keys())  # type: ignore[attr-defined]
    for elem in reference:  # type: ignore[attr-defined]
        assert fast[elem.tag].VR == elem.VR, elem.tag  # type: ignore[index]
        assert fast[elem.tag].value == elem.value, elem.tag  # type: ignore[index]
    fast_syntax = fast.file_meta.TransferSyntaxUID  # type: ignore[attr-defined]
    assert fast_syntax == reference.file_meta.TransferSyntaxUID  # type: ignore[attr-defined]


@pytest.mark.parametrize("headers_only", [False, True], ids=["whole", "headers"])
def test_every_accepted_shipped_file_reads_as_dcmread_reads_it(headers_only: bool) -> None:
    accepted = 0
    for path in SHIPPED:
        fast = read_native(path, headers_only=headers_only)
        if fast is None:
            continue
        accepted += 1
        _same(fast, dcmread(path, force=True, stop_before_pixels=headers_only))
    assert accepted >= 50  # the plain little-endian files (99 of 176 today), not a handful


def test_a_plain_ct_slice_takes_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "ct.dcm"
    make_dataset().save_as(path, enforce_file_format=True)
    fast = read_native(path)
    _same(fast, dcmread(path))
    assert "PatientName" in read_dataset(path, headers_only=True)


def test_unusual_files_step_aside(tmp_path: Path) -> None:
    no_preamble = tmp_path / "bare.dcm"
    make_dataset().save_as(no_preamble, enforce_file_format=False)
    truncated = tmp_path / "cut.dcm"
    whole = tmp_path / "whole.dcm"
    make_dataset().save_as(whole, enforce_file_format=True)
    truncated.write_bytes(whole.read_bytes()[:-100])
    assert read_native(no_preamble) is None
    assert read_native(truncated) is None
    for name in ("MR_small_bigendian.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm"):
        [path] = [p for p in SHIPPED if p.name == name]
        assert read_native(path) is None, name
