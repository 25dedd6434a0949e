"""Indexing after the answer: batches, retries, the pending window, recovery."""

from __future__ import annotations

from datetime import UTC, datetime

from garde.dicom_gateway import status
from garde.dicom_gateway.indexer import BatchIndexer
from garde.dicom_gateway.intake import IntakeService
from garde.dicom_gateway.policy import AssociationPolicy
from garde.dicom_gateway.writer import DurableWriter
from garde.dispatch.model import InstanceReceived, Site
from tests.helpers import make_dataset
from tests.unit.gateway.fakes import FakeInstanceIndex
from tests.unit.gateway.test_gateway_intake import SECRET, SITES, FixedClock, request_for

AT = datetime(2025, 1, 5, 23, 40, tzinfo=UTC)


def event(n: int) -> InstanceReceived:
    return InstanceReceived(
        sop_instance_uid=f"1.2.3.{n}",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        series_uid="1.2.3",
        study_uid="1.2",
        transfer_syntax="1.2.840.10008.1.2.1",
        site_id="h1",
        calling_ae="NORD_CT",
        path=f"1.2/1.2.3/1.2.3.{n}.dcm",
        size_bytes=10,
        received_at=AT,
    )


class FlakyIndex(FakeInstanceIndex):
    """Fails its first ``failures`` batches (a database restarting)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.batches: list[int] = []

    def record_many(self, instances):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is restarting")
        self.batches.append(len(instances))
        return super().record_many(instances)


def test_a_failed_batch_is_retried_until_it_goes_in():
    index = FlakyIndex(failures=2)
    seen: list[tuple[str, bool]] = []
    indexer = BatchIndexer(
        index, lambda e, new: seen.append((e.sop_instance_uid, new)), retry_s=0.01, linger_s=0.01
    )
    indexer.start()
    for n in range(5):
        indexer.submit(event(n))
    assert indexer.pending_path("1.2.3.4") == "1.2/1.2.3/1.2.3.4.dcm"
    assert indexer.flush(timeout=10)
    indexer.stop(timeout=5)
    assert sorted(index.rows) == [f"1.2.3.{n}" for n in range(5)]
    assert sum(index.batches) == 5
    assert [new for _, new in seen] == [True] * 5
    assert indexer.pending_path("1.2.3.4") is None


def test_instances_arriving_together_share_a_batch():
    index = FlakyIndex(failures=0)
    indexer = BatchIndexer(index, lambda e, new: None, linger_s=0.2)
    indexer.start()
    for n in range(40):
        indexer.submit(event(n))
    indexer.stop(timeout=5)
    assert index.batches == [40]


def service(tmp_path, index) -> IntakeService:
    return IntakeService(
        DurableWriter(tmp_path / "storage"),
        index,
        AssociationPolicy(SITES, "GARDE", check_called_ae=False),
        patient_key_secret=SECRET,
        clock=FixedClock(),
        index_after_answer=True,
    )


def test_the_answer_comes_before_the_index_and_a_restart_recovers_the_rest(tmp_path):
    index = FakeInstanceIndex()
    first = service(tmp_path, index)  # never started: a crash right after the answers
    datasets = [make_dataset() for _ in range(3)]
    for ds in datasets:
        assert first.store(request_for(ds)) == status.SUCCESS
    assert index.rows == {}
    restarted = service(tmp_path, index)
    assert restarted.recover() == 3
    assert sorted(index.rows) == sorted(ds.SOPInstanceUID for ds in datasets)
    row = index.rows[datasets[0].SOPInstanceUID]
    assert (row.calling_ae, row.site_id) == ("NORD_CT", "h1")
    assert row.size_bytes == (restarted.writer.root / row.path).stat().st_size


def test_a_uid_answered_but_not_yet_indexed_still_conflicts(tmp_path):
    index = FakeInstanceIndex()
    intake = service(tmp_path, index)  # not started: everything stays pending
    ds = make_dataset()
    assert intake.store(request_for(ds)) == status.SUCCESS
    moved = make_dataset(sop_uid=ds.SOPInstanceUID)  # another study, same UID
    assert intake.store(request_for(moved)) == status.DUPLICATE_INSTANCE
    assert index.conflicts[0].study_uid == moved.StudyInstanceUID
    assert Site  # (the sites come from the intake tests)
