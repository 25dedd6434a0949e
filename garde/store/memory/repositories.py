"""Claims, directory, roster, audit and outbox in memory, as their SQL repositories behave."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from garde.dispatch import lifecycle
from garde.dispatch.lifecycle import StudyEvent
from garde.store.enums import AssignedBy
from garde.store.memory.studies import record_assignment
from garde.store.memory.tables import OutboxRow, json_copy, replaced, utc
from garde.store.records import AuditEvent, OutboxBacklog
from garde.store.repositories.outbox import WEBHOOK, OutboxEntry, OutboxMessage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime

    from garde.dispatch.model import Radiologist, Shift, Site, StudyState
    from garde.store.memory.tables import Transaction

_UNSET: Any = object()
_ACKED_BY_CHARS = 64
_ERROR_CHARS = 200  # as the SQL outbox keeps of an error


class MemoryClaims:
    """Compare-and-set moves (`garde.store.repositories.claim.ClaimRepository`)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def move(
        self,
        study_uid: str,
        *events: StudyEvent,
        expect_state: StudyState,
        expect_assignee: str | None,
        at: datetime,
        to_assignee: str | None = _UNSET,
        report_ref: str | None = None,
        by: AssignedBy | str = AssignedBy.OPERATOR,
        explanation: Mapping[str, Any] | None = None,
        fallback: bool | None = None,
        released_by: str | None = None,
        pinned_by: str | None = _UNSET,
    ) -> bool:
        """Move the study if, and only if, it is still in ``expect_state`` with
        ``expect_assignee``; False if it is not (or does not exist). The state reached
        is the lifecycle table's; `IllegalTransition` if ``events`` do not apply."""
        to_state = lifecycle.path(expect_state, events, study_uid=study_uid)
        self._tx.write()  # as the conditional UPDATE: the latest committed row decides
        row = self._tx.study(study_uid)
        if row is None or row.state != expect_state or row.assignee != expect_assignee:
            return False
        at = utc(at)
        values: dict[str, Any] = {"state": to_state, "version": row.version + 1}
        reassigned = to_assignee is not _UNSET and to_assignee != expect_assignee
        if to_assignee is not _UNSET:
            values["assignee"] = to_assignee
            if reassigned:
                values["assigned_at"] = None if to_assignee is None else at
        if StudyEvent.STARTED in events:
            values["started_at"] = at
        if StudyEvent.FINISHED in events:
            values["done_at"] = at
            values["report_ref"] = report_ref
        if fallback is not None:
            values["fallback"] = fallback
        if released_by is not None:
            values["released_by"] = released_by
            values["pinned_by"] = None
        if pinned_by is not _UNSET:
            values["pinned_by"] = pinned_by
        self._tx.put_study(replaced(row, values))
        if reassigned:
            record_assignment(
                self._tx, study_uid, to_assignee, at, AssignedBy(by), bool(fallback), explanation
            )
        return True

    def unpin(self, study_uid: str) -> str | None:
        """End an operator's pin; returns who had pinned it (None: it was not pinned)."""
        self._tx.write()
        row = self._tx.study(study_uid)
        if row is None or row.pinned_by is None:
            return None
        self._tx.put_study(replaced(row, {"pinned_by": None}))
        return row.pinned_by

    def mark_unassigned_notice(self, study_uid: str, at: datetime) -> None:
        """Record when the last "unassigned" notice of a study went out."""
        self._tx.write()
        row = self._tx.study(study_uid)
        if row is not None:
            self._tx.put_study(replaced(row, {"unassigned_notice_at": utc(at)}))


class MemoryDirectory:
    """Sites and radiologists (`garde.store.repositories.directory.DirectoryRepository`)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def sync_sites(self, sites: Iterable[Site]) -> None:
        """Make the stored sites match: upsert these, deactivate the others."""
        self._tx.write()
        wanted = {site.id: site for site in sites}
        rows = {sid: (site, sid in wanted) for sid, (site, _) in self._tx.site_rows().items()}
        rows.update({sid: (site, True) for sid, site in wanted.items()})
        self._tx.sites = rows

    def sites(self, *, include_inactive: bool = False) -> list[Site]:
        """The stored sites (active ones unless asked), by id."""
        rows = self._tx.site_rows()
        return [rows[s][0] for s in sorted(rows) if include_inactive or rows[s][1]]

    def sync_radiologists(self, radiologists: Iterable[Radiologist]) -> None:
        """Make the stored radiologists match: upsert these, deactivate the others."""
        self._tx.write()
        wanted = {rad.id: rad for rad in radiologists}
        rows = {rid: (r, rid in wanted) for rid, (r, _) in self._tx.radiologist_rows().items()}
        rows.update({rid: (rad, True) for rid, rad in wanted.items()})
        self._tx.radiologists = rows

    def radiologists(self, *, include_inactive: bool = False) -> list[Radiologist]:
        """The stored radiologists (active ones unless asked), by id."""
        rows = self._tx.radiologist_rows()
        return [rows[r][0] for r in sorted(rows) if include_inactive or rows[r][1]]


class MemoryRoster:
    """Shifts (`garde.store.repositories.roster.RosterRepository`)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def replace_shifts(self, start: datetime, end: datetime, shifts: Iterable[Shift]) -> int:
        """Replace every shift starting in [start, end) with ``shifts``; how many."""
        if end <= start:
            raise ValueError(f"empty range: {start.isoformat()} to {end.isoformat()}")
        new = list(shifts)
        for shift in new:
            if not start <= shift.start < end:
                raise ValueError(
                    f"shift of {shift.radiologist_id!r} at {shift.start.isoformat()} starts "
                    f"outside the imported range {start.isoformat()} to {end.isoformat()}"
                )
        self._tx.write()
        kept = [s for s in self._tx.shift_rows() if not start <= s.start < end]
        self._tx.shifts = [*kept, *new]
        return len(new)

    def shifts_between(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts overlapping [start, end), by start then radiologist."""
        found = [s for s in self._tx.shift_rows() if s.start < end and s.end > start]
        return sorted(found, key=lambda s: (s.start, s.radiologist_id))


class MemoryAudit:
    """The append-only audit trail (`garde.store.repositories.audit.AuditRepository`)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        study_uid: str | None = None,
        radiologist_id: str | None = None,
        origin: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one event."""
        self._tx.write()
        self._tx.audit.append(
            AuditEvent(
                id=self._tx.tables.next_id(),
                at=utc(at),
                actor=actor,
                action=action,
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                origin=origin,
                detail=json_copy(detail),
            )
        )

    def for_study(self, study_uid: str) -> list[AuditEvent]:
        """A study's events, oldest first."""
        return self._events(lambda e: e.study_uid == study_uid)

    def for_radiologist(self, radiologist_id: str) -> list[AuditEvent]:
        """A radiologist's events, oldest first."""
        return self._events(lambda e: e.radiologist_id == radiologist_id)

    def for_actor(self, actor: str) -> list[AuditEvent]:
        """One actor's events, oldest first."""
        return self._events(lambda e: e.actor == actor)

    def _events(self, wanted: Callable[[AuditEvent], bool]) -> list[AuditEvent]:
        found = [e for e in self._tx.audit_events() if wanted(e)]
        return sorted(found, key=lambda e: (e.at, e.id))


class MemoryOutbox:
    """Notifications kept until acknowledged (`garde.store.repositories.outbox`)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def add(
        self,
        kind: str,
        body: str,
        at: datetime,
        *,
        study_uid: str | None = None,
        priority: str | None = None,
    ) -> int:
        """Keep a new notification, due at once; its id."""
        self._tx.write()
        row = OutboxRow(
            id=self._tx.tables.next_id(),
            kind=kind,
            body=body,
            created_at=utc(at),
            next_attempt_at=utc(at),
            study_uid=study_uid,
            priority=priority,
        )
        self._tx.outbox[row.id] = row
        return row.id

    def lease_due(self, now: datetime, until: datetime, limit: int) -> list[OutboxMessage]:
        """Lease up to ``limit`` due notifications, oldest first, until ``until``."""
        self._tx.write()  # as the guarded UPDATE: a row leased meanwhile is skipped
        due = [
            r
            for r in self._tx.outbox_rows()
            if _open(r) and r.next_attempt_at <= now and _unleased(r, now)
        ][:limit]
        for row in due:
            self._tx.outbox[row.id] = dataclasses.replace(row, leased_until=utc(until))
        return [OutboxMessage(r.id, r.kind, r.body, r.attempts, r.study_uid) for r in due]

    def delivered(self, message_id: int, at: datetime) -> None:
        """The receiver accepted it."""
        self._update(lambda r: r.id == message_id, delivered_at=utc(at), leased_until=None)

    def failed(
        self, message_id: int, error: str, at: datetime, *, retry_at: datetime | None
    ) -> None:
        """A try failed: due again at ``retry_at``, or given up if that is None."""
        self._tx.write()
        row = self._tx.outbox_row(message_id)
        if row is None:
            return
        values: dict[str, Any] = {
            "attempts": row.attempts + 1,
            "last_error": error[:_ERROR_CHARS],
            "leased_until": None,
        }
        if retry_at is None:
            values["dropped_at"] = utc(at)
        else:
            values["next_attempt_at"] = utc(retry_at)
        self._tx.outbox[row.id] = dataclasses.replace(row, **values)

    def pending(self) -> int:
        """Notifications neither delivered nor given up."""
        return sum(1 for r in self._tx.outbox_rows() if _open(r))

    def due_count(self, now: datetime) -> int:
        """Pending notifications whose attempt is due at ``now``, leased or not."""
        return sum(1 for r in self._tx.outbox_rows() if _open(r) and r.next_attempt_at <= now)

    def next_due(self) -> datetime | None:
        """When the earliest pending notification may be leased: its next attempt, or the
        end of its lease if that is later."""
        return min(
            (
                r.leased_until
                if r.leased_until is not None and r.leased_until > r.next_attempt_at
                else r.next_attempt_at
                for r in self._tx.outbox_rows()
                if _open(r)
            ),
            default=None,
        )

    def acknowledge_one(self, message_id: int, at: datetime, *, by: str) -> None:
        """The receiver's answer acknowledged it."""
        self._update(
            lambda r: r.id == message_id and r.acked_at is None,
            acked_at=utc(at),
            acked_by=by[:_ACKED_BY_CHARS],
        )

    def acknowledge_study(self, study_uid: str, at: datetime, *, by: str) -> int:
        """Acknowledge every notification of a study; how many were not yet."""
        return self._update(
            lambda r: r.study_uid == study_uid and r.acked_at is None,
            acked_at=utc(at),
            acked_by=by[:_ACKED_BY_CHARS],
        )

    def unacknowledged(
        self, created_before: datetime, priorities: Iterable[str]
    ) -> list[OutboxEntry]:
        """Neither acknowledged nor escalated, of these priorities, oldest first."""
        wanted = set(priorities)
        return [
            _entry(r)
            for r in self._tx.outbox_rows()
            if r.study_uid is not None
            and r.priority in wanted
            and r.acked_at is None
            and r.escalated_at is None
            and r.created_at <= created_before
        ]

    def mark_escalated(self, message_id: int, at: datetime) -> bool:
        """Record an escalation; False if another process did it first."""
        changed = self._update(
            lambda r: r.id == message_id and r.escalated_at is None, escalated_at=utc(at)
        )
        return changed == 1

    def entries(
        self, *, study_uid: str | None = None, open_only: bool = False, limit: int = 100
    ) -> list[OutboxEntry]:
        """The newest notifications (of one study, or only those still waiting)."""
        rows = [
            r
            for r in reversed(self._tx.outbox_rows())
            if (study_uid is None or r.study_uid == study_uid) and (not open_only or _open(r))
        ]
        return [_entry(r) for r in rows[:limit]]

    def get(self, message_id: int) -> OutboxEntry | None:
        """One notification, by id."""
        row = self._tx.outbox_row(message_id)
        return None if row is None else _entry(row)

    def resend(self, message_id: int, now: datetime) -> bool:
        """Post it again at once; False if there is no such notification."""
        changed = self._update(
            lambda r: r.id == message_id,
            delivered_at=None,
            dropped_at=None,
            leased_until=None,
            next_attempt_at=utc(now),
            attempts=0,
        )
        return changed == 1

    def backlog(self, since: datetime) -> OutboxBacklog:
        """What waits (and since when) and what was given up at or after ``since``."""
        rows = self._tx.outbox_rows()
        waiting = [r for r in rows if _open(r)]
        cut = utc(since)
        given_up = sum(1 for r in rows if r.dropped_at is not None and r.dropped_at >= cut)
        oldest = min((r.created_at for r in waiting), default=None)
        return OutboxBacklog(len(waiting), oldest, given_up)

    def purge_settled(self, before: datetime) -> int:
        """Delete notifications delivered or given up before ``before``; how many."""
        cut = utc(before)
        self._tx.write()
        settled = [
            r.id
            for r in self._tx.outbox_rows()
            if (r.delivered_at is not None and r.delivered_at < cut)
            or (r.dropped_at is not None and r.dropped_at < cut)
        ]
        self._tx.outbox_deleted.update(settled)
        return len(settled)

    def _update(self, wanted: Callable[[OutboxRow], bool], **values: Any) -> int:
        """The guarded UPDATE: change the matching rows; how many matched."""
        self._tx.write()
        matched = [r for r in self._tx.outbox_rows() if wanted(r)]
        for row in matched:
            self._tx.outbox[row.id] = dataclasses.replace(row, **values)
        return len(matched)


def _open(row: OutboxRow) -> bool:
    # Only webhook rows: report deliveries share the table (`memory.reports`).
    return row.channel == WEBHOOK and row.delivered_at is None and row.dropped_at is None


def _unleased(row: OutboxRow, now: datetime) -> bool:
    return row.leased_until is None or row.leased_until < now


def _entry(row: OutboxRow) -> OutboxEntry:
    if row.acked_at is not None:
        state = "acknowledged"
    elif row.delivered_at is not None:
        state = "delivered"
    elif row.dropped_at is not None:
        state = "given_up"
    else:
        state = "waiting"
    return OutboxEntry(
        id=row.id,
        kind=row.kind,
        study_uid=row.study_uid,
        priority=row.priority,
        created_at=row.created_at,
        attempts=row.attempts,
        state=state,
        last_error=row.last_error,
        acked_by=row.acked_by,
        escalated_at=row.escalated_at,
        body=row.body,
    )
