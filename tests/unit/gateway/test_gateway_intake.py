"""The intake service against a fake index: statuses, durability, idempotence."""

from __future__ import annotations

import errno
from datetime import UTC, datetime

import pytest
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from garde.dicom_gateway import status
from garde.dicom_gateway import writer as writer_module
from garde.dicom_gateway.header import patient_key
from garde.dicom_gateway.intake import NOT_AUTHORIZED, IntakeService, StoreRequest
from garde.dicom_gateway.policy import AssociationPolicy
from garde.dicom_gateway.writer import DurableWriter, FileSlice
from garde.dispatch.model import Site
from tests.helpers import make_dataset
from tests.unit.gateway.encoding import part10, wire
from tests.unit.gateway.fakes import FakeInstanceIndex

SECRET = b"k" * 32
SITES = [Site("h1", "Nord", frozenset({"NORD_CT"}))]


class FixedClock:
    def now(self):
        return datetime(2025, 1, 5, 23, 40, tzinfo=UTC)


@pytest.fixture
def index():
    return FakeInstanceIndex()


@pytest.fixture
def received():
    return []


@pytest.fixture(params=["unnamed", "named"])
def service(request, tmp_path, index, received):
    """The intake; its writer stages each instance in an unnamed file (O_TMPFILE), or in
    a hidden named file where the filesystem cannot (both are tested)."""
    writer = DurableWriter(tmp_path / "storage")
    if request.param == "unnamed" and not writer.unnamed_staging:
        pytest.skip("this filesystem makes no unnamed files (O_TMPFILE)")
    writer.unnamed_staging = request.param == "unnamed"
    return IntakeService(
        writer,
        index,
        AssociationPolicy(SITES, "GARDE", check_called_ae=False),
        patient_key_secret=SECRET,
        clock=FixedClock(),
        on_received=received.append,
    )


def request_for(ds, ts=ExplicitVRLittleEndian, **overrides):
    values = {
        "sop_class_uid": str(ds.SOPClassUID),
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "transfer_syntax": ts,
        "calling_ae": "NORD_CT",
        "dataset": wire(ds, ts),
    }
    values.update(overrides)
    return StoreRequest(**values)


def stored_files(service):
    return sorted(p for p in service.writer.root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "ts", [ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian]
)
def test_success_writes_then_indexes_then_notifies(service, index, received, ts):
    ds = make_dataset(patient_id="PAT-77")
    assert service.store(request_for(ds, ts)) == status.SUCCESS
    event = index.rows[ds.SOPInstanceUID]
    assert received == [event]
    assert event.site_id == "h1"
    assert event.calling_ae == "NORD_CT"
    assert event.transfer_syntax == ts
    assert event.path == f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"
    assert event.received_at == FixedClock().now()
    assert event.patient_key == patient_key(SECRET, "h1", "PAT-77")
    assert "PAT-77" not in repr(event)
    path = service.writer.root / event.path
    assert path.stat().st_size == event.size_bytes
    assert path.read_bytes().endswith(wire(ds, ts))  # exactly as received


def test_resend_is_idempotent(service, index, received):
    ds = make_dataset()
    assert service.store(request_for(ds)) == status.SUCCESS
    assert service.store(request_for(ds)) == status.SUCCESS
    assert len(index.rows) == 1
    assert len(received) == 1  # only new instances wake the sweep
    assert len(stored_files(service)) == 1


def test_a_resend_under_another_study_keeps_the_first_copy_and_no_stray_file(
    service, index, received
):
    ds = make_dataset()
    assert service.store(request_for(ds)) == status.SUCCESS
    first = service.writer.root / index.rows[ds.SOPInstanceUID].path
    moved = make_dataset(sop_uid=ds.SOPInstanceUID)  # same instance, new study and series
    assert moved.StudyInstanceUID != ds.StudyInstanceUID
    assert service.store(request_for(moved)) == status.DUPLICATE_INSTANCE
    assert stored_files(service) == [first]
    assert sorted(p.parent for p in service.writer.root.rglob("*")) == sorted(
        [service.writer.root, first.parent.parent, first.parent]
    )  # no empty folder of the moved copy's study or series
    assert index.rows[ds.SOPInstanceUID].study_uid == ds.StudyInstanceUID
    assert len(received) == 1
    [conflict] = index.conflicts
    assert conflict.study_uid == moved.StudyInstanceUID
    assert (service.writer.conflicts / conflict.conflict_path).is_file()


def test_sop_instance_mismatch_is_refused_and_keeps_nothing(service, index):
    ds = make_dataset()
    req = request_for(ds, sop_instance_uid=generate_uid())
    assert service.store(req) == status.DATASET_MISMATCH
    assert index.calls == 0
    assert stored_files(service) == []


def test_sop_class_mismatch_is_refused(service):
    ds = make_dataset()
    assert service.store(request_for(ds, sop_class_uid=MRImageStorage)) == status.DATASET_MISMATCH
    assert stored_files(service) == []


def test_wrong_transfer_syntax_is_a_decode_failure(service, index):
    ds = make_dataset()
    req = request_for(ds, ts=ImplicitVRLittleEndian, dataset=wire(ds, ExplicitVRLittleEndian))
    assert service.store(req) == status.DECODE_FAILURE
    assert index.calls == 0
    assert stored_files(service) == []


@pytest.mark.parametrize("junk", [b"", b"\x00" * 3, b"\xff" * 5000])
def test_malformed_datasets_are_decode_failures(service, junk):
    ds = make_dataset()
    assert service.store(request_for(ds, dataset=junk)) == status.DECODE_FAILURE
    assert stored_files(service) == []


def test_truncated_dataset_without_its_uids_is_refused(service):
    ds = make_dataset()
    junk = b"\x08\x00\x16\x00UI\xff\xff" + b"1" * 20  # an undefined-length UI, cut short
    assert service.store(request_for(ds, dataset=junk)) in {
        status.DECODE_FAILURE,
        status.INVALID_UID,
        status.INCOMPLETE,
    }
    assert stored_files(service) == []


def test_truncated_pixel_data_is_refused_and_keeps_nothing(service, index):
    """Pixels are never decoded, but a Pixel Data shorter than declared is refused."""
    ds = make_dataset()
    data = wire(ds, ExplicitVRLittleEndian)
    outcome = service.receive(request_for(ds, dataset=data[:-100]))
    assert outcome.status == status.INCOMPLETE
    assert "(7FE0,0010) declares 8192 bytes, 8092 arrived" in outcome.comment
    assert index.calls == 0
    assert stored_files(service) == []


@pytest.mark.parametrize("field", ["StudyInstanceUID", "SeriesInstanceUID"])
@pytest.mark.parametrize("bad", ["../../../../tmp/x", "1.2.abc", "1." + "2" * 70])
def test_hostile_uids_are_refused_with_0xC000(service, index, field, bad):
    ds = make_dataset()
    setattr(ds, field, bad)
    assert service.store(request_for(ds)) == status.INVALID_UID
    assert index.calls == 0
    assert stored_files(service) == []


def test_hostile_request_uid_is_refused(service):
    ds = make_dataset()
    assert service.store(request_for(ds, sop_instance_uid="../x")) == status.INVALID_UID


def test_unknown_sender_is_not_authorized(service):
    assert service.store(request_for(make_dataset(), calling_ae="GONE")) == NOT_AUTHORIZED


def test_disk_full_answers_out_of_resources_and_leaves_nothing(service, index, monkeypatch):
    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module.os, "fsync", full)
    assert service.store(request_for(make_dataset())) == status.OUT_OF_RESOURCES
    monkeypatch.undo()
    assert index.calls == 0
    assert stored_files(service) == []


def test_database_error_answers_out_of_resources_and_removes_the_file(service, index, received):
    index.fail_with = RuntimeError("database is locked")
    ds = make_dataset()
    assert service.store(request_for(ds)) == status.OUT_OF_RESOURCES
    assert stored_files(service) == []
    assert received == []
    index.fail_with = None  # the sender retries, and now it works
    assert service.store(request_for(ds)) == status.SUCCESS
    assert len(stored_files(service)) == 1


def test_database_error_on_a_resend_keeps_the_indexed_copy(service, index):
    ds = make_dataset()
    assert service.store(request_for(ds)) == status.SUCCESS
    index.fail_with = RuntimeError("connection reset")
    assert service.store(request_for(ds)) == status.OUT_OF_RESOURCES
    assert len(stored_files(service)) == 1


def test_on_received_failure_does_not_fail_the_store(tmp_path, index):
    def broken(_event):
        raise RuntimeError("sweep is down")

    service = IntakeService(
        DurableWriter(tmp_path / "s"),
        index,
        AssociationPolicy(SITES, "GARDE", check_called_ae=False),
        patient_key_secret=SECRET,
        on_received=broken,
    )
    assert service.store(request_for(make_dataset())) == status.SUCCESS


def test_unexpected_error_is_0xC211(service, monkeypatch):
    def boom(*_args):
        raise ZeroDivisionError

    monkeypatch.setattr(service.writer, "stage", boom)
    assert service.store(request_for(make_dataset())) == status.HANDLER_ERROR


def test_spooled_dataset_is_copied_whole(service, index, tmp_path):
    """pynetdicom's STORE_RECV_CHUNKED_DATASET hands a file, not bytes."""
    ds = make_dataset(rows=256, columns=256)
    spooled = tmp_path / "spool.dcm"
    data = part10(ds, ExplicitVRLittleEndian)
    spooled.write_bytes(data)
    offset = 144 + int.from_bytes(data[140:144], "little")
    req = request_for(ds, dataset=FileSlice(spooled, offset))
    assert service.store(req) == status.SUCCESS
    path = service.writer.root / index.rows[ds.SOPInstanceUID].path
    assert path.read_bytes().endswith(wire(ds, ExplicitVRLittleEndian))
    assert index.rows[ds.SOPInstanceUID].size_bytes > 256 * 256 * 2


def test_every_storage_class_is_filed(service, index):
    ds = make_dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.200.2"  # CT Performed Procedure Protocol
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    assert service.store(request_for(ds)) == status.SUCCESS
    assert index.rows[ds.SOPInstanceUID].sop_class_uid == ds.SOPClassUID
    assert CTImageStorage != ds.SOPClassUID
