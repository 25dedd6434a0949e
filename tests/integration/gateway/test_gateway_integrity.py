"""One stored truth per SOP Instance UID, and nothing incomplete acknowledged, over real
associations (dcmtk's storescu, or a pynetdicom SCU sending files byte for byte)."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from sqlalchemy import select

from garde.config.model import OverwritePolicy
from garde.dicom_gateway import status
from garde.store.models import AuditEventRow, SeriesRow, StudyRow
from tests.helpers import make_dataset
from tests.integration.gateway.conftest import indexed, storage_files
from tests.integration.gateway.test_gateway_refusals import (
    TEST_FILES,
    raw_file,
    send_as_is,
    store_statuses,
    storescu,
)

pytestmark = pytest.mark.dcmtk
# 0x0111, PS3.7 C.4's "Duplicate SOP Instance": dcmtk prints it as a status it has no name
# for (pynetdicom categorises it as a failure).
DUPLICATE = "Unknown Status: 0x111"


def saved(ds: pydicom.Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def black(ds: pydicom.Dataset) -> pydicom.Dataset:
    """The same instance (same UIDs) with its pixels zeroed."""
    copy = deepcopy(ds)
    copy.PixelData = bytes(len(ds.PixelData))
    return copy


def folders(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_dir())


def audit(session_factory, action: str) -> list[AuditEventRow]:
    with session_factory() as session:
        query = select(AuditEventRow).where(AuditEventRow.action == action)
        return list(session.scalars(query))


def test_an_identical_resend_is_idempotent(gateway, session_factory, tmp_path):
    ds = make_dataset()
    path = saved(ds, tmp_path / "ct.dcm")
    assert store_statuses(storescu(gateway.port, path)) == ["Success"]
    row = indexed(session_factory)[ds.SOPInstanceUID]
    stored = gateway.service.writer.root / row.path
    before = stored.stat()
    run = storescu(gateway.port, path, aet="NORD_PACS")  # another AE of the site: same data
    assert store_statuses(run) == ["Success"]
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # untouched
    again = indexed(session_factory)[ds.SOPInstanceUID]
    assert (again.received_at, again.size_bytes, again.calling_ae) == (
        row.received_at,
        row.size_bytes,
        "NORD_CT",
    )
    assert storage_files(gateway.service.writer.root) == [stored]


def test_a_different_content_is_quarantined_and_the_first_copy_stays(
    gateway, session_factory, tmp_path
):
    """The issue's case: a CT slice, then the same UID with its pixels zeroed."""
    ds = make_dataset()
    first = saved(ds, tmp_path / "ct.dcm")
    second = saved(black(ds), tmp_path / "black" / "ct.dcm")
    assert store_statuses(storescu(gateway.port, first)) == ["Success"]
    run = storescu(gateway.port, second)
    assert store_statuses(run) == [DUPLICATE], run.stdout + run.stderr
    root = gateway.service.writer.root
    row = indexed(session_factory)[ds.SOPInstanceUID]
    stored = dcmread(root / row.path)
    assert stored.PixelData == ds.PixelData  # the first copy, untouched
    assert row.size_bytes == (root / row.path).stat().st_size  # index and file agree
    assert row.transfer_syntax == stored.file_meta.TransferSyntaxUID
    assert storage_files(root) == [root / row.path]
    [conflict] = audit(session_factory, "instance_conflict")
    kept = gateway.service.writer.conflicts / conflict.detail["conflict_path"]
    assert dcmread(kept).PixelData == bytes(len(ds.PixelData))
    assert conflict.detail["kept_path"] == row.path
    assert conflict.study_uid == ds.StudyInstanceUID
    # The sender retries the same conflicting copy: one quarantined copy, one audit row more.
    assert store_statuses(storescu(gateway.port, second)) == [DUPLICATE]
    assert [p.name for p in gateway.service.writer.conflicts.iterdir()] == [kept.name]


def test_under_overwrite_the_file_and_its_index_row_are_replaced(
    gateway_factory, session_factory, tmp_path
):
    gateway = gateway_factory(overwrite_policy=OverwritePolicy.OVERWRITE)
    ds = make_dataset()
    assert store_statuses(storescu(gateway.port, saved(ds, tmp_path / "a.dcm"))) == ["Success"]
    row = indexed(session_factory)[ds.SOPInstanceUID]
    changed = black(ds)
    changed.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    changed.StudyDescription = "TDM CEREBRALE (RECONSTRUCTION)"  # another length too
    path = saved(changed, tmp_path / "b" / "a.dcm")
    assert store_statuses(storescu(gateway.port, path)) == ["Success"]
    root = gateway.service.writer.root
    after = indexed(session_factory)[ds.SOPInstanceUID]
    stored = dcmread(root / after.path)
    assert after.path == row.path
    assert stored.PixelData == changed.PixelData
    assert after.transfer_syntax == stored.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert after.size_bytes == (root / after.path).stat().st_size != row.size_bytes
    assert after.received_at >= row.received_at
    [replaced] = audit(session_factory, "instance_replaced")
    assert replaced.study_uid == ds.StudyInstanceUID
    assert replaced.detail["sop_instance_uid"] == ds.SOPInstanceUID
    assert storage_files(root) == [root / after.path]
    assert not gateway.service.writer.conflicts.exists()


@pytest.mark.parametrize("policy", list(OverwritePolicy))
def test_the_same_uid_under_another_study_is_a_conflict_and_leaves_no_folder(
    gateway_factory, session_factory, tmp_path, policy
):
    gateway = gateway_factory(overwrite_policy=policy)
    ds = make_dataset()
    assert store_statuses(storescu(gateway.port, saved(ds, tmp_path / "a.dcm"))) == ["Success"]
    root = gateway.service.writer.root
    before = folders(root)
    moved = make_dataset(sop_uid=ds.SOPInstanceUID)  # new study and series UIDs
    run = storescu(gateway.port, saved(moved, tmp_path / "b" / "a.dcm"))
    assert store_statuses(run) == [DUPLICATE]
    assert folders(root) == before  # no empty study or series folder
    row = indexed(session_factory)[ds.SOPInstanceUID]
    assert dcmread(root / row.path).StudyInstanceUID == ds.StudyInstanceUID
    with session_factory() as session:
        assert session.scalars(select(StudyRow.study_uid)).all() == [ds.StudyInstanceUID]
        assert len(session.scalars(select(SeriesRow)).all()) == 1
    [conflict] = audit(session_factory, "instance_conflict")
    assert conflict.study_uid == moved.StudyInstanceUID


def test_a_ct_missing_its_last_3000_bytes_is_refused(
    gateway, session_factory, tmp_path, monkeypatch
):
    """The issue's case: 0x0000 and a reader assigned a study with no preview, before."""
    ds = make_dataset()  # 64 x 64 x 16 bits: 8192 bytes of pixels
    whole = saved(ds, tmp_path / "ct.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[:-3000])
    assert send_as_is(gateway.port, cut, monkeypatch) == status.INCOMPLETE
    assert storage_files(gateway.service.writer.root) == []
    assert folders(gateway.service.writer.root) == []
    assert indexed(session_factory) == {}
    assert send_as_is(gateway.port, tmp_path / "ct.dcm", monkeypatch) == status.SUCCESS


def test_truncated_encapsulated_pixel_data_is_refused(
    gateway, session_factory, tmp_path, monkeypatch
):
    source = TEST_FILES / "SC_rgb_jpeg_dcmtk.dcm"
    meta = dcmread(source, stop_before_pixels=True).file_meta
    whole = source.read_bytes()
    body = whole[144 + int.from_bytes(whole[140:144], "little") :]
    for cut_at, why in ((-8, "no sequence delimiter"), (-500, "fragment")):
        path = raw_file(
            tmp_path / "jpeg.dcm",
            body[:cut_at],
            meta.MediaStorageSOPClassUID,
            meta.MediaStorageSOPInstanceUID,
            meta.TransferSyntaxUID,
        )
        assert send_as_is(gateway.port, path, monkeypatch) == status.INCOMPLETE, why
    assert indexed(session_factory) == {}
    assert storage_files(gateway.service.writer.root) == []
    whole_path = raw_file(
        tmp_path / "whole.dcm",
        body,
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
        meta.TransferSyntaxUID,
    )
    assert send_as_is(gateway.port, whole_path, monkeypatch) == status.SUCCESS


def test_the_refusal_names_why_in_the_error_comment(gateway, tmp_path):
    from pynetdicom import AE

    ds = make_dataset()
    ds.PixelData = ds.PixelData[:4096]  # a consistent element, half the rows missing
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(ds.SOPClassUID, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", gateway.port, ae_title="GARDE")
    try:
        rsp = assoc.send_c_store(ds)
    finally:
        assoc.release()
    assert rsp.Status == status.INCOMPLETE
    assert rsp.ErrorComment.startswith("Pixel Data holds 4096 bytes")
    assert storage_files(gateway.service.writer.root) == []


def test_pydicoms_truncated_mr_never_replaces_the_good_one(gateway, session_factory, tmp_path):
    """From the issue: MR_truncated.dcm replaced MR_small.dcm (the same SOP Instance UID)."""
    small, truncated = TEST_FILES / "MR_small.dcm", TEST_FILES / "MR_truncated.dcm"
    uid = dcmread(small, stop_before_pixels=True).SOPInstanceUID
    assert dcmread(truncated, stop_before_pixels=True).SOPInstanceUID == uid
    assert store_statuses(storescu(gateway.port, small)) == ["Success"]
    storescu(gateway.port, truncated)  # refused, one way or another
    row = indexed(session_factory)[uid]
    stored = dcmread(gateway.service.writer.root / row.path)
    assert stored.PixelData == dcmread(small).PixelData
    assert row.size_bytes == (gateway.service.writer.root / row.path).stat().st_size


def test_unrelated_instances_still_store(gateway, session_factory, tmp_path):
    paths = [saved(make_dataset(), tmp_path / f"{n}.dcm") for n in range(3)]
    assert store_statuses(storescu(gateway.port, *paths)) == ["Success"] * 3
    assert len(indexed(session_factory)) == 3
    assert generate_uid()  # (keeps the import honest for the type checker)
