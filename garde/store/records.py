"""Frozen records the repositories return: ORM objects never leave the store.

Records are plain values: safe to keep after the unit of work is closed, to pass
between threads, and to compare in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.model import Priority, StudyState
    from garde.store.enums import AssignedBy


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """A stored study: what arrived, triage's verdict, who reads it, where it stands.

    ``version`` is the optimistic-concurrency counter: it changes on every lifecycle
    write (state, triage, assignment, start, finish), not on instance intake.
    """

    study_uid: str
    site_id: str
    state: StudyState
    first_received_at: datetime
    last_received_at: datetime
    series_count: int
    instance_count: int
    version: int
    patient_key: str = ""
    accession: str = ""
    description: str = ""
    body_part: str = ""
    requested_procedure: str = ""
    requested_priority: str = ""
    modalities: frozenset[str] = frozenset()
    stable_at: datetime | None = None
    priority: Priority | None = None
    skills: frozenset[str] = frozenset()
    reading_minutes: float | None = None
    triage_rule: str | None = None
    deadline: datetime | None = None
    assignee: str | None = None
    assigned_at: datetime | None = None
    fallback: bool = False
    started_at: datetime | None = None
    done_at: datetime | None = None
    report_ref: str | None = None
    escalation_tier: int = 0
    released_by: str | None = None  # who last gave it back: never routed back to them
    pinned_by: str | None = None  # the operator whose assignment sticks (until released)
    unassigned_notice_at: datetime | None = None  # the last "unassigned" notice
    handle: str = ""  # the short name people use ("h03-12"; `garde.store.handles`)

    @property
    def name(self) -> str:
        """What a person calls it: the handle, or the UID of a study stored before handles."""
        return self.handle or self.study_uid


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """A stored series (SeriesInstanceUID) of a study."""

    series_uid: str
    study_uid: str
    number: int | None
    modality: str
    description: str
    instance_count: int
    first_received_at: datetime
    last_received_at: datetime


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    """One entry of a study's assignment history."""

    study_uid: str
    radiologist_id: str | None
    at: datetime
    by: AssignedBy
    fallback: bool
    explanation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the append-only audit trail."""

    id: int
    at: datetime
    actor: str
    action: str
    study_uid: str | None
    radiologist_id: str | None
    origin: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PreviewRecord:
    """A rendered preview; ``series_uid`` None means it is of the whole study."""

    study_uid: str
    series_uid: str | None
    kind: str
    path: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PatientContext:
    """What the reader needs to decide (from the study's first instance): the patient's
    age and sex, the accession number, who asked for the exam and why."""

    age: str = ""  # DICOM age string: "067Y", "011M"
    sex: str = ""
    accession: str = ""
    requesting_physician: str = ""
    indication: str = ""

    @property
    def age_sex(self) -> str:
        """``67Y F``: the age without its leading zeros, and the sex; "-" if unknown."""
        age = self.age
        if len(age) > 1 and age[:-1].isdigit():
            age = f"{int(age[:-1])}{age[-1]}"
        return " ".join(v for v in (age, self.sex) if v) or "-"

    def line(self) -> str:
        """One line for people: ``67Y F, accession A12, asked by Dr X: indication``."""
        parts = [self.age_sex] if self.age_sex != "-" else []
        if self.accession:
            parts.append(f"accession {self.accession}")
        if self.requesting_physician:
            parts.append(f"asked by {self.requesting_physician.replace('^', ' ').strip()}")
        head = ", ".join(parts) or "no patient context"
        return f"{head}: {self.indication}" if self.indication else head

    def as_dict(self) -> dict[str, str]:
        """The JSON form (stable keys)."""
        return {
            "age": self.age,
            "sex": self.sex,
            "accession": self.accession,
            "requesting_physician": self.requesting_physician,
            "indication": self.indication,
        }


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One line of a radiologist's worklist, most urgent first."""

    study_uid: str
    site_id: str
    site_name: str
    modalities: frozenset[str]
    description: str
    priority: Priority | None
    deadline: datetime | None
    first_received_at: datetime
    state: StudyState
    assigned_at: datetime | None
    started_at: datetime | None
    preview_path: str | None
    version: int
    handle: str = ""  # the short name people use ("h03-12"; `garde.store.handles`)
    # The same patient's studies from other hospitals (linked by the INS), newest first.
    linked: tuple[str, ...] = ()
    # Priors fetched from the hospital's PACS (issue 14): how many, -1 while the lookup
    # runs, None when none was made.
    priors: int | None = None
    patient: PatientContext = PatientContext()

    @property
    def name(self) -> str:
        """What a person calls it: the handle, or the UID of a study stored before handles."""
        return self.handle or self.study_uid


@dataclass(frozen=True, slots=True)
class ReportOnItsWay:
    """A radiologist's report not yet at the hospital: a draft, or signed and in delivery."""

    study_uid: str
    handle: str
    state: str  # draft, sending, failing, or kept (the hospital has no destination)
    error: str = ""  # the last delivery's error, when failing

    @property
    def name(self) -> str:
        return self.handle or self.study_uid

    def as_json(self) -> dict[str, str]:
        return {
            "study_uid": self.study_uid,
            "handle": self.handle,
            "state": self.state,
            "error": self.error,
        }


# One statement for the SQLAlchemy and the lean stores (plain SQL both dialects run): a
# reader's drafts and signed reports not yet delivered, newest first, with how many
# deliveries were queued and the error of one still failing.
REPORTS_ON_THEIR_WAY_SQL = (
    "SELECT r.study_uid, s.handle, r.state,"
    " (SELECT count(*) FROM webhook_outbox o WHERE o.report_id = r.id),"
    " (SELECT max(o.last_error) FROM webhook_outbox o WHERE o.report_id = r.id"
    "  AND o.delivered_at IS NULL AND o.dropped_at IS NULL AND o.attempts > 0)"
    " FROM reports r LEFT JOIN studies s ON s.study_uid = r.study_uid"
    " WHERE r.author = :rid AND (r.state = 'draft' OR r.delivered_at IS NULL)"
    " ORDER BY r.created_at DESC, r.id DESC LIMIT 10"
)


def report_on_its_way(row: tuple[Any, ...]) -> ReportOnItsWay:
    """A row of `REPORTS_ON_THEIR_WAY_SQL` in the reader's words."""
    study_uid, handle, state, queued, error = row
    if state == "draft":
        word = "draft"
    elif not queued:
        word = "kept"
    else:
        word = "failing" if error else "sending"
    return ReportOnItsWay(str(study_uid), str(handle or ""), word, str(error or ""))


@dataclass(frozen=True, slots=True)
class StudyAttributes:
    """The patient context of a study and its study-level DICOM JSON (read from a stored
    file by `garde.services.study_attributes`, kept for QIDO-RS by `dicomweb_index`)."""

    study_date: str = ""
    study_time: str = ""
    patient_name: str = ""
    patient_sex: str = ""
    patient_age: str = ""
    patient_birth_date: str = ""
    referring_physician: str = ""
    requesting_physician: str = ""
    indication: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MissingAttributes:
    """A study without its attributes yet, and a stored instance to read them from
    (``path``: relative to the storage folder; ``study_id``: the store's own id)."""

    study_id: int
    path: str


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who a live personal token belongs to."""

    subject: str
    role: str
    issued_at: datetime


DRAFT, FINAL = "draft", "final"
"""A report's states: written and kept, then signed and sent."""


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A stored report."""

    id: int
    study_uid: str
    number: int
    author: str
    text: str
    conclusion: str
    critical: bool
    state: str
    created_at: datetime
    final_at: datetime | None
    amends_id: int | None
    sr_uid: str | None
    pdf_uid: str | None
    control_id: str | None
    delivered_at: datetime | None
    alerted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One report object on its way to one destination."""

    id: int
    report_id: int | None
    study_uid: str | None
    channel: str
    destination: str
    dedupe_key: str
    body: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None

    @property
    def state(self) -> str:
        """delivered, failing (tried and failed) or waiting."""
        if self.delivered_at is not None:
            return "delivered"
        return "failing" if self.attempts else "waiting"


@dataclass(frozen=True, slots=True)
class PriorRecord:
    """An earlier study kept for the reader of a new one."""

    study_uid: str
    prior_uid: str
    study_date: str
    modalities: str
    description: str
    instances: int


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The outbox at a glance, for `garde status`."""

    waiting: int
    oldest_waiting_since: datetime | None
    given_up: int


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import changed: rows created and updated, unchanged, newly missing."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: int
    missing: tuple[str, ...]  # flagged now: in the store, no longer in the extract


@dataclass(frozen=True, slots=True)
class StoredProfessional:
    """A professional as stored, with the import's flags."""

    rpps: str
    display_name: str
    specialties: tuple[str, ...]
    structures: tuple[str, ...]
    missing_since: datetime | None
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One notification to post."""

    id: int
    kind: str
    body: str
    attempts: int  # failed tries so far
    study_uid: str | None = None  # the study it is about: retried while it is open


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One notification as `garde notify list` shows it."""

    id: int
    kind: str
    study_uid: str | None
    priority: str | None
    created_at: datetime
    attempts: int
    state: str  # waiting, delivered, acknowledged, given_up
    last_error: str | None
    acked_by: str | None
    escalated_at: datetime | None
    body: str
