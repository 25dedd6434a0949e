"""The memory store's committed tables, and one transaction's pending changes over them.

Semantics follow the SQL store's (SQLite takes the write lock at BEGIN, PostgreSQL locks
the rows it updates): a transaction takes the store's write lock at its first write and
holds it until it commits or rolls back, so two writers never interleave and a
conditional move sees the latest committed state; reads see what is committed plus the
transaction's own writes (read committed). Writes go to the transaction's overlay and
reach the tables only at commit; a rollback drops the overlay.

Rows are frozen records (`StudyRecord`, `AuditEvent`...) replaced whole, never mutated,
so a record handed to a caller stays as it was read.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import TYPE_CHECKING, Any

from garde.dispatch.model import StudyState
from garde.store.enums import GenerationKind
from garde.store.errors import StoreError, StudyNotFoundError
from garde.store.records import StudyRecord

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from garde.dispatch.model import Radiologist, Shift, Site
    from garde.store.records import (
        AssignmentRecord,
        AuditEvent,
        PreviewRecord,
        PriorRecord,
        ReportRecord,
        StudyAttributes,
    )


def utc(at: datetime) -> datetime:
    """``at`` in UTC, as the SQL store's datetime columns give it back."""
    return at.astimezone(UTC)


_STUDY_FIELDS = tuple(f.name for f in dataclasses.fields(StudyRecord))


def replaced(row: StudyRecord, changes: Mapping[str, Any]) -> StudyRecord:
    """``row`` with ``changes`` (`dataclasses.replace`, without its per-call introspection:
    the simulator replaces rows thousands of times a night)."""
    return StudyRecord(*[changes[n] if n in changes else getattr(row, n) for n in _STUDY_FIELDS])


def json_copy(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a JSON column gives back: a fresh dict, refused if not JSON-safe (as SQL does)."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(value or {})))
    return loaded


@dataclass(frozen=True, slots=True)
class SeriesEntry:
    """A stored series (the SQL ``series`` row)."""

    series_uid: str
    study_uid: str
    seq: int
    number: int | None
    modality: str
    description: str
    declared_count: int | None
    instance_count: int
    first_received_at: datetime
    last_received_at: datetime


@dataclass(frozen=True, slots=True)
class InstanceEntry:
    """A stored instance (the SQL ``instances`` row)."""

    sop_instance_uid: str
    series_uid: str
    seq: int
    number: int | None
    path: str
    size_bytes: int
    transfer_syntax: str
    calling_ae: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A kept webhook notification (the SQL ``webhook_outbox`` row)."""

    id: int
    kind: str
    body: str
    created_at: datetime
    next_attempt_at: datetime
    study_uid: str | None = None
    priority: str | None = None
    attempts: int = 0
    delivered_at: datetime | None = None
    dropped_at: datetime | None = None
    leased_until: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    escalated_at: datetime | None = None
    last_error: str | None = None
    # a report's delivery shares the table, as in SQL (channel dicom, hl7 or critical)
    channel: str = "webhook"
    destination: str | None = None
    dedupe_key: str | None = None
    report_id: int | None = None


@dataclass(frozen=True, slots=True)
class PriorEntry:
    """A kept prior (the SQL ``priors`` row)."""

    id: int
    record: PriorRecord
    retrieved_at: datetime
    refused: int


@dataclass(frozen=True, slots=True)
class LookupEntry:
    """A study's one prior lookup (the SQL ``prior_lookups`` row)."""

    study_uid: str
    site_id: str
    state: str  # waiting, done, failed
    created_at: datetime
    finished_at: datetime | None = None
    found: int = 0
    retrieved: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A personal token's hash (the SQL ``access_tokens`` row)."""

    token_hash: str
    subject: str
    role: str
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProfessionalEntry:
    """A professional of the national directory (the SQL ``professionals`` row)."""

    rpps: str
    last_name: str
    first_name: str
    title: str
    display_name: str
    profession: str
    specialties: tuple[str, ...]
    specialty_labels: tuple[str, ...]
    structures: tuple[str, ...]
    first_imported_at: datetime
    updated_at: datetime
    seen_at: datetime
    missing_since: datetime | None = None
    retired_at: datetime | None = None


@dataclass
class Tables:
    """Everything committed, and the write lock (see the module docstring).

    The dicts keep insertion order, which is the SQL store's ``id`` order.
    """

    studies: dict[str, StudyRecord] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)  # a study's id: the SQL order
    in_state: dict[StudyState, dict[str, None]] = field(
        default_factory=lambda: {state: {} for state in StudyState}
    )
    series: dict[str, SeriesEntry] = field(default_factory=dict)
    study_series: dict[str, list[str]] = field(default_factory=dict)
    instances: dict[str, InstanceEntry] = field(default_factory=dict)
    assignments: dict[str, list[tuple[int, AssignmentRecord]]] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    sites: dict[str, tuple[Site, bool]] = field(default_factory=dict)
    radiologists: dict[str, tuple[Radiologist, bool]] = field(default_factory=dict)
    shifts: list[Shift] = field(default_factory=list)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    # (study, series or None for the whole study, kind) -> the preview, with its id
    previews: dict[tuple[str, str | None, str], tuple[int, PreviewRecord]] = field(
        default_factory=dict
    )
    reports: dict[int, ReportRecord] = field(default_factory=dict)
    priors: dict[int, PriorEntry] = field(default_factory=dict)
    lookups: dict[str, LookupEntry] = field(default_factory=dict)
    tokens: list[TokenRow] = field(default_factory=list)
    professionals: dict[str, ProfessionalEntry] = field(default_factory=dict)
    # study -> the attributes read from its first file (`memory.attributes`)
    attributes: dict[str, StudyAttributes] = field(default_factory=dict)
    # as the migration seeds them: every kind at 0
    generations: dict[GenerationKind, int] = field(
        default_factory=lambda: dict.fromkeys(GenerationKind, 0)
    )
    ids: Iterator[int] = field(default_factory=lambda: count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Held briefly while a commit (or an intake) is applied and while a query gathers
    # rows, so a query sees a commit whole or not at all, as a SQL reader does.
    publish: threading.Lock = field(default_factory=threading.Lock)
    lock_timeout_s: float = 30.0  # how long a writer waits for another's commit

    def next_id(self) -> int:
        """A fresh id (one sequence for every table: only the order matters)."""
        return next(self.ids)

    def put_study(self, record: StudyRecord) -> None:
        """Store a committed study row, keeping the id and the per-state index."""
        uid = record.study_uid
        old = self.studies.get(uid)
        if old is None:
            self.seq[uid] = self.next_id()
        elif old.state is not record.state:
            self.in_state[old.state].pop(uid, None)
        self.in_state[record.state][uid] = None
        self.studies[uid] = record


_COPIED = ("sites", "radiologists", "shifts", "tokens", "professionals", "generations")


class Transaction:
    """One unit of work's pending changes (see the module docstring)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.studies: dict[str, StudyRecord] = {}
        self.assignments: list[tuple[int, AssignmentRecord]] = []
        self.audit: list[AuditEvent] = []
        self.outbox: dict[int, OutboxRow] = {}
        self.outbox_deleted: set[int] = set()
        self.previews: dict[tuple[str, str | None, str], tuple[int, PreviewRecord]] = {}
        self.sites: dict[str, tuple[Site, bool]] | None = None
        self.radiologists: dict[str, tuple[Radiologist, bool]] | None = None
        self.shifts: list[Shift] | None = None
        self.reports: dict[int, ReportRecord] = {}
        self.priors: dict[int, PriorEntry] = {}
        self.lookups: dict[str, LookupEntry] = {}
        self.tokens: list[TokenRow] | None = None
        self.professionals: dict[str, ProfessionalEntry] | None = None
        self.generations: dict[GenerationKind, int] | None = None
        self._locked = False
        self.closed = False

    # -- reads ---------------------------------------------------------------------------

    def study(self, study_uid: str) -> StudyRecord | None:
        """The study as this transaction sees it, or None."""
        self._check_open()
        mine = self.studies.get(study_uid)
        return mine if mine is not None else self.tables.studies.get(study_uid)

    def require(self, study_uid: str) -> StudyRecord:
        """The study; raises `StudyNotFoundError` if there is none."""
        found = self.study(study_uid)
        if found is None:
            raise StudyNotFoundError(study_uid)
        return found

    def all_studies(self) -> list[StudyRecord]:
        """Every study as this transaction sees it, in insertion (``id``) order."""
        self._check_open()
        mine = self.studies
        with self.tables.publish:
            if not mine:
                return list(self.tables.studies.values())
            return [mine.get(uid, record) for uid, record in self.tables.studies.items()]

    def in_states(self, *states: StudyState) -> list[StudyRecord]:
        """The studies in ``states`` as this transaction sees them, in ``id`` order.

        From the per-state index: a sweep reads the few receiving studies, not the night.
        """
        self._check_open()
        tables, mine = self.tables, self.studies
        with tables.publish:
            uids = [uid for state in states for uid in tables.in_state[state]]
            if mine:
                uids = [u for u in uids if u not in mine]
                uids.extend(u for u, r in mine.items() if r.state in states)
            found = [mine.get(uid) or tables.studies[uid] for uid in uids]
        seq = tables.seq
        return sorted(found, key=lambda r: seq[r.study_uid])

    def outbox_rows(self) -> list[OutboxRow]:
        """Every kept notification as this transaction sees it, by id."""
        self._check_open()
        with self.tables.publish:
            rows = {**self.tables.outbox, **self.outbox}
        deleted = self.outbox_deleted
        return [rows[key] for key in sorted(rows) if key not in deleted]

    def outbox_row(self, message_id: int) -> OutboxRow | None:
        """One kept notification as this transaction sees it, or None."""
        self._check_open()
        if message_id in self.outbox_deleted:
            return None
        return self.outbox.get(message_id) or self.tables.outbox.get(message_id)

    def preview_rows(self, study_uid: str) -> list[tuple[int, PreviewRecord]]:
        """The study's previews (with their ids) as this transaction sees them."""
        self._check_open()
        with self.tables.publish:
            rows = {**self.tables.previews, **self.previews}
        return [row for key, row in rows.items() if key[0] == study_uid]

    def audit_events(self) -> list[AuditEvent]:
        """The committed audit trail and this transaction's appends."""
        self._check_open()
        with self.tables.publish:
            return [*self.tables.audit, *self.audit]

    def site_rows(self) -> dict[str, tuple[Site, bool]]:
        """Sites with their active flag."""
        self._check_open()
        return self.sites if self.sites is not None else self.tables.sites

    def radiologist_rows(self) -> dict[str, tuple[Radiologist, bool]]:
        """Radiologists with their active flag."""
        self._check_open()
        return self.radiologists if self.radiologists is not None else self.tables.radiologists

    def shift_rows(self) -> list[Shift]:
        """The stored shifts, in insertion order."""
        self._check_open()
        return self.shifts if self.shifts is not None else self.tables.shifts

    def report_rows(self) -> list[ReportRecord]:
        """Every report as this transaction sees it, by id."""
        self._check_open()
        with self.tables.publish:
            rows = {**self.tables.reports, **self.reports}
        return [rows[key] for key in sorted(rows)]

    def prior_rows(self) -> list[PriorEntry]:
        """Every kept prior as this transaction sees it, by id."""
        self._check_open()
        with self.tables.publish:
            rows = {**self.tables.priors, **self.priors}
        return [rows[key] for key in sorted(rows)]

    def lookup(self, study_uid: str) -> LookupEntry | None:
        """The study's prior lookup as this transaction sees it, or None."""
        self._check_open()
        return self.lookups.get(study_uid) or self.tables.lookups.get(study_uid)

    def looked_up(self) -> set[str]:
        """The studies with a prior lookup."""
        self._check_open()
        with self.tables.publish:
            return set(self.tables.lookups) | set(self.lookups)

    def token_rows(self) -> list[TokenRow]:
        """The stored token hashes, in insertion order."""
        self._check_open()
        return self.tokens if self.tokens is not None else self.tables.tokens

    def professional_rows(self) -> dict[str, ProfessionalEntry]:
        """The stored professionals, by RPPS number."""
        self._check_open()
        found = self.professionals
        return found if found is not None else self.tables.professionals

    def write_professionals(self) -> dict[str, ProfessionalEntry]:
        """This transaction's copy of the professionals, to change."""
        self.write()
        if self.professionals is None:
            self.professionals = dict(self.tables.professionals)
        return self.professionals

    def generation_rows(self) -> dict[GenerationKind, int]:
        """The change counters."""
        self._check_open()
        return self.generations if self.generations is not None else self.tables.generations

    # -- writes --------------------------------------------------------------------------

    def write(self) -> None:
        """Take the store's write lock (once per transaction; held until commit/rollback)."""
        self._check_open()
        if not self._locked:
            if not self.tables.lock.acquire(timeout=self.tables.lock_timeout_s):
                # SQLite's busy timeout: a writer left open elsewhere fails this one plainly.
                raise StoreError(
                    f"the memory store is locked by another unit of work "
                    f"(waited {self.tables.lock_timeout_s:g} s)"
                )
            self._locked = True

    def put_study(self, record: StudyRecord) -> None:
        """Replace the study's row (in this transaction)."""
        self.write()
        self.studies[record.study_uid] = record

    def write_tokens(self) -> list[TokenRow]:
        """This transaction's copy of the tokens, to change."""
        self.write()
        if self.tokens is None:
            self.tokens = list(self.tables.tokens)
        return self.tokens

    def write_generations(self) -> dict[GenerationKind, int]:
        """This transaction's copy of the change counters, to change."""
        self.write()
        if self.generations is None:
            self.generations = dict(self.tables.generations)
        return self.generations

    def commit(self) -> None:
        """Apply the overlay to the tables and release the write lock."""
        self._check_open()
        if not self._locked:
            return  # read only: nothing to apply
        tables = self.tables
        with tables.publish:
            for record in self.studies.values():
                tables.put_study(record)
            for seq, assignment in self.assignments:
                rows = tables.assignments.setdefault(assignment.study_uid, [])
                rows.append((seq, assignment))
            tables.audit.extend(self.audit)
            tables.outbox.update(self.outbox)
            for key in self.outbox_deleted:
                tables.outbox.pop(key, None)
            tables.reports.update(self.reports)
            tables.priors.update(self.priors)
            tables.lookups.update(self.lookups)
            tables.previews.update(self.previews)
            for name in _COPIED:  # the tables a transaction copies whole to change
                mine = getattr(self, name)
                if mine is not None:
                    setattr(tables, name, mine)
        self._reset()

    def rollback(self) -> None:
        """Drop the overlay and release the write lock."""
        self._reset()

    def close(self) -> None:
        """Roll back what was not committed; the transaction is unusable afterwards."""
        self._reset()
        self.closed = True

    def _reset(self) -> None:
        self.studies = {}
        self.assignments = []
        self.audit = []
        self.outbox = {}
        self.outbox_deleted = set()
        self.reports = {}
        self.priors = {}
        self.lookups = {}
        self.previews = {}
        self.sites = self.radiologists = None
        self.shifts = None
        self.tokens = None
        self.professionals = None
        self.generations = None
        if self._locked:
            self._locked = False
            self.tables.lock.release()

    def _check_open(self) -> None:
        if self.closed:
            raise StoreError("use the unit of work as a context manager (with ... as uow)")
