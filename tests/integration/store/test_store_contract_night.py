"""The store contract, continued: the read-side queries over studies (the night's
arrivals, what retention may purge), a study's patient context, and the purge of
settled notifications, the same cases on SQLite, PostgreSQL (when configured) and the
memory store, through the `garde.store.ports.UnitOfWork` port only."""

from __future__ import annotations

from datetime import timedelta

from garde.dispatch.lifecycle import StudyEvent
from garde.store.enums import PURGE_ACTION
from garde.store.records import OutboxBacklog, PatientContext
from tests.integration.store.contract_store import T0, Store

MIN = timedelta(minutes=1)


def _read(store: Store, uid: str, done_at: object) -> None:
    with store.uow_factory() as uow:
        uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=T0)
        uow.studies.assign(uid, "rad-1", at=T0, by="router")
        uow.studies.move(uid, StudyEvent.ASSIGNED, StudyEvent.STARTED, at=T0)
        uow.studies.move(uid, StudyEvent.FINISHED, at=done_at, report_ref="r")
        uow.commit()


def test_received_since_gives_the_arrivals_from_then_oldest_first(store: Store) -> None:
    late = store.receive(at=T0 + 10 * MIN)
    early = store.receive(at=T0 + 5 * MIN)
    before = store.receive(at=T0 - 60 * MIN)
    with store.uow_factory() as uow:
        assert [r.study_uid for r in uow.night.received_since(T0)] == [early, late]
        assert before in [r.study_uid for r in uow.night.received_since(T0 - 60 * MIN)]


def test_purgeable_is_what_was_read_before_the_cutoff_and_not_purged_yet(store: Store) -> None:
    second, first, recent, purged = (store.receive() for _ in range(4))
    open_study = store.receive()
    _read(store, first, T0 + 1 * MIN)
    _read(store, second, T0 + 2 * MIN)
    _read(store, recent, T0 + 30 * MIN)
    _read(store, purged, T0 + 3 * MIN)
    with store.uow_factory() as uow:
        uow.audit.append(at=T0, actor="retention", action=PURGE_ACTION, study_uid=purged)
        uow.commit()
    cutoff = T0 + 10 * MIN
    with store.uow_factory() as uow:
        due = [r.study_uid for r in uow.night.purgeable(cutoff)]
        assert due == [first, second]
        assert open_study not in due
        assert [r.study_uid for r in uow.night.purgeable(cutoff, limit=1)] == [first]
        assert len(uow.night.purgeable(T0 + 2 * MIN)) == 2  # done at the cutoff counts


def test_a_study_without_attributes_read_has_only_its_accession(store: Store) -> None:
    uid = store.receive(accession_number="ACC-7")
    with store.uow_factory() as uow:
        assert uow.studies.patient_context(uid) == PatientContext(accession="ACC-7")
        assert uow.studies.patient_context("1.2.404") == PatientContext()


def test_settled_notifications_are_purged_once_old_enough(store: Store) -> None:
    with store.uow_factory() as uow:
        delivered = uow.outbox.add("assigned", "{}", T0)
        dropped = uow.outbox.add("assigned", "{}", T0)
        recent = uow.outbox.add("assigned", "{}", T0)
        pending = uow.outbox.add("assigned", "{}", T0)
        uow.outbox.delivered(delivered, T0 + 1 * MIN)
        uow.outbox.failed(dropped, "refused", T0 + 2 * MIN, retry_at=None)
        uow.outbox.delivered(recent, T0 + 20 * MIN)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.outbox.purge_settled(T0 + 10 * MIN) == 2
        assert uow.outbox.get(delivered) is None  # its own deletes
    with store.uow_factory() as uow:
        assert uow.outbox.get(delivered) is not None  # rolled back
        assert uow.outbox.purge_settled(T0 + 10 * MIN) == 2
        uow.commit()
    with store.uow_factory() as uow:
        kept = {e.id for e in uow.outbox.entries()}
        assert kept == {recent, pending}
        assert uow.outbox.pending() == 1


def test_the_webhook_backlog_counts_what_waits_and_what_was_given_up(store: Store) -> None:
    with store.uow_factory() as uow:
        assert uow.outbox.backlog(T0) == OutboxBacklog(0, None, 0)
        uow.outbox.add("assigned", "{}", T0 + MIN)
        waiting = uow.outbox.add("assigned", "{}", T0 + 2 * MIN)
        early = uow.outbox.add("assigned", "{}", T0)
        late = uow.outbox.add("assigned", "{}", T0)
        uow.outbox.failed(early, "refused", T0 - MIN, retry_at=None)
        uow.outbox.failed(late, "refused", T0 + MIN, retry_at=None)
        uow.outbox.failed(waiting, "timeout", T0 + 3 * MIN, retry_at=T0 + 4 * MIN)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.outbox.backlog(T0) == OutboxBacklog(2, T0 + MIN, 1)
