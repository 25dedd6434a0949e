"""Reports, their deliveries and prior lookups in memory, as their SQL repositories
behave (`garde.store.repositories.reports`).

A delivery is an outbox row whose channel is not the webhook's, as in SQL: the webhook
outbox's listing and purge see them, its sending does not.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from garde.store.memory.tables import LookupEntry, OutboxRow, PriorEntry, utc
from garde.store.records import DRAFT, FINAL, Delivery, PriorRecord, ReportRecord
from garde.store.repositories.outbox import WEBHOOK

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.store.memory.tables import Transaction

_ERROR_CHARS = 200  # as the SQL store keeps of an error


class MemoryReports:
    """Writes reports, queues and settles their deliveries."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    # -- reports ------------------------------------------------------------------------
    def of_study(self, study_uid: str) -> list[ReportRecord]:
        """The study's reports, first to last."""
        found = [r for r in self._tx.report_rows() if r.study_uid == study_uid]
        return sorted(found, key=lambda r: r.number)

    def get(self, report_id: int) -> ReportRecord | None:
        """One report by id."""
        return next((r for r in self._tx.report_rows() if r.id == report_id), None)

    def add(
        self,
        study_uid: str,
        *,
        author: str,
        text: str,
        conclusion: str,
        critical: bool,
        at: datetime,
        amends_id: int | None = None,
    ) -> ReportRecord:
        """A new draft, numbered after the study's last report."""
        self._tx.write()
        last = max((r.number for r in self.of_study(study_uid)), default=0)
        record = ReportRecord(
            id=self._tx.tables.next_id(),
            study_uid=study_uid,
            number=last + 1,
            author=author,
            text=text,
            conclusion=conclusion,
            critical=critical,
            state=DRAFT,
            created_at=utc(at),
            final_at=None,
            amends_id=amends_id,
            sr_uid=None,
            pdf_uid=None,
            control_id=None,
            delivered_at=None,
            alerted_at=None,
        )
        self._tx.reports[record.id] = record
        return record

    def rewrite_draft(
        self, report_id: int, *, text: str, conclusion: str, critical: bool, at: datetime
    ) -> None:
        """A draft's new text (a draft was never sent: nothing is replaced out there)."""
        self._update_reports(
            lambda r: r.id == report_id and r.state == DRAFT,
            text=text,
            conclusion=conclusion,
            critical=critical,
            created_at=utc(at),
        )

    def finalize(
        self,
        report_id: int,
        at: datetime,
        *,
        sr_uid: str | None,
        pdf_uid: str | None,
        control_id: str | None,
        delivered: bool,
    ) -> None:
        """The report is signed: its objects' UIDs; delivered at once if ``delivered``."""
        self._update_reports(
            lambda r: r.id == report_id,
            state=FINAL,
            final_at=utc(at),
            sr_uid=sr_uid,
            pdf_uid=pdf_uid,
            control_id=control_id,
            delivered_at=utc(at) if delivered else None,
        )

    def undelivered_since(self, before: datetime) -> list[ReportRecord]:
        """Final reports signed at or before ``before``, not delivered, not yet alerted."""
        cut = utc(before)
        return [
            r
            for r in self._tx.report_rows()
            if r.state == FINAL
            and r.delivered_at is None
            and r.alerted_at is None
            and r.final_at is not None
            and r.final_at <= cut
        ]

    def mark_alerted(self, report_id: int, at: datetime) -> bool:
        """Record the alert; False if another process did first."""
        changed = self._update_reports(
            lambda r: r.id == report_id and r.alerted_at is None, alerted_at=utc(at)
        )
        return changed == 1

    def delivery_times(self, since: datetime) -> list[tuple[str, datetime, datetime]]:
        """(priority, arrival, first report delivered) of studies arrived since ``since``."""
        cut = utc(since)
        found = []
        for report in self._tx.report_rows():
            study = self._tx.study(report.study_uid)
            if (
                report.number == 1
                and report.delivered_at is not None
                and study is not None
                and study.first_received_at >= cut
            ):
                priority = study.priority.value if study.priority is not None else "unknown"
                found.append((priority, study.first_received_at, report.delivered_at))
        return found

    def states(self, study_uids: list[str]) -> dict[str, str]:
        """Each study's report state for the worklist: draft, sent, sending, failing."""
        wanted = set(study_uids)
        failing = {r.study_uid for r in self._rows() if _open(r) and r.attempts > 0 and r.study_uid}
        found: dict[str, str] = {}
        for report in sorted(self._tx.report_rows(), key=lambda r: r.number):
            uid = report.study_uid
            if uid not in wanted:
                continue
            if report.state == DRAFT:
                found[uid] = "draft"
            elif report.delivered_at is not None:
                found[uid] = "sent"
            else:
                found[uid] = "failing" if uid in failing else "sending"
        return found

    # -- deliveries ---------------------------------------------------------------------
    def queue(
        self,
        *,
        channel: str,
        destination: str,
        dedupe_key: str,
        body: str,
        at: datetime,
        report_id: int | None,
        study_uid: str,
    ) -> bool:
        """Queue one object for one destination; False if it was queued already."""
        self._tx.write()
        if any(
            (r.channel, r.destination, r.dedupe_key) == (channel, destination, dedupe_key)
            for r in self._tx.outbox_rows()
        ):
            return False
        row = OutboxRow(
            id=self._tx.tables.next_id(),
            kind=f"report_{channel}",
            body=body,
            created_at=utc(at),
            next_attempt_at=utc(at),
            study_uid=study_uid,
            channel=channel,
            destination=destination,
            dedupe_key=dedupe_key,
            report_id=report_id,
        )
        self._tx.outbox[row.id] = row
        return True

    def lease_due(self, now: datetime, until: datetime, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries, oldest first."""
        self._tx.write()
        now = utc(now)
        due = [r for r in self._rows() if _open(r) and r.next_attempt_at <= now and _free(r, now)]
        leased = []
        for row in due[:limit]:
            taken = dataclasses.replace(row, leased_until=utc(until))
            self._tx.outbox[row.id] = taken
            leased.append(_delivery(taken))
        return leased

    def delivered(self, delivery_id: int, at: datetime) -> None:
        """The destination took it; the report is delivered once all its rows are."""
        row = self._tx.outbox_row(delivery_id)
        if row is None:
            return
        self._tx.write()
        self._tx.outbox[row.id] = dataclasses.replace(
            row, delivered_at=utc(at), leased_until=None, last_error=None
        )
        if row.report_id is None or row.channel == "critical":
            return
        left = [
            r
            for r in self._tx.outbox_rows()
            if r.report_id == row.report_id and r.channel != "critical" and r.delivered_at is None
        ]
        if not left:
            self._update_reports(
                lambda r: r.id == row.report_id and r.delivered_at is None,
                delivered_at=utc(at),
            )

    def failed(self, delivery_id: int, error: str, retry_at: datetime) -> None:
        """A try failed: due again at ``retry_at`` (a report is never given up)."""
        row = self._tx.outbox_row(delivery_id)
        if row is None:
            return
        self._tx.write()
        self._tx.outbox[row.id] = dataclasses.replace(
            row,
            attempts=row.attempts + 1,
            last_error=error[:_ERROR_CHARS],
            leased_until=None,
            next_attempt_at=utc(retry_at),
        )

    def deliveries(
        self, study_uid: str | None = None, *, open_only: bool = False
    ) -> list[Delivery]:
        """Deliveries of one study (or all), oldest first."""
        return [
            _delivery(r)
            for r in self._rows()
            if (study_uid is None or r.study_uid == study_uid) and (not open_only or _open(r))
        ]

    def resend(self, study_uid: str, now: datetime) -> int:
        """Send every delivery of the study again at once (same keys: receivers keep one
        copy); how many. Their reports count as undelivered until they are through."""
        self._tx.write()
        rows = [r for r in self._rows() if r.study_uid == study_uid]
        for row in rows:
            self._tx.outbox[row.id] = dataclasses.replace(
                row, delivered_at=None, leased_until=None, next_attempt_at=utc(now), attempts=0
            )
        if rows:
            self._update_reports(
                lambda r: r.study_uid == study_uid and r.state == FINAL,
                delivered_at=None,
                alerted_at=None,
            )
        return len(rows)

    def next_due(self) -> datetime | None:
        """When the earliest open delivery may go."""
        return min((r.next_attempt_at for r in self._rows() if _open(r)), default=None)

    def backlog(self) -> tuple[int, int, datetime | None]:
        """(open deliveries, failing ones, the oldest open one's creation)."""
        open_rows = [r for r in self._rows() if _open(r)]
        failing = sum(1 for r in open_rows if r.attempts > 0)
        oldest = min((r.created_at for r in open_rows), default=None)
        return len(open_rows), failing, oldest

    def _rows(self) -> list[OutboxRow]:
        """The report deliveries (not the webhook's rows), by id."""
        return [r for r in self._tx.outbox_rows() if r.channel != WEBHOOK]

    def _update_reports(self, wanted: Callable[[ReportRecord], bool], **values: object) -> int:
        """The guarded UPDATE of reports: change the matching ones; how many matched."""
        self._tx.write()
        matched = [r for r in self._tx.report_rows() if wanted(r)]
        for report in matched:
            self._tx.reports[report.id] = dataclasses.replace(report, **values)  # type: ignore[arg-type]
        return len(matched)


class MemoryPriors:
    """Prior lookups (one per new study, claimed once) and the priors they kept."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def claim(self, study_uid: str, site_id: str, at: datetime) -> bool:
        """Start the one lookup of ``study_uid``; False if it was started already."""
        self._tx.write()
        if self._tx.lookup(study_uid) is not None:
            return False
        self._tx.lookups[study_uid] = LookupEntry(study_uid, site_id, "waiting", utc(at))
        return True

    def finish(
        self, study_uid: str, at: datetime, *, found: int, retrieved: int, error: str | None
    ) -> None:
        """The lookup ended: done, or failed with ``error``."""
        entry = self._tx.lookup(study_uid)
        if entry is None:
            return
        self._tx.write()
        self._tx.lookups[study_uid] = dataclasses.replace(
            entry,
            state="failed" if error else "done",
            finished_at=utc(at),
            found=found,
            retrieved=retrieved,
            error=(error or None) and error[:_ERROR_CHARS],
        )

    def add(self, prior: PriorRecord, at: datetime, refused: int = 0) -> None:
        """Keep one prior of a study (its texts cut to the SQL columns' lengths)."""
        self._tx.write()
        if any(
            (e.record.study_uid, e.record.prior_uid) == (prior.study_uid, prior.prior_uid)
            for e in self._tx.prior_rows()
        ):
            # the SQL table's unique (study, prior) refuses it as its INSERT would
            raise ValueError(f"prior {prior.prior_uid} already kept for {prior.study_uid}")
        entry = PriorEntry(
            id=self._tx.tables.next_id(),
            record=dataclasses.replace(
                prior,
                study_date=prior.study_date[:8],
                modalities=prior.modalities[:64],
                description=prior.description[:256],
            ),
            retrieved_at=utc(at),
            refused=refused,
        )
        self._tx.priors[entry.id] = entry

    def of_study(self, study_uid: str) -> list[PriorRecord]:
        """The priors kept for a study, oldest study date first."""
        found = [e.record for e in self._tx.prior_rows() if e.record.study_uid == study_uid]
        return sorted(found, key=lambda r: r.study_date)

    def parents(self, prior_uid: str) -> list[str]:
        """The studies ``prior_uid`` was kept as a prior of."""
        return [
            e.record.study_uid for e in self._tx.prior_rows() if e.record.prior_uid == prior_uid
        ]

    def unlooked(self, site_ids: list[str], since: datetime) -> list[tuple[str, str]]:
        """(study, site) of studies from ``site_ids`` received since ``since`` with no
        lookup yet, oldest first."""
        if not site_ids:
            return []
        cut, sites, looked = utc(since), set(site_ids), self._tx.looked_up()
        found = [
            r
            for r in self._tx.all_studies()
            if r.site_id in sites and r.first_received_at >= cut and r.study_uid not in looked
        ]
        return [(r.study_uid, r.site_id) for r in sorted(found, key=lambda r: r.first_received_at)]


def _open(row: OutboxRow) -> bool:
    return row.delivered_at is None and row.dropped_at is None


def _free(row: OutboxRow, now: datetime) -> bool:
    return row.leased_until is None or row.leased_until < now


def _delivery(row: OutboxRow) -> Delivery:
    return Delivery(
        id=row.id,
        report_id=row.report_id,
        study_uid=row.study_uid,
        channel=row.channel,
        destination=row.destination or "",
        dedupe_key=row.dedupe_key or "",
        body=row.body,
        attempts=row.attempts,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )
