"""The store contract, continued: reports, their deliveries and prior lookups, the same
cases on SQLite, PostgreSQL (when configured) and the memory store, through the
`garde.store.ports.UnitOfWork` port only."""

from __future__ import annotations

from datetime import timedelta

from garde.store.records import DRAFT, FINAL, PriorRecord
from tests.integration.store.contract_store import STROKE, T0, Store

MIN = timedelta(minutes=1)


def _draft(store: Store, uid: str, text: str = "normal", **kw: object) -> int:
    with store.uow_factory() as uow:
        report = uow.reports.add(
            uid, author="rad-1", text=text, conclusion="", critical=False, at=T0, **kw
        )
        uow.commit()
    return report.id


def _queue(store: Store, uid: str, report_id: int, *channels: str) -> None:
    with store.uow_factory() as uow:
        for channel in channels:
            assert uow.reports.queue(
                channel=channel,
                destination=f"{channel}-dest",
                dedupe_key=f"{channel}-{report_id}",
                body="{}",
                at=T0,
                report_id=report_id,
                study_uid=uid,
            )
        uow.reports.finalize(
            report_id, T0, sr_uid="1.2.3", pdf_uid=None, control_id="c1", delivered=False
        )
        uow.commit()


def test_drafts_are_numbered_rewritten_until_signed_then_final(store: Store) -> None:
    uid = store.receive()
    first = _draft(store, uid)
    with store.uow_factory() as uow:
        uow.reports.rewrite_draft(first, text="better", conclusion="c", critical=True, at=T0 + MIN)
        uow.reports.finalize(
            first, T0 + 2 * MIN, sr_uid="1.2.3", pdf_uid="1.2.4", control_id=None, delivered=True
        )
        uow.reports.rewrite_draft(first, text="too late", conclusion="", critical=False, at=T0)
        uow.commit()
    second = _draft(store, uid, "addendum", amends_id=first)
    with store.uow_factory() as uow:
        reports = uow.reports.of_study(uid)
        assert [(r.number, r.state, r.text) for r in reports] == [
            (1, FINAL, "better"),
            (2, DRAFT, "addendum"),
        ]
        signed = uow.reports.get(first)
        assert signed is not None
        assert (signed.conclusion, signed.critical, signed.created_at) == ("c", True, T0 + MIN)
        assert (signed.final_at, signed.delivered_at, signed.sr_uid) == (
            T0 + 2 * MIN,
            T0 + 2 * MIN,
            "1.2.3",
        )
        assert uow.reports.get(second).amends_id == first  # type: ignore[union-attr]
        assert uow.reports.get(10**9) is None
        assert uow.reports.states([uid, "1.2.404"]) == {uid: "draft"}  # the last report's
        assert uow.reports.states([]) == {}


def test_a_report_is_delivered_when_every_destination_but_the_critical_took_it(
    store: Store,
) -> None:
    uid = store.receive()
    report = _draft(store, uid)
    _queue(store, uid, report, "dicom", "hl7", "critical")
    with store.uow_factory() as uow:
        assert not uow.reports.queue(  # queued once per destination and key
            channel="dicom",
            destination="dicom-dest",
            dedupe_key=f"dicom-{report}",
            body="{}",
            at=T0,
            report_id=report,
            study_uid=uid,
        )
        assert uow.reports.states([uid]) == {uid: "sending"}
        assert uow.outbox.pending() == 0  # the webhook's sender does not see them
        assert uow.outbox.lease_due(T0, T0 + MIN, 10) == []
        assert len(uow.outbox.entries(study_uid=uid)) == 3  # its listing does
        leased = uow.reports.lease_due(T0, T0 + MIN, 2)
        assert [d.channel for d in leased] == ["dicom", "hl7"]  # oldest first, up to 2
        assert [d.channel for d in uow.reports.lease_due(T0, T0 + MIN, 10)] == ["critical"]
        assert uow.reports.lease_due(T0, T0 + MIN, 10) == []  # all leased
        dicom, hl7, critical = uow.reports.deliveries(uid)
        assert (dicom.destination, dicom.dedupe_key, dicom.state) == (
            "dicom-dest",
            f"dicom-{report}",
            "waiting",
        )
        uow.reports.failed(hl7.id, "connection refused " * 20, T0 + 5 * MIN)
        uow.reports.delivered(dicom.id, T0 + MIN)
        uow.reports.delivered(critical.id, T0 + MIN)
        uow.reports.delivered(10**9, T0)  # nothing
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.reports.states([uid]) == {uid: "failing"}
        assert uow.reports.get(report).delivered_at is None  # type: ignore[union-attr]
        assert uow.reports.backlog() == (1, 1, T0)
        assert uow.reports.next_due() == T0 + 5 * MIN
        [failing] = uow.reports.deliveries(uid, open_only=True)
        assert (failing.attempts, failing.state, len(failing.last_error or "")) == (
            1,
            "failing",
            200,
        )
        assert uow.reports.lease_due(T0 + 4 * MIN, T0 + 5 * MIN, 10) == []  # not due yet
        uow.reports.delivered(failing.id, T0 + 6 * MIN)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.reports.get(report).delivered_at == T0 + 6 * MIN  # type: ignore[union-attr]
        assert uow.reports.states([uid]) == {uid: "sent"}
        assert uow.reports.backlog() == (0, 0, None)
        assert uow.reports.next_due() is None


def test_resend_undelivers_the_reports_and_an_old_undelivered_one_alerts_once(
    store: Store,
) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.studies.set_triage(uid, STROKE, T0 + 20 * MIN)
        uow.commit()
    report = _draft(store, uid)
    _queue(store, uid, report, "dicom")
    with store.uow_factory() as uow:
        assert [r.id for r in uow.reports.undelivered_since(T0 + MIN)] == [report]
        assert uow.reports.undelivered_since(T0 - MIN) == []
        assert uow.reports.mark_alerted(report, T0 + MIN)
        assert not uow.reports.mark_alerted(report, T0 + MIN)
        assert uow.reports.undelivered_since(T0 + MIN) == []
        [dicom] = uow.reports.deliveries(uid)
        uow.reports.delivered(dicom.id, T0 + 2 * MIN)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.reports.delivery_times(T0 - 60 * MIN) == [
            ("stroke", T0 + timedelta(seconds=1), T0 + 2 * MIN)
        ]
        assert uow.reports.delivery_times(T0 + 60 * MIN) == []
        assert uow.reports.resend(uid, T0 + 3 * MIN) == 1
        assert uow.reports.resend("1.2.404", T0) == 0
        uow.commit()
    with store.uow_factory() as uow:
        resent = uow.reports.get(report)
        assert resent is not None
        assert (resent.delivered_at, resent.alerted_at) == (None, None)
        [again] = uow.reports.deliveries(uid, open_only=True)
        assert (again.attempts, again.delivered_at) == (0, None)
        assert uow.reports.next_due() == T0 + 3 * MIN


def test_reports_are_kept_only_when_committed(store: Store) -> None:
    uid = store.receive()
    with store.uow_factory() as uow:
        uow.reports.add(uid, author="rad-1", text="t", conclusion="", critical=False, at=T0)
        assert len(uow.reports.of_study(uid)) == 1  # its own writes
    with store.uow_factory() as uow:
        assert uow.reports.of_study(uid) == []


def test_each_new_study_is_looked_up_once_and_keeps_its_priors(store: Store) -> None:
    old = store.receive(at=T0 - 120 * MIN)
    first = store.receive(at=T0 + MIN)
    elsewhere = store.receive(site="ch-b", at=T0)
    second = store.receive(at=T0 + 2 * MIN)
    with store.uow_factory() as uow:
        assert uow.priors.unlooked(["chu-a"], T0) == [(first, "chu-a"), (second, "chu-a")]
        assert uow.priors.unlooked([], T0) == []
        assert uow.priors.claim(first, "chu-a", T0)
        assert not uow.priors.claim(first, "chu-a", T0)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.priors.unlooked(["chu-a", "ch-b"], T0) == [
            (elsewhere, "ch-b"),
            (second, "chu-a"),
        ]
        assert old in dict(uow.priors.unlooked(["chu-a"], T0 - 180 * MIN))  # looked further back
        newer = PriorRecord(first, "9.1", "20250101", "CT", "scanner " * 50, 40)
        older = PriorRecord(first, "9.2", "2019010199", "MR", "IRM", 12)
        uow.priors.add(newer, T0)
        uow.priors.add(older, T0, refused=1)
        uow.priors.add(PriorRecord(second, "9.1", "20250101", "CT", "", 40), T0)
        uow.priors.finish(first, T0, found=3, retrieved=2, error=None)
        uow.commit()
    with store.uow_factory() as uow:
        kept = uow.priors.of_study(first)
        assert [(p.prior_uid, p.study_date) for p in kept] == [
            ("9.2", "20190101"),
            ("9.1", "20250101"),
        ]
        assert len(kept[1].description) == 256
        assert uow.priors.parents("9.1") == [first, second]
        assert uow.priors.parents("9.9") == []
        assert uow.priors.of_study(second)[0].instances == 40
