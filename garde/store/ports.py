"""The `UnitOfWork` port: what the dispatch path's services need from the store.

Two stores satisfy it: `garde.store.uow.SqlUnitOfWork` (SQLAlchemy; mypy checks it
against these Protocols wherever a service is given one) and
`garde.store.memory.MemoryStore`'s units of work (dicts: fast service tests and the
simulator's nights). `tests/integration/store/test_store_contract.py` runs the same
cases against both, so the fake cannot drift from the SQL semantics.

Each repository Protocol names the methods the services call, with the SQL store's
signatures; the repository attributes are read-only properties so a store may return
its own classes (a Protocol's plain attribute would have to be invariant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime
    from types import TracebackType

    from garde.directory.model import Professional
    from garde.dispatch.lifecycle import StudyEvent
    from garde.dispatch.model import (
        Radiologist,
        Shift,
        Site,
        StudyFacts,
        StudyState,
        TriageResult,
    )
    from garde.store.enums import AssignedBy, GenerationKind
    from garde.store.records import (
        AssignmentRecord,
        AuditEvent,
        Delivery,
        ImportCounts,
        MissingAttributes,
        OutboxBacklog,
        OutboxEntry,
        OutboxMessage,
        PatientContext,
        PreviewRecord,
        PriorRecord,
        ReportOnItsWay,
        ReportRecord,
        SeriesRecord,
        StoredProfessional,
        StudyAttributes,
        StudyRecord,
        TokenHolder,
        WorklistRow,
    )


class Studies(Protocol):
    """Studies: lifecycle writes, triage, assignments and the sweep's queries."""

    def get(self, study_uid: str) -> StudyRecord | None:
        """The study with this StudyInstanceUID, or None."""
        ...

    def facts(self, study_uid: str) -> StudyFacts:
        """What triage looks at (raises `StudyNotFoundError` for an unknown study)."""
        ...

    def due_for_stability(
        self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]
    ) -> list[StudyRecord]:
        """Receiving studies quiet for their site's stable age, oldest last instance first."""
        ...

    def with_complete_series(
        self,
        now: datetime,
        default_age_s: float,
        site_ages: Mapping[str, float],
        series_age_s: float | None = None,
    ) -> list[StudyRecord]:
        """Receiving studies not yet stable with a complete series, in arrival order."""
        ...

    def grown_since_stable(
        self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]
    ) -> list[StudyRecord]:
        """Open studies that received instances after they became stable, quiet again."""
        ...

    def declared_complete_since(self, since: datetime) -> bool:
        """Whether a receiving study's series reached its declared count after ``since``."""
        ...

    def next_quiet_at(
        self,
        default_age_s: float,
        site_ages: Mapping[str, float],
        series_age_s: float | None = None,
    ) -> list[datetime]:
        """When each receiving study, and each of its series, becomes quiet."""
        ...

    def mark_stable_again(self, study_uid: str, at: datetime) -> None:
        """Stamp ``stable_at`` anew (not a lifecycle change: the version stays)."""
        ...

    def releasers(self, study_uids: Iterable[str]) -> dict[str, str]:
        """Who last released each of these studies (those nobody released left out)."""
        ...

    def open_studies(self) -> list[StudyRecord]:
        """Pending, assigned and in-progress studies, in insertion order."""
        ...

    def by_state(self, state: StudyState | str) -> list[StudyRecord]:
        """Studies in ``state``, in arrival order."""
        ...

    def linked(self, study_uid: str, *, limit: int = ...) -> list[StudyRecord]:
        """The same patient's studies from other hospitals, newest first."""
        ...

    def recent_readers(self, study_uid: str, since: datetime) -> tuple[str, ...]:
        """Who was given the same patient's other studies that arrived since ``since``."""
        ...

    def worklist(self, radiologist_id: str) -> list[WorklistRow]:
        """What ``radiologist_id`` has to read: in progress first, then most urgent."""
        ...

    def reports_on_their_way(self, radiologist_id: str) -> list[ReportOnItsWay]:
        """The reader's drafts and signed reports not yet at the hospital, newest first."""
        ...

    def assignments(self, study_uid: str) -> list[AssignmentRecord]:
        """The study's assignment history, oldest first."""
        ...

    def patient_context(self, study_uid: str) -> PatientContext:
        """The study's patient context (empty parts where not known yet)."""
        ...

    def series(self, study_uid: str) -> list[SeriesRecord]:
        """The study's series, by series number (unnumbered last)."""
        ...

    def instance_paths(self, series_uid: str) -> list[str]:
        """Storage-relative paths of a series' instances, by InstanceNumber."""
        ...

    def previews(self, study_uid: str) -> list[PreviewRecord]:
        """The study's previews: study-level first, then by series number and kind."""
        ...

    def set_preview(self, uid: str, kind: str, path: str, at: datetime | None = None) -> None:
        """Record (or replace) a series' or a whole study's ``kind`` preview."""
        ...

    def open_without_previews(self) -> list[StudyRecord]:
        """Open, triaged studies with no preview at all, most urgent deadline first."""
        ...

    def move(
        self,
        study_uid: str,
        *events: StudyEvent | str,
        at: datetime,
        report_ref: str | None = None,
        expected_version: int | None = None,
    ) -> StudyRecord:
        """Apply ``events`` in order as the lifecycle table allows (it decides the state)."""
        ...

    def set_triage(
        self,
        study_uid: str,
        result: TriageResult,
        deadline: datetime,
        *,
        expected_version: int | None = None,
    ) -> StudyRecord:
        """Store triage's verdict and the SLA deadline it implies."""
        ...

    def assign(
        self,
        study_uid: str,
        radiologist_id: str | None,
        *,
        at: datetime,
        by: AssignedBy | str,
        fallback: bool = False,
        explanation: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> StudyRecord:
        """Give the study to ``radiologist_id`` (None: to no one) and keep the history."""
        ...

    def set_escalation(
        self, study_uid: str, tier: int, *, expected_version: int | None = None
    ) -> StudyRecord:
        """Record the highest escalation tier reached."""
        ...


class Claims(Protocol):
    """Compare-and-set moves of a study's state and assignee (`repositories.claim`)."""

    def move(
        self,
        study_uid: str,
        *events: StudyEvent,
        expect_state: StudyState,
        expect_assignee: str | None,
        at: datetime,
        to_assignee: str | None = ...,
        report_ref: str | None = None,
        by: AssignedBy | str = ...,
        explanation: Mapping[str, Any] | None = None,
        fallback: bool | None = None,
        released_by: str | None = None,
        pinned_by: str | None = ...,
    ) -> bool:
        """Move the study if, and only if, it is still as the caller saw it."""
        ...

    def unpin(self, study_uid: str) -> str | None:
        """End an operator's pin; who had pinned it."""
        ...

    def mark_unassigned_notice(self, study_uid: str, at: datetime) -> None:
        """Record when the last "unassigned" notice of a study went out."""
        ...


class Directory(Protocol):
    """Who sends (sites) and who reads (radiologists)."""

    def sites(self, *, include_inactive: bool = False) -> list[Site]:
        """The stored sites (active ones unless asked), by id."""
        ...

    def radiologists(self, *, include_inactive: bool = False) -> list[Radiologist]:
        """The stored radiologists (active ones unless asked), by id."""
        ...


class Roster(Protocol):
    """The stored shifts."""

    def shifts_between(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts overlapping [start, end), by start then radiologist."""
        ...

    def replace_shifts(self, start: datetime, end: datetime, shifts: Iterable[Shift]) -> int:
        """Replace every shift starting in [start, end) with ``shifts``; how many stored
        (`ValueError` if one starts outside the range)."""
        ...


class AuditTrail(Protocol):
    """The append-only audit trail."""

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
        ...

    def for_study(self, study_uid: str) -> list[AuditEvent]:
        """A study's events, oldest first."""
        ...

    def for_radiologist(self, radiologist_id: str) -> list[AuditEvent]:
        """A radiologist's events, oldest first."""
        ...

    def for_actor(self, actor: str) -> list[AuditEvent]:
        """One actor's events, oldest first."""
        ...


class Outbox(Protocol):
    """The webhook's notifications, kept until delivered and acknowledged."""

    def lease_due(self, now: datetime, until: datetime, limit: int) -> list[OutboxMessage]:
        """Lease up to ``limit`` due notifications, oldest first, until ``until``."""
        ...

    def delivered(self, message_id: int, at: datetime) -> None:
        """The receiver accepted it."""
        ...

    def failed(
        self, message_id: int, error: str, at: datetime, *, retry_at: datetime | None
    ) -> None:
        """A try failed: due again at ``retry_at``, or given up if that is None."""
        ...

    def pending(self) -> int:
        """Notifications neither delivered nor given up."""
        ...

    def due_count(self, now: datetime) -> int:
        """Pending notifications whose attempt is due at ``now``, leased or not."""
        ...

    def next_due(self) -> datetime | None:
        """When the earliest pending notification may be leased."""
        ...

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
        ...

    def acknowledge_one(self, message_id: int, at: datetime, *, by: str) -> None:
        """The receiver's answer acknowledged it."""
        ...

    def acknowledge_study(self, study_uid: str, at: datetime, *, by: str) -> int:
        """Acknowledge every notification of a study; how many were not yet."""
        ...

    def unacknowledged(
        self, created_before: datetime, priorities: Iterable[str]
    ) -> list[OutboxEntry]:
        """Neither acknowledged nor escalated, of these priorities, oldest first."""
        ...

    def mark_escalated(self, message_id: int, at: datetime) -> bool:
        """Record an escalation; False if another process did it first."""
        ...

    def entries(
        self, *, study_uid: str | None = None, open_only: bool = False, limit: int = 100
    ) -> list[OutboxEntry]:
        """The newest notifications, newest first."""
        ...

    def get(self, message_id: int) -> OutboxEntry | None:
        """One notification, by id."""
        ...

    def resend(self, message_id: int, now: datetime) -> bool:
        """Post it again at once; False if there is no such notification."""
        ...

    def backlog(self, since: datetime) -> OutboxBacklog:
        """What waits (and since when) and what was given up at or after ``since``."""
        ...

    def purge_settled(self, before: datetime) -> int:
        """Delete notifications delivered or given up before ``before``; how many."""
        ...


class Night(Protocol):
    """Read-side queries over the studies: the night's arrivals, what retention purges."""

    def received_since(self, since: datetime) -> list[StudyRecord]:
        """Studies whose first instance arrived at or after ``since``, oldest first."""
        ...

    def purgeable(self, reported_before: datetime, limit: int = 500) -> list[StudyRecord]:
        """Read studies reported before ``reported_before`` whose pixels are not purged
        yet (no `PURGE_ACTION` in their audit), the earliest reported first."""
        ...


class Reports(Protocol):
    """Reports, and their deliveries (outbox rows whose channel is not the webhook's)."""

    def of_study(self, study_uid: str) -> list[ReportRecord]:
        """The study's reports, first to last."""
        ...

    def get(self, report_id: int) -> ReportRecord | None:
        """One report by id."""
        ...

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
        ...

    def rewrite_draft(
        self, report_id: int, *, text: str, conclusion: str, critical: bool, at: datetime
    ) -> None:
        """A draft's new text (a signed report is left as it is)."""
        ...

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
        ...

    def undelivered_since(self, before: datetime) -> list[ReportRecord]:
        """Final reports signed at or before ``before``, not delivered, not yet alerted."""
        ...

    def mark_alerted(self, report_id: int, at: datetime) -> bool:
        """Record the alert; False if another process did first."""
        ...

    def delivery_times(self, since: datetime) -> list[tuple[str, datetime, datetime]]:
        """(priority, arrival, first report delivered) of studies arrived since ``since``
        (in no particular order)."""
        ...

    def states(self, study_uids: list[str]) -> dict[str, str]:
        """Each study's report state for the worklist: draft, sent, sending, failing."""
        ...

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
        ...

    def lease_due(self, now: datetime, until: datetime, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries, oldest first."""
        ...

    def delivered(self, delivery_id: int, at: datetime) -> None:
        """The destination took it; the report is delivered once all its rows are."""
        ...

    def failed(self, delivery_id: int, error: str, retry_at: datetime) -> None:
        """A try failed: due again at ``retry_at`` (a report is never given up)."""
        ...

    def deliveries(
        self, study_uid: str | None = None, *, open_only: bool = False
    ) -> list[Delivery]:
        """Deliveries of one study (or all), oldest first."""
        ...

    def resend(self, study_uid: str, now: datetime) -> int:
        """Send every delivery of the study again at once; how many."""
        ...

    def next_due(self) -> datetime | None:
        """When the earliest open delivery may go."""
        ...

    def backlog(self) -> tuple[int, int, datetime | None]:
        """(open deliveries, failing ones, the oldest open one's creation)."""
        ...


class Priors(Protocol):
    """Prior lookups (one per new study, claimed once) and the priors they kept."""

    def claim(self, study_uid: str, site_id: str, at: datetime) -> bool:
        """Start the one lookup of ``study_uid``; False if it was started already."""
        ...

    def finish(
        self, study_uid: str, at: datetime, *, found: int, retrieved: int, error: str | None
    ) -> None:
        """The lookup ended: done, or failed with ``error``."""
        ...

    def add(self, prior: PriorRecord, at: datetime, refused: int = 0) -> None:
        """Keep one prior of a study."""
        ...

    def of_study(self, study_uid: str) -> list[PriorRecord]:
        """The priors kept for a study, oldest study date first."""
        ...

    def parents(self, prior_uid: str) -> list[str]:
        """The studies ``prior_uid`` was kept as a prior of."""
        ...

    def unlooked(self, site_ids: list[str], since: datetime) -> list[tuple[str, str]]:
        """(study, site) of studies from ``site_ids`` received since ``since`` with no
        lookup yet, oldest first."""
        ...


class Professionals(Protocol):
    """The national directory's professionals, as last imported (by RPPS number)."""

    def import_all(self, professionals: Iterable[Professional], now: datetime) -> ImportCounts:
        """Make the stored directory match a whole extract; those it lacks are flagged."""
        ...

    def retire(self, rpps: str, now: datetime) -> bool:
        """An operator retires a professional (False: unknown RPPS number)."""
        ...

    def all(self) -> list[StoredProfessional]:
        """Every stored professional, by RPPS number."""
        ...

    def names(self) -> dict[str, str]:
        """RPPS number -> display name, of those not retired."""
        ...


class Tokens(Protocol):
    """Personal CLI tokens: only their SHA-256 is stored; a new one revokes the old."""

    def issue(
        self, token_hash: str, *, subject: str, role: str, at: datetime, issued_by: str
    ) -> int:
        """Store a new token hash for ``subject``; how many older ones were revoked."""
        ...

    def revoke(self, subject: str, at: datetime) -> int:
        """Revoke every live token of ``subject``; how many."""
        ...

    def holder(self, token_hash: str) -> TokenHolder | None:
        """The live token with this hash, or None (unknown or revoked)."""
        ...

    def count(self, role: str | None = None, *, live_only: bool = True) -> int:
        """How many tokens there are (live ones unless asked; of ``role``, if given)."""
        ...


class Generations(Protocol):
    """A counter per kind of change, which every `garde serve` node watches."""

    def bump(self, kind: GenerationKind | str, at: datetime) -> None:
        """Count one change of ``kind``, committed with the unit of work."""
        ...

    def current(self) -> dict[GenerationKind, int]:
        """Every kind's counter now (raises `StoreUnavailableError` if unreadable)."""
        ...


class StudyAttributeIndex(Protocol):
    """The attributes read from a study's first stored file (its patient context, its
    study-level DICOM JSON), kept once per study. Each call is its own transaction:
    `garde.store.dicomweb_index.DicomWebIndex` (SQL) and
    `garde.store.memory.MemoryAttributeIndex` satisfy it."""

    def missing_attributes(self, limit: int = ...) -> list[MissingAttributes]:
        """Up to ``limit`` studies with no attributes yet, each with its first instance."""
        ...

    def save_attributes(self, values: Sequence[tuple[int, StudyAttributes]]) -> None:
        """Keep each study's attributes (a study that has them already keeps its own)."""
        ...


class UnitOfWork(Protocol):
    """One transaction: repositories as attributes, rolled back unless committed."""

    @property
    def studies(self) -> Studies:
        """The studies."""
        ...

    @property
    def claims(self) -> Claims:
        """Compare-and-set moves of studies."""
        ...

    @property
    def directory(self) -> Directory:
        """Sites and radiologists."""
        ...

    @property
    def roster(self) -> Roster:
        """Shifts."""
        ...

    @property
    def audit(self) -> AuditTrail:
        """The audit trail."""
        ...

    @property
    def outbox(self) -> Outbox:
        """Notifications kept until acknowledged."""
        ...

    @property
    def reports(self) -> Reports:
        """Reports and their deliveries."""
        ...

    @property
    def priors(self) -> Priors:
        """Prior lookups and the priors kept."""
        ...

    @property
    def professionals(self) -> Professionals:
        """The national directory's professionals."""
        ...

    @property
    def night(self) -> Night:
        """Read-side queries over the studies."""
        ...

    @property
    def tokens(self) -> Tokens:
        """Personal tokens (their hashes)."""
        ...

    @property
    def generations(self) -> Generations:
        """The change counters the nodes watch."""
        ...

    def __enter__(self) -> Self:
        """Open the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, and release the session."""
        ...

    def commit(self) -> None:
        """Make the work so far durable."""
        ...

    def rollback(self) -> None:
        """Discard the work not yet committed."""
        ...
