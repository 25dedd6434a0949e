"""SQLAlchemy 2 typed models: the tables of the store.

ORM classes never leave `garde.store`: repositories turn rows into the frozen records of
`records.py`. Enums are persisted by ``.value`` (readable in SQL, stable across renames of
members), datetimes through `UTCDateTime`, and every constraint gets a predictable name
so migrations can refer to it on both dialects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from garde.dispatch.model import Priority, StudyState
from garde.store.enums import AssignedBy
from garde.store.types import UTCDateTime, int_pk, path_str, short_str, text_str, uid

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _values(enum_cls: type[Any]) -> list[str]:
    return [member.value for member in enum_cls]


def _enum(enum_cls: type[Any], length: int) -> Enum:
    # Non-native: a VARCHAR on both dialects, so adding a member needs no ALTER TYPE.
    return Enum(enum_cls, native_enum=False, values_callable=_values, length=length)


class Base(DeclarativeBase):
    """Declarative base with the naming convention and the type map."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        StudyState: _enum(StudyState, 16),
        Priority: _enum(Priority, 16),
        AssignedBy: _enum(AssignedBy, 16),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class SiteRow(Base):
    """A sending hospital, synced from config (never deleted: studies refer to it)."""

    __tablename__ = "sites"

    id: Mapped[short_str] = mapped_column(primary_key=True)
    name: Mapped[text_str]
    ae_titles: Mapped[list[str]]
    timezone: Mapped[short_str]
    stable_age_s: Mapped[float | None] = mapped_column(Float)
    ip_allow: Mapped[list[str]]
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class RadiologistRow(Base):
    """A reader, synced from config; ``active`` is False once removed from it."""

    __tablename__ = "radiologists"

    id: Mapped[short_str] = mapped_column(primary_key=True)
    name: Mapped[text_str]
    skills: Mapped[list[str]]
    sites: Mapped[list[str]]
    max_parallel: Mapped[int]
    speed: Mapped[float] = mapped_column(Float)
    fallback: Mapped[bool] = mapped_column(Boolean, server_default=false())
    supervisor: Mapped[bool] = mapped_column(Boolean, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    medical_director: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The RPPS number config gave; ``name`` is then the directory's display name.
    rpps: Mapped[str | None] = mapped_column(String(11), index=True)


class ProfessionalRow(Base):
    """A professional of the national directory, by RPPS number (`garde directory import`).

    Never deleted by an import: one no longer in the extract gets ``missing_since``, and
    an operator retires them (``retired_at``).
    """

    __tablename__ = "directory_professionals"

    rpps: Mapped[str] = mapped_column(String(11), primary_key=True)
    last_name: Mapped[text_str]
    first_name: Mapped[text_str]
    title: Mapped[short_str] = mapped_column(default="")
    display_name: Mapped[text_str]
    profession: Mapped[short_str] = mapped_column(default="")
    specialties: Mapped[list[str]]
    specialty_labels: Mapped[list[str]]
    structures: Mapped[list[str]]
    first_imported_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    missing_since: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class ShiftRow(Base):
    """A period on call, [start, end) in UTC; ``sites`` None means all credentialed ones."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_starts_at_ends_at", "starts_at", "ends_at"),)

    id: Mapped[int_pk]
    radiologist_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("radiologists.id"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    role: Mapped[short_str]
    sites: Mapped[list[str] | None] = mapped_column(JSON)


class StudyRow(Base):
    """A study (StudyInstanceUID) from first instance to report."""

    __tablename__ = "studies"
    __table_args__ = (
        Index("ix_studies_state_last_received_at", "state", "last_received_at"),
        Index("ix_studies_assignee_state", "assignee", "state"),
        Index("ix_studies_handle", "handle"),
        Index("ix_studies_site_id_first_received_at", "site_id", "first_received_at"),
        # A patient's other studies (across hospitals when the key comes from the INS);
        # QIDO-RS PatientID matching too.
        Index("ix_studies_patient_key", "patient_key"),
        Index("ix_studies_accession", "accession"),  # QIDO AccessionNumber
    )

    id: Mapped[int_pk]
    study_uid: Mapped[uid] = mapped_column(unique=True)
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id"))
    state: Mapped[StudyState]
    patient_key: Mapped[short_str] = mapped_column(default="")
    accession: Mapped[short_str] = mapped_column(default="")
    description: Mapped[text_str] = mapped_column(default="")
    body_part: Mapped[short_str] = mapped_column(default="")
    requested_procedure: Mapped[text_str] = mapped_column(default="")
    requested_priority: Mapped[short_str] = mapped_column(default="")
    # Backslash-separated, sorted (DICOM's multi-value separator): "CT\\MR".
    modalities: Mapped[text_str] = mapped_column(default="")
    first_received_at: Mapped[datetime]
    last_received_at: Mapped[datetime]
    series_count: Mapped[int] = mapped_column(default=0)
    instance_count: Mapped[int] = mapped_column(default=0)
    stable_at: Mapped[datetime | None]
    # Triage's verdict.
    priority: Mapped[Priority | None]
    skills: Mapped[list[str] | None] = mapped_column(JSON)
    reading_minutes: Mapped[float | None] = mapped_column(Float)
    triage_rule: Mapped[str | None] = mapped_column(String(128))
    deadline: Mapped[datetime | None]
    # Who reads it.
    assignee: Mapped[str | None] = mapped_column(String(64), ForeignKey("radiologists.id"))
    assigned_at: Mapped[datetime | None]
    fallback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    report_ref: Mapped[str | None] = mapped_column(String(256))
    escalation_tier: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The last radiologist who gave it back (`garde release`): the router's later moves
    # (coverage, handover, escalation, re-plan) never give it straight back to them.
    released_by: Mapped[str | None] = mapped_column(String(64))
    # The operator whose `garde assign` pinned it: handover, re-plan, escalation and
    # broadening leave it alone until it is released or unpinned.
    pinned_by: Mapped[str | None] = mapped_column(String(64))
    # The last "unassigned" notice (nobody on shift or on call may take it): repeated.
    unassigned_notice_at: Mapped[datetime | None]
    # A short name for people: "<site id>-<n>", n counting the site's studies of the day
    # (see `garde.store.handles`); unique for the night, given at intake.
    handle: Mapped[str | None] = mapped_column(String(80))
    # Optimistic concurrency: bumped by the ORM on every lifecycle change (not on intake).
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))

    series: Mapped[list[SeriesRow]] = relationship(back_populates="study")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once


class SeriesRow(Base):
    """A series (SeriesInstanceUID) of a study."""

    __tablename__ = "series"

    id: Mapped[int_pk]
    series_uid: Mapped[uid] = mapped_column(unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    number: Mapped[int | None]
    modality: Mapped[str] = mapped_column(String(16), default="")
    description: Mapped[text_str] = mapped_column(default="")
    first_received_at: Mapped[datetime]
    last_received_at: Mapped[datetime]
    instance_count: Mapped[int] = mapped_column(default=0)
    # Instances its instances declare it holds (the largest declared; None: none did):
    # once ``instance_count`` reaches it the series is complete, without a quiet window.
    declared_count: Mapped[int | None]

    study: Mapped[StudyRow] = relationship(back_populates="series")


class InstanceRow(Base):
    """A durably written instance (SOPInstanceUID); ``path`` is relative to storage."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_series_id_number", "series_id", "number"),)

    id: Mapped[int_pk]
    sop_instance_uid: Mapped[uid] = mapped_column(unique=True)
    sop_class_uid: Mapped[uid]
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"))
    number: Mapped[int | None]
    transfer_syntax: Mapped[uid]
    path: Mapped[path_str]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    calling_ae: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]


class StudyAttributesRow(Base):
    """What a reader needs of a study beyond routing: patient context and the study-level
    attributes DICOMweb answers with (QIDO-RS), read once from the study's first stored
    instance.

    ``dataset`` is the DICOM JSON (PS3.18 F.2) of the patient- and study-level
    attributes; the columns beside it are what QIDO matches on and what the worklist
    shows, so neither parses the JSON nor opens a file.
    """

    __tablename__ = "study_attributes"

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    study_date: Mapped[str] = mapped_column(String(8), default="", index=True)  # YYYYMMDD
    study_time: Mapped[str] = mapped_column(String(16), default="")
    patient_name: Mapped[text_str] = mapped_column(default="")  # QIDO PatientName (matching)
    patient_sex: Mapped[str] = mapped_column(String(16), default="")
    patient_age: Mapped[str] = mapped_column(String(16), default="")  # DICOM AS: "067Y"
    patient_birth_date: Mapped[str] = mapped_column(String(8), default="")
    referring_physician: Mapped[text_str] = mapped_column(default="")
    requesting_physician: Mapped[text_str] = mapped_column(default="")
    indication: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[dict[str, Any]]


class AssignmentRow(Base):
    """One assignment in a study's history (radiologist None: no one was eligible)."""

    __tablename__ = "assignments"

    id: Mapped[int_pk]
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    radiologist_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("radiologists.id"), index=True
    )
    at: Mapped[datetime]
    by: Mapped[AssignedBy]
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[dict[str, Any]]


class AuditEventRow(Base):
    """Append-only audit trail; no foreign keys, so it outlives purged studies."""

    __tablename__ = "audit_events"

    id: Mapped[int_pk]
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[short_str]
    action: Mapped[short_str]
    study_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    radiologist_id: Mapped[str | None] = mapped_column(String(64), index=True)
    origin: Mapped[short_str] = mapped_column(default="")
    detail: Mapped[dict[str, Any]]


class PreviewRow(Base):
    """A rendered preview of a series, or of the whole study when ``series_id`` is None."""

    __tablename__ = "previews"

    id: Mapped[int_pk]
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[path_str]
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("study_id", "series_id", "kind"),)


class AccessTokenRow(Base):
    """A personal CLI token, stored as its SHA-256 only (the token is shown once).

    ``role`` is ``radiologist`` (``subject`` is a radiologist id) or ``operator``
    (``subject`` is the operator's name); a newer token of the same subject revokes it.
    """

    __tablename__ = "access_tokens"

    id: Mapped[int_pk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[short_str] = mapped_column(index=True)
    role: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
    issued_by: Mapped[short_str]
    revoked_at: Mapped[datetime | None]


class WebhookOutboxRow(Base):
    """A webhook notification, kept until it is delivered or given up.

    The webhook thread writes each notification here before posting it, so that a
    crash, a restart or a receiver down for hours loses none. ``leased_until`` marks a
    row one process is posting (several ``serve`` processes on one database never post
    the same row at once); a lease left by a crashed process simply expires.
    """

    __tablename__ = "webhook_outbox"

    id: Mapped[int_pk]
    kind: Mapped[short_str]
    body: Mapped[str] = mapped_column(Text)  # the JSON posted, as is
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    leased_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    dropped_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    # The study it is about (retried for as long as the study is open), its priority,
    # and the acknowledgement (the receiver's answer, or `garde ack`) or its escalation.
    study_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    priority: Mapped[str | None] = mapped_column(String(16))
    acked_at: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None]
    # Report delivery (issue 14) shares the outbox: ``channel`` says who sends a row
    # (``webhook``: the webhook thread; ``dicom``, ``hl7``, ``critical``: the report
    # delivery thread), ``destination`` names the hospital's destination, and
    # ``dedupe_key`` (the SOP Instance UID, the HL7 message control id) makes a second
    # row for the same object and destination impossible.
    channel: Mapped[str] = mapped_column(
        String(16), default="webhook", server_default=text("'webhook'"), index=True
    )
    destination: Mapped[str | None] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)

    __table_args__ = (
        UniqueConstraint("channel", "destination", "dedupe_key", name="uq_outbox_delivery"),
    )


class ReportRow(Base):
    """A radiologist's report of a study (issue 14): a draft until the study is done,
    then final and delivered; a later one is an addendum referring to the first (a
    report is never replaced). Its DICOM objects are files under the storage folder."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("study_uid", "number", name="uq_reports_study_number"),)

    id: Mapped[int_pk]
    study_uid: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[int]  # 1 the report, 2.. its addenda
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    critical: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(16))  # draft, final
    created_at: Mapped[datetime]
    final_at: Mapped[datetime | None]
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    sr_uid: Mapped[str | None] = mapped_column(String(64))
    pdf_uid: Mapped[str | None] = mapped_column(String(64))
    control_id: Mapped[str | None] = mapped_column(String(64))  # HL7 MSH-10
    delivered_at: Mapped[datetime | None]  # every destination took it
    alerted_at: Mapped[datetime | None]  # undelivered too long: the operator was told


class PriorLookupRow(Base):
    """One query/retrieve of a new study's priors at its hospital's PACS (issue 14)."""

    __tablename__ = "prior_lookups"

    id: Mapped[int_pk]
    study_uid: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # waiting, done, failed
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    found: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    retrieved: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(String(200))


class PriorRow(Base):
    """An earlier study of the same patient, retrieved for the reader of a new one:
    stored, never dispatched, no SLA."""

    __tablename__ = "priors"
    __table_args__ = (
        UniqueConstraint("study_uid", "prior_uid", name="uq_priors_study_uid_prior_uid"),
    )

    id: Mapped[int_pk]
    study_uid: Mapped[str] = mapped_column(String(64), index=True)  # the new study
    prior_uid: Mapped[str] = mapped_column(String(64))
    study_date: Mapped[str] = mapped_column(String(8), default="")
    modalities: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(String(256), default="")
    instances: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    retrieved_at: Mapped[datetime | None]
    refused: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class StoreGenerationRow(Base):
    """A counter per kind of change (``roster``, ``config``) that every `garde serve`
    node watches: a node that sees it move reloads what changed (issue 12 item 4).
    Seeded by the migration, so a bump is an UPDATE."""

    __tablename__ = "store_generations"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime | None]


class LeaderLeaseRow(Base):
    """The job leader's lease (`garde.store.leader`): who holds it until when.

    ``epoch`` grows at every change of holder (a fencing token); ``backend_pid`` is the
    holder's PostgreSQL session, so a standby sees a killed leader at once instead of
    waiting for the expiry.
    """

    __tablename__ = "leader_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    epoch: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None]
    backend_pid: Mapped[int | None]
