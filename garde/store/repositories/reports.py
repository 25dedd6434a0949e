"""Reports and their deliveries (rows of the outbox whose channel is not ``webhook``).

A delivery row is unique per (channel, destination, deduplication key): a report object
is queued once per destination, whatever crashes or re-tries happen. Rows are leased
before sending, as webhook rows are; a lease left by a crashed process expires and the
row is sent again, under the same SOP Instance UID or HL7 message control id, which the
receiver deduplicates on (Orthanc keeps one instance per SOP Instance UID).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from garde.store.models import ReportRow, StudyRow, WebhookOutboxRow
from garde.store.records import DRAFT, FINAL, Delivery, PriorRecord, ReportRecord
from garde.store.repositories.outbox import WEBHOOK

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

_ERROR_CHARS = 200

__all__ = [
    "DRAFT",
    "FINAL",
    "Delivery",
    "PriorRecord",
    "PriorRepository",
    "ReportRecord",
    "ReportRepository",
]


class ReportRepository:
    """Writes reports, queues and settles their deliveries."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- reports ------------------------------------------------------------------------
    def of_study(self, study_uid: str) -> list[ReportRecord]:
        """The study's reports, first to last."""
        query = select(ReportRow).where(ReportRow.study_uid == study_uid).order_by(ReportRow.number)
        return [_record(row) for row in self._session.scalars(query)]

    def get(self, report_id: int) -> ReportRecord | None:
        """One report by id."""
        row = self._session.get(ReportRow, report_id)
        return None if row is None else _record(row)

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
        last = self._session.scalar(
            select(func.max(ReportRow.number)).where(ReportRow.study_uid == study_uid)
        )
        row = ReportRow(
            study_uid=study_uid,
            number=int(last or 0) + 1,
            author=author,
            text=text,
            conclusion=conclusion,
            critical=critical,
            state=DRAFT,
            created_at=at,
            amends_id=amends_id,
        )
        self._session.add(row)
        self._session.flush()
        return _record(row)

    def rewrite_draft(
        self, report_id: int, *, text: str, conclusion: str, critical: bool, at: datetime
    ) -> None:
        """A draft's new text (a draft was never sent: nothing is replaced out there)."""
        self._session.execute(
            update(ReportRow)
            .where(ReportRow.id == report_id, ReportRow.state == DRAFT)
            .values(text=text, conclusion=conclusion, critical=critical, created_at=at)
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
        """The report is signed: its objects' UIDs, and delivered at once if it has
        nowhere to go (``delivered`` False keeps it open)."""
        self._session.execute(
            update(ReportRow)
            .where(ReportRow.id == report_id)
            .values(
                state=FINAL,
                final_at=at,
                sr_uid=sr_uid,
                pdf_uid=pdf_uid,
                control_id=control_id,
                delivered_at=at if delivered else None,
            )
        )

    def undelivered_since(self, before: datetime) -> list[ReportRecord]:
        """Final reports signed at or before ``before``, not delivered, not yet alerted."""
        query = (
            select(ReportRow)
            .where(
                ReportRow.state == FINAL,
                ReportRow.delivered_at.is_(None),
                ReportRow.alerted_at.is_(None),
                ReportRow.final_at <= before,
            )
            .order_by(ReportRow.id)
        )
        return [_record(row) for row in self._session.scalars(query)]

    def mark_alerted(self, report_id: int, at: datetime) -> bool:
        """Record the alert; False if another process did first."""
        result = self._session.execute(
            update(ReportRow)
            .where(ReportRow.id == report_id, ReportRow.alerted_at.is_(None))
            .values(alerted_at=at)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def delivery_times(self, since: datetime) -> list[tuple[str, datetime, datetime]]:
        """(priority, arrival, first report delivered) of studies arrived since ``since``."""
        query = (
            select(StudyRow.priority, StudyRow.first_received_at, ReportRow.delivered_at)
            .join(ReportRow, ReportRow.study_uid == StudyRow.study_uid)
            .where(
                ReportRow.number == 1,
                ReportRow.delivered_at.is_not(None),
                StudyRow.first_received_at >= since,
            )
        )
        return [
            (p.value if p is not None else "unknown", arrived, delivered)
            for p, arrived, delivered in self._session.execute(query).all()
            if delivered is not None
        ]

    def states(self, study_uids: list[str]) -> dict[str, str]:
        """Each study's report state for the worklist: draft, sent, waiting, failing."""
        if not study_uids:
            return {}
        found: dict[str, str] = {}
        rows = self._session.execute(
            select(ReportRow.study_uid, ReportRow.state, ReportRow.delivered_at, ReportRow.id)
            .where(ReportRow.study_uid.in_(study_uids))
            .order_by(ReportRow.number)
        ).all()
        failing = set(
            self._session.scalars(
                select(WebhookOutboxRow.study_uid).where(
                    _reports(), _open(), WebhookOutboxRow.attempts > 0
                )
            )
        )
        for study_uid, state, delivered_at, _ in rows:
            if state == DRAFT:
                found[study_uid] = "draft"
            elif delivered_at is not None:
                found[study_uid] = "sent"
            else:
                found[study_uid] = "failing" if study_uid in failing else "sending"
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
        exists = self._session.scalar(
            select(WebhookOutboxRow.id).where(
                WebhookOutboxRow.channel == channel,
                WebhookOutboxRow.destination == destination,
                WebhookOutboxRow.dedupe_key == dedupe_key,
            )
        )
        if exists is not None:
            return False
        try:
            with self._session.begin_nested():
                self._session.add(
                    WebhookOutboxRow(
                        kind=f"report_{channel}",
                        body=body,
                        created_at=at,
                        next_attempt_at=at,
                        study_uid=study_uid,
                        channel=channel,
                        destination=destination,
                        dedupe_key=dedupe_key,
                        report_id=report_id,
                    )
                )
        except IntegrityError:  # another process queued it between our look and insert
            return False
        return True

    def lease_due(self, now: datetime, until: datetime, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries, oldest first (see the webhook outbox)."""
        ids = list(
            self._session.scalars(
                select(WebhookOutboxRow.id)
                .where(_reports(), _open(), WebhookOutboxRow.next_attempt_at <= now, _free(now))
                .order_by(WebhookOutboxRow.id)
                .limit(limit)
            )
        )
        leased = []
        for row_id in ids:
            result = self._session.execute(
                update(WebhookOutboxRow)
                .where(WebhookOutboxRow.id == row_id, _open(), _free(now))
                .values(leased_until=until)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                leased.append(row_id)
        if not leased:
            return []
        rows = self._session.scalars(
            select(WebhookOutboxRow)
            .where(WebhookOutboxRow.id.in_(leased))
            .order_by(WebhookOutboxRow.id)
        )
        return [_delivery(row) for row in rows]

    def delivered(self, delivery_id: int, at: datetime) -> None:
        """The destination took it; the report is delivered once all its rows are."""
        row = self._session.get(WebhookOutboxRow, delivery_id)
        if row is None:
            return
        row.delivered_at = at
        row.leased_until = None
        row.last_error = None
        self._session.flush()
        if row.report_id is not None and row.channel != "critical":
            left = self._session.scalar(
                select(func.count()).where(
                    WebhookOutboxRow.report_id == row.report_id,
                    WebhookOutboxRow.channel != "critical",
                    WebhookOutboxRow.delivered_at.is_(None),
                )
            )
            if not left:
                self._session.execute(
                    update(ReportRow)
                    .where(ReportRow.id == row.report_id, ReportRow.delivered_at.is_(None))
                    .values(delivered_at=at)
                )

    def failed(self, delivery_id: int, error: str, retry_at: datetime) -> None:
        """A try failed: due again at ``retry_at`` (a report is never given up)."""
        self._session.execute(
            update(WebhookOutboxRow)
            .where(WebhookOutboxRow.id == delivery_id)
            .values(
                attempts=WebhookOutboxRow.attempts + 1,
                last_error=error[:_ERROR_CHARS],
                leased_until=None,
                next_attempt_at=retry_at,
            )
        )

    def deliveries(
        self, study_uid: str | None = None, *, open_only: bool = False
    ) -> list[Delivery]:
        """Deliveries of one study (or all), oldest first."""
        query = select(WebhookOutboxRow).where(_reports()).order_by(WebhookOutboxRow.id)
        if study_uid is not None:
            query = query.where(WebhookOutboxRow.study_uid == study_uid)
        if open_only:
            query = query.where(_open())
        return [_delivery(row) for row in self._session.scalars(query)]

    def resend(self, study_uid: str, now: datetime) -> int:
        """Send every delivery of the study again at once (same keys: receivers keep one
        copy); how many. Their reports count as undelivered until they are through."""
        result = self._session.execute(
            update(WebhookOutboxRow)
            .where(_reports(), WebhookOutboxRow.study_uid == study_uid)
            .values(delivered_at=None, leased_until=None, next_attempt_at=now, attempts=0)
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            self._session.execute(
                update(ReportRow)
                .where(ReportRow.study_uid == study_uid, ReportRow.state == FINAL)
                .values(delivered_at=None, alerted_at=None)
            )
        return count

    def next_due(self) -> datetime | None:
        """When the earliest open delivery may go (its retry, or its lease's end)."""
        found: datetime | None = self._session.scalar(
            select(func.min(WebhookOutboxRow.next_attempt_at)).where(_reports(), _open())
        )
        return found

    def backlog(self) -> tuple[int, int, datetime | None]:
        """(open deliveries, failing ones, the oldest open one's creation)."""
        waiting, oldest = self._session.execute(
            select(func.count(), func.min(WebhookOutboxRow.created_at)).where(_reports(), _open())
        ).one()
        failing = self._session.scalar(
            select(func.count()).where(_reports(), _open(), WebhookOutboxRow.attempts > 0)
        )
        return int(waiting or 0), int(failing or 0), oldest


def _reports() -> ColumnElement[bool]:
    return WebhookOutboxRow.channel != WEBHOOK


def _open() -> ColumnElement[bool]:
    return and_(WebhookOutboxRow.delivered_at.is_(None), WebhookOutboxRow.dropped_at.is_(None))


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookOutboxRow.leased_until.is_(None), WebhookOutboxRow.leased_until < now)


def _record(row: ReportRow) -> ReportRecord:
    return ReportRecord(
        id=row.id,
        study_uid=row.study_uid,
        number=row.number,
        author=row.author,
        text=row.text,
        conclusion=row.conclusion,
        critical=row.critical,
        state=row.state,
        created_at=row.created_at,
        final_at=row.final_at,
        amends_id=row.amends_id,
        sr_uid=row.sr_uid,
        pdf_uid=row.pdf_uid,
        control_id=row.control_id,
        delivered_at=row.delivered_at,
        alerted_at=row.alerted_at,
    )


def _delivery(row: WebhookOutboxRow) -> Delivery:
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


class PriorRepository:
    """Prior lookups (one per new study, claimed once) and the priors they kept."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, study_uid: str, site_id: str, at: datetime) -> bool:
        """Start the one lookup of ``study_uid``; False if it was started already."""
        from garde.store.models import PriorLookupRow  # noqa: PLC0415

        if self._session.scalar(
            select(PriorLookupRow.id).where(PriorLookupRow.study_uid == study_uid)
        ):
            return False
        try:
            with self._session.begin_nested():
                self._session.add(
                    PriorLookupRow(
                        study_uid=study_uid, site_id=site_id, state="waiting", created_at=at
                    )
                )
        except IntegrityError:
            return False
        return True

    def finish(
        self, study_uid: str, at: datetime, *, found: int, retrieved: int, error: str | None
    ) -> None:
        from garde.store.models import PriorLookupRow  # noqa: PLC0415

        self._session.execute(
            update(PriorLookupRow)
            .where(PriorLookupRow.study_uid == study_uid)
            .values(
                state="failed" if error else "done",
                finished_at=at,
                found=found,
                retrieved=retrieved,
                error=(error or None) and error[:_ERROR_CHARS],
            )
        )

    def add(self, prior: PriorRecord, at: datetime, refused: int = 0) -> None:
        from garde.store.models import PriorRow  # noqa: PLC0415

        self._session.add(
            PriorRow(
                study_uid=prior.study_uid,
                prior_uid=prior.prior_uid,
                study_date=prior.study_date[:8],
                modalities=prior.modalities[:64],
                description=prior.description[:256],
                instances=prior.instances,
                retrieved_at=at,
                refused=refused,
            )
        )

    def of_study(self, study_uid: str) -> list[PriorRecord]:
        from garde.store.models import PriorRow  # noqa: PLC0415

        rows = self._session.scalars(
            select(PriorRow).where(PriorRow.study_uid == study_uid).order_by(PriorRow.study_date)
        )
        return [
            PriorRecord(
                r.study_uid, r.prior_uid, r.study_date, r.modalities, r.description, r.instances
            )
            for r in rows
        ]

    def parents(self, prior_uid: str) -> list[str]:
        """The studies ``prior_uid`` was kept as a prior of."""
        from garde.store.models import PriorRow  # noqa: PLC0415

        return list(
            self._session.scalars(
                select(PriorRow.study_uid)
                .where(PriorRow.prior_uid == prior_uid)
                .order_by(PriorRow.id)
            )
        )

    def unlooked(self, site_ids: list[str], since: datetime) -> list[tuple[str, str]]:
        """(study, site) of studies from ``site_ids`` received since ``since`` with no
        lookup yet, oldest first."""
        from garde.store.models import PriorLookupRow  # noqa: PLC0415

        if not site_ids:
            return []
        looked = select(PriorLookupRow.study_uid)
        rows = self._session.execute(
            select(StudyRow.study_uid, StudyRow.site_id)
            .where(
                StudyRow.site_id.in_(site_ids),
                StudyRow.first_received_at >= since,
                StudyRow.study_uid.not_in(looked),
            )
            .order_by(StudyRow.first_received_at)
        ).all()
        return [(uid, site) for uid, site in rows]
