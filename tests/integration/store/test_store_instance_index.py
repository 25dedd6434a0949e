"""The gateway's instance index: first sight, re-sends, races and failures."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from garde.store.models import InstanceRow, SeriesRow, StudyRow
from tests.store_fixtures import make_instance, new_uid, sync_directory

T0 = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _directory(session_factory) -> None:
    sync_directory(session_factory)


def _count(session_factory, model) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_first_instance_creates_study_and_series(instance_index, uow_factory) -> None:
    uid = new_uid()
    event = make_instance(
        uid,
        received_at=T0,
        modality="CT",
        accession_number="ACC1",
        study_description="TDM ABDO",
        body_part="ABDOMEN",
        requested_procedure="TDM ABDOMINO-PELVIEN",
        requested_priority="HIGH",
        series_number=2,
        series_description="PORTAL",
        instance_number=5,
        patient_key="k",
    )
    assert instance_index.record(event) is True
    with uow_factory() as uow:
        study = uow.studies.get(uid)
        (series,) = uow.studies.series(uid)
        paths = uow.studies.instance_paths(event.series_uid)
    assert study is not None
    assert (study.accession, study.description, study.body_part) == ("ACC1", "TDM ABDO", "ABDOMEN")
    assert (study.requested_procedure, study.requested_priority) == ("TDM ABDOMINO-PELVIEN", "HIGH")
    assert study.first_received_at == study.last_received_at == T0
    assert (study.series_count, study.instance_count, study.modalities) == (1, 1, frozenset({"CT"}))
    assert (series.number, series.description, series.modality) == (2, "PORTAL", "CT")
    assert paths == [event.path]


def test_a_resent_instance_is_a_no_op(instance_index, uow_factory, session_factory) -> None:
    uid = new_uid()
    event = make_instance(uid, received_at=T0)
    assert instance_index.record(event) is True
    later = make_instance(
        uid,
        sop_instance_uid=event.sop_instance_uid,
        received_at=T0 + timedelta(minutes=5),
        path="elsewhere.dcm",
    )
    assert instance_index.record(later) is False
    assert instance_index.record(event) is False
    with uow_factory() as uow:
        study = uow.studies.get(uid)
        assert uow.studies.instance_paths(event.series_uid) == [event.path]
    assert (study.instance_count, study.last_received_at) == (1, T0)
    assert _count(session_factory, InstanceRow) == 1


def test_counts_and_receive_times_follow_the_instances(instance_index, uow_factory) -> None:
    uid = new_uid()
    # Out of order, as concurrent associations deliver them.
    for seconds, series in ((10, 1), (0, 1), (20, 2), (5, 2)):
        instance_index.record(
            make_instance(
                uid,
                series_uid=f"{uid}.{series}",
                received_at=T0 + timedelta(seconds=seconds),
                modality="MR" if series == 2 else "CT",
            )
        )
    with uow_factory() as uow:
        study = uow.studies.get(uid)
        series = uow.studies.series(uid)
    assert (study.series_count, study.instance_count) == (2, 4)
    assert (study.first_received_at, study.last_received_at) == (T0, T0 + timedelta(seconds=20))
    assert study.modalities == frozenset({"CT", "MR"})
    assert [(s.instance_count, s.first_received_at, s.last_received_at) for s in series] == [
        (2, T0, T0 + timedelta(seconds=10)),
        (2, T0 + timedelta(seconds=5), T0 + timedelta(seconds=20)),
    ]


def test_concurrent_first_instances_make_one_study_and_one_row_per_series(
    instance_index, uow_factory, session_factory
) -> None:
    uid = new_uid()
    threads, per_thread = 6, 5
    start = threading.Barrier(threads)

    def worker(w: int) -> list[bool]:
        start.wait()
        results = []
        for n in range(per_thread):
            series = f"{uid}.{(w + n) % 2 + 1}"  # every thread hits both series
            event = make_instance(
                uid,
                series_uid=series,
                sop_instance_uid=f"{uid}.9.{w}.{n}",
                received_at=T0 + timedelta(milliseconds=n),
                modality="CT" if series.endswith(".1") else "MR",
            )
            results.append(instance_index.record(event))
            results.append(instance_index.record(event))  # and a re-send of it
        return results

    with ThreadPoolExecutor(threads) as pool:
        outcomes = [r for rs in pool.map(worker, range(threads)) for r in rs]
    assert outcomes.count(True) == threads * per_thread
    assert outcomes.count(False) == threads * per_thread
    assert _count(session_factory, StudyRow) == 1
    assert _count(session_factory, SeriesRow) == 2
    assert _count(session_factory, InstanceRow) == threads * per_thread
    with uow_factory() as uow:
        study = uow.studies.get(uid)
        series = uow.studies.series(uid)
    assert (study.series_count, study.instance_count) == (2, threads * per_thread)
    assert study.modalities == frozenset({"CT", "MR"})
    assert sum(s.instance_count for s in series) == threads * per_thread


def test_a_database_error_raises_and_leaves_nothing_behind(instance_index, session_factory) -> None:
    event = make_instance(new_uid(), site_id="unknown-site", received_at=T0)
    with pytest.raises(IntegrityError):  # the gateway answers 0xA700: the sender retries
        instance_index.record(event)
    assert _count(session_factory, StudyRow) == 0
    assert _count(session_factory, InstanceRow) == 0


def test_a_known_instance_under_another_study_leaves_no_empty_study(
    instance_index, session_factory
) -> None:
    uid = new_uid()
    first = make_instance(uid, sop_instance_uid=f"{uid}.9.1", received_at=T0)
    assert instance_index.record(first)
    other = new_uid()  # the sender re-sends it under a new study and series
    again = make_instance(
        other, series_uid=f"{other}.1", sop_instance_uid=f"{uid}.9.1", received_at=T0
    )
    assert not instance_index.record(again)
    assert _count(session_factory, StudyRow) == 1
    assert _count(session_factory, SeriesRow) == 1
    assert instance_index.path_of(f"{uid}.9.1") == first.path
    assert instance_index.path_of(f"{uid}.9.2") is None


def _state(uow_factory, session_factory, study_uid: str) -> tuple:
    with uow_factory() as uow:
        study = uow.studies.get(study_uid)
        series = uow.studies.series(study_uid)
    assert study is not None
    with session_factory() as session:
        declared = {
            row.series_uid: row.declared_count
            for row in session.scalars(
                select(SeriesRow).where(SeriesRow.series_uid.startswith(study_uid + "."))
            )
        }
    return (
        (study.series_count, study.instance_count, study.modalities),
        (study.first_received_at, study.last_received_at),
        [
            (s.instance_count, declared[s.series_uid], s.first_received_at, s.last_received_at)
            for s in series
        ],
    )


def test_a_batch_indexes_as_one_record_per_instance_would(
    instance_index, uow_factory, session_factory
) -> None:
    # The same instances (an indexed series, a new one, re-sends in and out of the
    # batch, times out of order, declared counts) through `record` and `record_many`.
    def instances(uid: str) -> list:
        one, two = f"{uid}.1", f"{uid}.2"
        first = make_instance(uid, series_uid=one, received_at=T0 + timedelta(seconds=30))
        batch = [
            make_instance(uid, series_uid=one, received_at=T0 + timedelta(seconds=40)),
            make_instance(
                uid, series_uid=one, received_at=T0 + timedelta(seconds=10), declared_images=3
            ),
            first,  # a re-send of the instance indexed before the batch
            make_instance(
                uid, series_uid=two, modality="MR", received_at=T0 + timedelta(seconds=50)
            ),
            make_instance(
                uid, series_uid=two, received_at=T0 + timedelta(seconds=5), declared_images=2
            ),
        ]
        batch.append(batch[0])  # a re-send within the batch
        return [first, *batch]

    one_by_one, batched = new_uid(), new_uid()
    single = instances(one_by_one)
    expected = [instance_index.record(i) for i in single]
    many = instances(batched)
    assert instance_index.record(many[0]) is True
    assert instance_index.record_many(many[1:]) == expected[1:]
    assert expected[1:] == [True, True, False, True, True, False]
    assert _state(uow_factory, session_factory, batched) == _state(
        uow_factory, session_factory, one_by_one
    )
    counts, times, series = _state(uow_factory, session_factory, batched)
    assert counts == (2, 5, frozenset({"CT", "MR"}))
    assert times == (T0 + timedelta(seconds=5), T0 + timedelta(seconds=50))
    assert series == [
        (3, 3, T0 + timedelta(seconds=10), T0 + timedelta(seconds=40)),
        (2, 2, T0 + timedelta(seconds=5), T0 + timedelta(seconds=50)),
    ]
