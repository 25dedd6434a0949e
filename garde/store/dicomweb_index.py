"""What DICOMweb reads of the store: studies, series and instances matching a query,
within what one reader may see, and the study attributes kept for QIDO-RS.

Plain Core statements on a connection (no ORM objects): QIDO-RS answers from the index
alone, never opening a stored file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, false, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError

from garde.store.models import (
    InstanceRow,
    RadiologistRow,
    SeriesRow,
    ShiftRow,
    StudyAttributesRow,
    StudyRow,
)
from garde.store.records import MissingAttributes

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.orm import Session, sessionmaker

    from garde.store.records import StudyAttributes

_studies: Table = StudyRow.__table__  # type: ignore[assignment]
_series: Table = SeriesRow.__table__  # type: ignore[assignment]
_instances: Table = InstanceRow.__table__  # type: ignore[assignment]
_attributes: Table = StudyAttributesRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ReaderScope:
    """The studies one reader may see: all (operators), else theirs and, while on shift,
    those of the hospitals they are credentialed for that the shift covers."""

    everything: bool
    subject: str = ""
    sites: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StudyFilter:
    """QIDO-RS study matching, already validated (see `garde.web.qido`).

    Text patterns are SQL ``LIKE`` patterns (DICOM's ``*``/``?`` translated); an empty
    tuple or string means "any".
    """

    study_uids: tuple[str, ...] = ()
    patient_keys: tuple[str, ...] = ()  # PatientID, hashed per site as the gateway does
    patient_name: str = ""
    accession: str = ""
    date_from: str = ""  # YYYYMMDD, inclusive
    date_to: str = ""
    modalities: tuple[str, ...] = ()
    description: str = ""
    referring_physician: str = ""
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class StudyMatch:
    """One study of a QIDO-RS answer."""

    study_uid: str
    modalities: tuple[str, ...]
    series_count: int
    instance_count: int
    dataset: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SeriesMatch:
    """One series of a QIDO-RS answer."""

    series_uid: str
    number: int | None
    modality: str
    description: str
    instance_count: int


@dataclass(frozen=True, slots=True)
class InstanceMatch:
    """One stored instance: what QIDO-RS answers and where WADO-RS reads it."""

    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    number: int | None
    transfer_syntax: str
    path: str  # relative to the storage folder
    size_bytes: int


@dataclass(frozen=True, slots=True)
class StudyAccess:
    """What deciding who may see a study needs."""

    study_id: int
    site_id: str
    assignee: str | None
    prior_of: str | None = None  # set when the UID asked is a prior of this study


@dataclass
class DicomWebIndex:
    """Read queries of DICOMweb over the process's session factory."""

    session_factory: sessionmaker[Session]

    def scope(self, subject: str, now: datetime) -> ReaderScope:
        """A radiologist's scope now: their credentialed sites covered by a shift now."""
        with self.session_factory() as session:
            credentialed = session.execute(
                select(RadiologistRow.sites).where(
                    RadiologistRow.id == subject, RadiologistRow.active
                )
            ).scalar_one_or_none()
            if not credentialed:
                return ReaderScope(everything=False, subject=subject)
            shifts = session.execute(
                select(ShiftRow.sites).where(
                    ShiftRow.radiologist_id == subject,
                    ShiftRow.starts_at <= now,
                    ShiftRow.ends_at > now,
                )
            ).all()
        sites: set[str] = set()
        for (covered,) in shifts:
            sites |= set(credentialed) if covered is None else set(covered) & set(credentialed)
        return ReaderScope(everything=False, subject=subject, sites=frozenset(sites))

    def access(self, study_uid: str) -> StudyAccess | None:
        """The study's id, hospital and reader; None if unknown."""
        with self.session_factory() as session:
            row = session.execute(
                select(_studies.c.id, _studies.c.site_id, _studies.c.assignee).where(
                    _studies.c.study_uid == study_uid
                )
            ).first()
        return None if row is None else StudyAccess(row[0], row[1], row[2])

    def missing_attributes(self, limit: int = 500) -> list[MissingAttributes]:
        """Studies with no attributes row yet, each with its first stored instance."""
        first = (
            select(func.min(_instances.c.id))
            .select_from(_instances.join(_series, _series.c.id == _instances.c.series_id))
            .where(_series.c.study_id == _studies.c.id)
            .scalar_subquery()
        )
        no_row = ~exists().where(_attributes.c.study_id == _studies.c.id)
        query = (
            select(_studies.c.id, _instances.c.path)
            .select_from(_studies)
            .join(_instances, _instances.c.id == first)
            .where(no_row)
            .limit(limit)
        )
        with self.session_factory() as session:
            return [MissingAttributes(r[0], r[1]) for r in session.execute(query)]

    def save_attributes(self, values: Sequence[tuple[int, StudyAttributes]]) -> None:
        """Insert attribute rows (a study already having one is left as it is)."""
        if not values:
            return
        with self.session_factory() as session:
            present = set(
                session.execute(
                    select(_attributes.c.study_id).where(
                        _attributes.c.study_id.in_([sid for sid, _ in values])
                    )
                ).scalars()
            )
            rows = [
                {
                    "study_id": study_id,
                    "study_date": a.study_date,
                    "study_time": a.study_time,
                    "patient_name": a.patient_name,
                    "patient_sex": a.patient_sex,
                    "patient_age": a.patient_age,
                    "patient_birth_date": a.patient_birth_date,
                    "referring_physician": a.referring_physician,
                    "requesting_physician": a.requesting_physician,
                    "indication": a.indication,
                    "dataset": a.dataset,
                }
                for study_id, a in values
                if study_id not in present
            ]
            if rows:
                try:
                    session.execute(insert(_attributes), rows)
                    session.commit()
                except IntegrityError:  # another process read them at the same moment
                    session.rollback()

    def studies(self, query: StudyFilter, scope: ReaderScope) -> list[StudyMatch]:
        """The studies matching ``query`` that ``scope`` may see, newest first."""
        a = _attributes.c
        s = _studies.c
        conditions: list[ColumnElement[bool]] = [_visible(scope)]
        if query.study_uids:
            conditions.append(s.study_uid.in_(query.study_uids))
        if query.patient_keys:
            conditions.append(s.patient_key.in_(query.patient_keys))
        if query.accession:
            conditions.append(_text_match(s.accession, query.accession))
        if query.patient_name:
            conditions.append(_text_match(a.patient_name, query.patient_name, fold=True))
        if query.description:
            conditions.append(_text_match(s.description, query.description, fold=True))
        if query.referring_physician:
            conditions.append(
                _text_match(a.referring_physician, query.referring_physician, fold=True)
            )
        if query.date_from:
            conditions.append(a.study_date >= query.date_from)
        if query.date_to:
            conditions.append(a.study_date <= query.date_to)
        if query.modalities:
            # Stored sorted and backslash-separated ("CT\\MR"): match any one of them.
            # LIKE with "/" as its escape (autoescape): a backslash is literal on both
            # dialects (PostgreSQL's LIKE escapes with it by default).
            framed = literal("\\") + s.modalities + literal("\\")
            conditions.append(
                or_(*(framed.contains(f"\\{m}\\", autoescape=True) for m in query.modalities))
            )
        statement = (
            select(s.study_uid, s.modalities, s.series_count, s.instance_count, a.dataset)
            .select_from(_studies.join(_attributes, a.study_id == s.id))
            .where(and_(*conditions))
            .order_by(s.first_received_at.desc(), s.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        with self.session_factory() as session:
            return [
                StudyMatch(
                    study_uid=r[0],
                    modalities=tuple(m for m in (r[1] or "").split("\\") if m),
                    series_count=r[2],
                    instance_count=r[3],
                    dataset=r[4] or {},
                )
                for r in session.execute(statement)
            ]

    def study_dataset(self, study_uid: str) -> dict[str, Any]:
        """The study-level DICOM JSON kept for the study (empty if none yet)."""
        statement = (
            select(_attributes.c.dataset)
            .select_from(_attributes.join(_studies, _studies.c.id == _attributes.c.study_id))
            .where(_studies.c.study_uid == study_uid)
        )
        with self.session_factory() as session:
            found = session.execute(statement).scalar_one_or_none()
        return dict(found or {})

    def series(self, study_uid: str) -> list[SeriesMatch]:
        """Every series of the study, by series number."""
        statement = (
            select(
                _series.c.series_uid,
                _series.c.number,
                _series.c.modality,
                _series.c.description,
                _series.c.instance_count,
            )
            .select_from(_series.join(_studies, _studies.c.id == _series.c.study_id))
            .where(_studies.c.study_uid == study_uid)
            .order_by(_series.c.number, _series.c.id)
        )
        with self.session_factory() as session:
            return [SeriesMatch(*row) for row in session.execute(statement)]

    def instances(
        self,
        study_uid: str,
        series_uid: str | None = None,
        sop_instance_uid: str | None = None,
    ) -> list[InstanceMatch]:
        """The stored instances of a study (of one series, or one instance), in order."""
        conditions = [_studies.c.study_uid == study_uid]
        if series_uid is not None:
            conditions.append(_series.c.series_uid == series_uid)
        if sop_instance_uid is not None:
            conditions.append(_instances.c.sop_instance_uid == sop_instance_uid)
        statement = (
            select(
                _series.c.series_uid,
                _instances.c.sop_instance_uid,
                _instances.c.sop_class_uid,
                _instances.c.number,
                _instances.c.transfer_syntax,
                _instances.c.path,
                _instances.c.size_bytes,
            )
            .select_from(
                _instances.join(_series, _series.c.id == _instances.c.series_id).join(
                    _studies, _studies.c.id == _series.c.study_id
                )
            )
            .where(and_(*conditions))
            .order_by(_series.c.number, _series.c.id, _instances.c.number, _instances.c.id)
        )
        with self.session_factory() as session:
            return [InstanceMatch(*row) for row in session.execute(statement)]


def _visible(scope: ReaderScope) -> ColumnElement[bool]:
    if scope.everything:
        return _studies.c.id.is_not(None)
    mine = _studies.c.assignee == scope.subject
    if scope.sites:
        return or_(mine, _studies.c.site_id.in_(sorted(scope.sites)))
    return or_(mine, false())


def _text_match(column: Any, pattern: str, *, fold: bool = False) -> ColumnElement[bool]:
    """DICOM matching of a text value: wildcards ``*`` and ``?``, else exact (PS3.4
    C.2.2.2.4); person names and descriptions ignore case, as Orthanc and dcm4chee do."""
    target = func.lower(column) if fold else column
    if "*" not in pattern and "?" not in pattern:
        return target == (pattern.lower() if fold else pattern)
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = escaped.replace("*", "%").replace("?", "_")
    return target.like(like.lower() if fold else like, escape="\\")
