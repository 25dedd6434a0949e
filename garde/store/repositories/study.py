"""Studies: lifecycle writes, triage, assignments, the worklist, series and previews.

Reads return frozen records; writes go through the ORM so the ``version`` column guards
every lifecycle change (optimistic concurrency: a concurrent writer makes the flush
match no row, which surfaces as `StaleStudyError`).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm.exc import StaleDataError

from garde.dispatch import lifecycle
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, StudyFacts, StudyState
from garde.store.enums import AssignedBy
from garde.store.errors import NotFoundError, StaleStudyError, StudyNotFoundError
from garde.store.handles import is_uid
from garde.store.models import (
    AssignmentRow,
    InstanceRow,
    PreviewRow,
    SeriesRow,
    SiteRow,
    StudyAttributesRow,
    StudyRow,
)
from garde.store.records import (
    REPORTS_ON_THEIR_WAY_SQL,
    AssignmentRecord,
    PatientContext,
    PreviewRecord,
    ReportOnItsWay,
    SeriesRecord,
    StudyRecord,
    WorklistRow,
    report_on_its_way,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import InstrumentedAttribute, Session

    from garde.dispatch.model import TriageResult

OPEN_STATES = (StudyState.PENDING, StudyState.ASSIGNED, StudyState.IN_PROGRESS)
WORKLIST_STATES = (StudyState.ASSIGNED, StudyState.IN_PROGRESS)
MODALITY_SEPARATOR = "\\"  # DICOM's multi-value separator


LINKED_SHOWN = 3
"""How many of a patient's studies from other hospitals a worklist line or `explain` names."""


class StudyRepository:
    """Everything about studies, over one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- reads -------------------------------------------------------------------------

    def get(self, study_uid: str) -> StudyRecord | None:
        """The study with this StudyInstanceUID, or None."""
        row = self._find(study_uid)
        return None if row is None else study_record(row)

    def uid_for(self, reference: str) -> str | None:
        """The StudyInstanceUID a person means by ``reference``: a UID as such, else a
        handle (`garde.store.handles`; the newest study bearing it); None if unknown."""
        if is_uid(reference):
            return reference if self._find(reference) is not None else None
        for wanted in dict.fromkeys((reference, reference.lower())):
            query = (
                select(StudyRow.study_uid)
                .where(StudyRow.handle == wanted)
                .order_by(StudyRow.first_received_at.desc(), StudyRow.id.desc())
                .limit(1)
            )
            found = self._session.scalars(query).first()
            if found is not None:
                return found
        return None

    def due_for_stability(
        self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]
    ) -> list[StudyRecord]:
        """Receiving studies that had no new instance for their site's stable age.

        Parameters
        ----------
        now
            The sweep's time (aware UTC).
        default_age_s
            Stable age of sites absent from ``site_ages``.
        site_ages
            Per-site stable age overrides, by site id.

        Returns
        -------
        list[StudyRecord]
            Oldest last instance first.
        """
        query = (
            select(StudyRow)
            .where(
                StudyRow.state == StudyState.RECEIVING,
                _quiet_since(StudyRow.last_received_at, now, default_age_s, site_ages),
            )
            .order_by(StudyRow.last_received_at, StudyRow.id)
        )
        return [study_record(row) for row in self._session.scalars(query)]

    def with_complete_series(
        self,
        now: datetime,
        default_age_s: float,
        site_ages: Mapping[str, float],
        series_age_s: float | None = None,
    ) -> list[StudyRecord]:
        """Receiving studies with a complete series that are not yet stable as a whole.

        A series is complete when as many instances as it declares are stored, or when
        none of its instances arrived for ``series_age_s`` (the stroke quiet window, a
        few seconds) or the site's stable age, whichever is shorter; the study is not
        yet stable (it may even be complete: a stroke CT that arrived in 2 s is quiet
        for seconds, not its minute). A stroke among these is dispatched at its first
        complete series instead of waiting for the whole study.
        """
        quiet = functools.partial(
            _quiet_since, now=now, default_age_s=default_age_s, site_ages=site_ages
        )
        series_quiet = or_(_declared_complete(), quiet(SeriesRow.last_received_at))
        if series_age_s is not None:
            cut = now - timedelta(seconds=series_age_s)
            series_quiet = or_(SeriesRow.last_received_at <= cut, series_quiet)
        complete = (
            select(SeriesRow.id).where(SeriesRow.study_id == StudyRow.id, series_quiet).exists()
        )
        query = (
            select(StudyRow)
            .where(
                StudyRow.state == StudyState.RECEIVING,
                ~quiet(StudyRow.last_received_at),
                complete,
            )
            .order_by(StudyRow.first_received_at, StudyRow.id)
        )
        return [study_record(row) for row in self._session.scalars(query)]

    def grown_since_stable(
        self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]
    ) -> list[StudyRecord]:
        """Open studies that received instances after they became stable (a stroke
        dispatched at its first series, a series sent late) and are quiet again."""
        query = (
            select(StudyRow)
            .where(
                StudyRow.state.in_(OPEN_STATES),
                StudyRow.stable_at.is_not(None),
                StudyRow.last_received_at > StudyRow.stable_at,
                _quiet_since(StudyRow.last_received_at, now, default_age_s, site_ages),
            )
            .order_by(StudyRow.id)
        )
        return [study_record(row) for row in self._session.scalars(query)]

    def declared_complete_since(self, since: datetime) -> bool:
        """Whether a receiving study has a series that reached its declared count with
        an instance stored after ``since``: the sweep has a stroke to take at once."""
        query = (
            select(SeriesRow.id)
            .join(StudyRow, SeriesRow.study_id == StudyRow.id)
            .where(
                StudyRow.state == StudyState.RECEIVING,
                _declared_complete(),
                SeriesRow.last_received_at > since,
            )
            .limit(1)
        )
        return self._session.scalars(query).first() is not None

    def next_quiet_at(
        self,
        default_age_s: float,
        site_ages: Mapping[str, float],
        series_age_s: float | None = None,
    ) -> list[datetime]:
        """When each receiving study becomes quiet for its site's stable age, and each of
        its series for ``series_age_s`` (or the stable age when shorter), if nothing
        more arrives: the moments a sweep has something to do.

        Not aggregated per site: a series already quiet must not hide another that is
        not yet (only studies still receiving are read, a handful at any time).
        """
        receiving = StudyRow.state == StudyState.RECEIVING
        studies = self._session.execute(
            select(StudyRow.site_id, StudyRow.last_received_at).where(receiving)
        )
        series = self._session.execute(
            select(StudyRow.site_id, SeriesRow.last_received_at)
            .join(SeriesRow, SeriesRow.study_id == StudyRow.id)
            .where(receiving)
        )
        moments = [
            last + timedelta(seconds=site_ages.get(site_id, default_age_s))
            for site_id, last in studies
        ]
        for site_id, last in series:
            age = site_ages.get(site_id, default_age_s)
            if series_age_s is not None:
                age = min(age, series_age_s)
            moments.append(last + timedelta(seconds=age))
        return moments

    def open_without_previews(self) -> list[StudyRecord]:
        """Open studies with no preview at all (their rendering was lost to a stop or a
        crash between dispatch and render), most urgent deadline first."""
        rendered = select(PreviewRow.id).where(PreviewRow.study_id == StudyRow.id).exists()
        query = (
            select(StudyRow)
            .where(StudyRow.state.in_(OPEN_STATES), StudyRow.priority.is_not(None), ~rendered)
            .order_by(StudyRow.deadline, StudyRow.id)
        )
        return [study_record(row) for row in self._session.scalars(query)]

    def mark_stable_again(self, study_uid: str, at: datetime) -> None:
        """Stamp ``stable_at`` anew after the study grew (not a lifecycle change: the
        version stays, so a reader's concurrent start is not refused as stale)."""
        self._session.execute(
            update(StudyRow).where(StudyRow.study_uid == study_uid).values(stable_at=at)
        )

    def releasers(self, study_uids: Iterable[str]) -> dict[str, str]:
        """Who last released each of these studies (`ClaimRepository.move`); studies nobody
        released are left out."""
        wanted = list(study_uids)
        if not wanted:
            return {}
        query = select(StudyRow.study_uid, StudyRow.released_by).where(
            StudyRow.study_uid.in_(wanted), StudyRow.released_by.is_not(None)
        )
        return {uid: who for uid, who in self._session.execute(query) if who is not None}

    def facts(self, study_uid: str) -> StudyFacts:
        """What triage looks at: the study's header facts and its series'.

        Raises
        ------
        StudyNotFoundError
            If there is no such study.
        """
        row = self._require(study_uid)
        series = self._series_rows(row.id)
        return StudyFacts(
            study_uid=row.study_uid,
            site_id=row.site_id,
            modalities=frozenset(s.modality for s in series if s.modality),
            body_part=row.body_part,
            description=row.description,
            requested_procedure=row.requested_procedure,
            requested_priority=row.requested_priority,
            series_descriptions=tuple(s.description for s in series if s.description),
            patient_key=row.patient_key,
        )

    def open_studies(self) -> list[StudyRecord]:
        """Pending, assigned and in-progress studies (to restore the board at start-up)."""
        query = select(StudyRow).where(StudyRow.state.in_(OPEN_STATES)).order_by(StudyRow.id)
        return [study_record(row) for row in self._session.scalars(query)]

    def by_state(self, state: StudyState | str) -> list[StudyRecord]:
        """Studies in ``state``, in arrival order."""
        query = (
            select(StudyRow)
            .where(StudyRow.state == StudyState(state))
            .order_by(StudyRow.first_received_at, StudyRow.id)
        )
        return [study_record(row) for row in self._session.scalars(query)]

    def reports_on_their_way(self, radiologist_id: str) -> list[ReportOnItsWay]:
        """The reader's drafts and signed reports not yet at the hospital, newest first."""
        found = self._session.execute(text(REPORTS_ON_THEIR_WAY_SQL), {"rid": radiologist_id})
        return [report_on_its_way(tuple(row)) for row in found]

    def worklist(self, radiologist_id: str) -> list[WorklistRow]:
        """What ``radiologist_id`` has to read: in progress first, then most urgent."""
        query = (
            select(StudyRow, SiteRow.name)
            .join(SiteRow, SiteRow.id == StudyRow.site_id)
            .where(StudyRow.assignee == radiologist_id, StudyRow.state.in_(WORKLIST_STATES))
        )
        found = list(self._session.execute(query))
        previews = self._preview_paths([row.id for row, _ in found])
        patients = self._patient_contexts([row.id for row, _ in found])
        linked = self._linked_names({(row.patient_key, row.site_id) for row, _ in found})
        rows = [
            WorklistRow(
                study_uid=row.study_uid,
                site_id=row.site_id,
                site_name=site_name,
                modalities=_modalities(row.modalities),
                description=row.description,
                priority=row.priority,
                deadline=row.deadline,
                first_received_at=row.first_received_at,
                state=row.state,
                assigned_at=row.assigned_at,
                started_at=row.started_at,
                preview_path=previews.get(row.id),
                version=row.version,
                handle=row.handle or "",
                linked=linked.get((row.patient_key, row.site_id), ()),
                patient=patients.get(row.id, PatientContext(accession=row.accession)),
            )
            for row, site_name in found
        ]
        return sorted(rows, key=worklist_order)

    def linked(self, study_uid: str, *, limit: int = LINKED_SHOWN) -> list[StudyRecord]:
        """The same patient's studies from other hospitals, newest first.

        Only a key made from the INS is the same at two hospitals (a PatientID is keyed
        with its site), so these are the studies the INS links; never by name or birth
        date, which Garde does not read.
        """
        row = self._require(study_uid)
        if not row.patient_key:
            return []
        query = (
            select(StudyRow)
            .where(StudyRow.patient_key == row.patient_key, StudyRow.site_id != row.site_id)
            .order_by(StudyRow.first_received_at.desc(), StudyRow.id.desc())
            .limit(limit)
        )
        return [study_record(other) for other in self._session.scalars(query)]

    def recent_readers(self, study_uid: str, since: datetime) -> tuple[str, ...]:
        """Who was given the same patient's other studies that arrived since ``since``
        (newest first): continuity's readers once those studies left the board."""
        row = self._require(study_uid)
        if not row.patient_key:
            return ()
        query = (
            select(StudyRow.assignee)
            .where(
                StudyRow.patient_key == row.patient_key,
                StudyRow.study_uid != study_uid,
                StudyRow.assignee.is_not(None),
                StudyRow.first_received_at >= since,
            )
            .order_by(StudyRow.first_received_at.desc(), StudyRow.id.desc())
        )
        readers = [r for r in self._session.scalars(query) if r]
        return tuple(dict.fromkeys(readers))

    def _linked_names(
        self, patients: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, ...]]:
        """(patient key, site) -> names of that patient's studies at other sites."""
        keys = {key for key, _ in patients if key}
        if not keys:
            return {}
        query = (
            select(StudyRow.patient_key, StudyRow.site_id, StudyRow.handle, StudyRow.study_uid)
            .where(StudyRow.patient_key.in_(keys))
            .order_by(StudyRow.first_received_at.desc(), StudyRow.id.desc())
        )
        found = list(self._session.execute(query))
        return {
            (key, site): tuple(
                (handle or uid) for k, other, handle, uid in found if k == key and other != site
            )[:LINKED_SHOWN]
            for key, site in patients
        }

    def series(self, study_uid: str) -> list[SeriesRecord]:
        """The study's series, by series number (unnumbered last)."""
        row = self._require(study_uid)
        return [
            SeriesRecord(
                series_uid=s.series_uid,
                study_uid=study_uid,
                number=s.number,
                modality=s.modality,
                description=s.description,
                instance_count=s.instance_count,
                first_received_at=s.first_received_at,
                last_received_at=s.last_received_at,
            )
            for s in self._series_rows(row.id)
        ]

    def instance_paths(self, series_uid: str) -> list[str]:
        """Storage-relative paths of a series' instances, by InstanceNumber (unnumbered last)."""
        query = (
            select(InstanceRow.path)
            .join(SeriesRow, SeriesRow.id == InstanceRow.series_id)
            .where(SeriesRow.series_uid == series_uid)
            .order_by(InstanceRow.number.is_(None), InstanceRow.number, InstanceRow.id)
        )
        return list(self._session.scalars(query))

    def assignments(self, study_uid: str) -> list[AssignmentRecord]:
        """The study's assignment history, oldest first."""
        row = self._require(study_uid)
        query = (
            select(AssignmentRow)
            .where(AssignmentRow.study_id == row.id)
            .order_by(AssignmentRow.at, AssignmentRow.id)
        )
        return [
            AssignmentRecord(
                study_uid=study_uid,
                radiologist_id=a.radiologist_id,
                at=a.at,
                by=a.by,
                fallback=a.fallback,
                explanation=a.explanation,
            )
            for a in self._session.scalars(query)
        ]

    def previews(self, study_uid: str) -> list[PreviewRecord]:
        """The study's previews: study-level first, then by series number and kind."""
        row = self._require(study_uid)
        query = (
            select(PreviewRow, SeriesRow.series_uid)
            .outerjoin(SeriesRow, SeriesRow.id == PreviewRow.series_id)
            .where(PreviewRow.study_id == row.id)
            .order_by(
                PreviewRow.series_id.is_not(None),
                SeriesRow.number.is_(None),
                SeriesRow.number,
                PreviewRow.series_id,
                PreviewRow.kind,
            )
        )
        return [
            PreviewRecord(
                study_uid=study_uid,
                series_uid=series_uid,
                kind=p.kind,
                path=p.path,
                created_at=p.created_at,
            )
            for p, series_uid in self._session.execute(query)
        ]

    # -- lifecycle writes ----------------------------------------------------------------

    def move(
        self,
        study_uid: str,
        *events: StudyEvent | str,
        at: datetime,
        report_ref: str | None = None,
        expected_version: int | None = None,
    ) -> StudyRecord:
        """Apply ``events`` to the study, in order, as the core's lifecycle table allows.

        The next state is the table's (`garde.dispatch.lifecycle.walk`), never the
        caller's. Stamps ``stable_at`` when PENDING is first passed, ``started_at`` on
        ``started``, ``done_at`` (and ``report_ref``) on ``finished``.

        Raises
        ------
        IllegalTransition
            If an event is not allowed in the state the study is in then (nothing moves).
        StudyNotFoundError
            If there is no such study.
        StaleStudyError
            If ``expected_version`` is given and differs, or a concurrent writer won.
        """
        row = self._for_update(study_uid, expected_version)
        kinds = [StudyEvent(e) for e in events]
        reached = lifecycle.walk(row.state, kinds, study_uid=study_uid)
        row.state = reached[-1]
        if StudyState.PENDING in reached and row.stable_at is None:
            row.stable_at = at
        if StudyEvent.STARTED in kinds:
            row.started_at = at
        if StudyEvent.FINISHED in kinds:
            row.done_at = at
            row.report_ref = report_ref
        return self._flushed(row)

    def set_triage(
        self,
        study_uid: str,
        result: TriageResult,
        deadline: datetime,
        *,
        expected_version: int | None = None,
    ) -> StudyRecord:
        """Store triage's verdict and the SLA deadline it implies."""
        row = self._for_update(study_uid, expected_version)
        row.priority = Priority(result.priority)
        row.skills = sorted(result.skills)
        row.reading_minutes = result.reading_minutes
        row.triage_rule = result.rule
        row.deadline = deadline
        return self._flushed(row)

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
        """Give the study to ``radiologist_id`` (None: to no one) and keep the history.

        The state is the lifecycle table's business: use `move`.
        """
        row = self._for_update(study_uid, expected_version)
        row.assignee = radiologist_id
        row.assigned_at = None if radiologist_id is None else at
        row.fallback = fallback
        self._session.add(
            AssignmentRow(
                study_id=row.id,
                radiologist_id=radiologist_id,
                at=at,
                by=AssignedBy(by),
                fallback=fallback,
                explanation=dict(explanation or {}),
            )
        )
        return self._flushed(row)

    def set_escalation(
        self, study_uid: str, tier: int, *, expected_version: int | None = None
    ) -> StudyRecord:
        """Record the highest escalation tier reached (0 none, 1 alert, 2 reassign, 3 chief)."""
        row = self._for_update(study_uid, expected_version)
        row.escalation_tier = max(row.escalation_tier, tier)
        return self._flushed(row)

    def set_preview(self, uid: str, kind: str, path: str, at: datetime | None = None) -> None:
        """Record (or replace) the ``kind`` preview of a series or a whole study.

        Parameters
        ----------
        uid
            A SeriesInstanceUID (a series preview) or a StudyInstanceUID (a study one);
            DICOM UIDs are globally unique, so there is no ambiguity.
        kind
            ``thumbnail``, ``mid_slice``, ``montage``, ``mip``, ``page``...
        path
            Where the file is (relative to the preview directory).
        at
            When it was rendered; defaults to now.

        Raises
        ------
        NotFoundError
            If ``uid`` is neither a stored series nor a stored study.
        """
        series = self._session.scalars(select(SeriesRow).where(SeriesRow.series_uid == uid)).first()
        if series is not None:
            study_id, series_id = series.study_id, series.id
        else:
            study = self._find(uid)
            if study is None:
                raise NotFoundError(f"no series or study {uid}")
            study_id, series_id = study.id, None
        query = select(PreviewRow).where(
            PreviewRow.study_id == study_id,
            PreviewRow.kind == kind,
            PreviewRow.series_id.is_(None)
            if series_id is None
            else PreviewRow.series_id == series_id,
        )
        row = self._session.scalars(query).first()
        if row is None:
            row = PreviewRow(study_id=study_id, series_id=series_id, kind=kind)
            self._session.add(row)
        row.path = path
        row.created_at = at or datetime.now(tz=UTC)
        self._session.flush()

    # -- helpers -------------------------------------------------------------------------

    def _find(self, study_uid: str) -> StudyRow | None:
        query = select(StudyRow).where(StudyRow.study_uid == study_uid)
        # Fresh values even if the row is already in the session (intake writes with Core).
        return self._session.scalars(query.execution_options(populate_existing=True)).first()

    def _require(self, study_uid: str) -> StudyRow:
        row = self._find(study_uid)
        if row is None:
            raise StudyNotFoundError(study_uid)
        return row

    def _for_update(self, study_uid: str, expected_version: int | None) -> StudyRow:
        row = self._require(study_uid)
        if expected_version is not None and row.version != expected_version:
            raise StaleStudyError(study_uid, expected_version, row.version)
        return row

    def _flushed(self, row: StudyRow) -> StudyRecord:
        try:
            self._session.flush()
        except StaleDataError as exc:
            raise StaleStudyError(row.study_uid) from exc
        return study_record(row)

    def _series_rows(self, study_id: int) -> list[SeriesRow]:
        query = (
            select(SeriesRow)
            .where(SeriesRow.study_id == study_id)
            .order_by(SeriesRow.number.is_(None), SeriesRow.number, SeriesRow.id)
        )
        return list(self._session.scalars(query))

    def patient_context(self, study_uid: str) -> PatientContext:
        """The study's patient context (empty parts where not known yet)."""
        row = self._session.scalar(select(StudyRow).where(StudyRow.study_uid == study_uid))
        if row is None:
            return PatientContext()
        return self._patient_contexts([row.id]).get(row.id, PatientContext(accession=row.accession))

    def _patient_contexts(self, study_ids: list[int]) -> dict[int, PatientContext]:
        """Each study's patient context, from its attributes row (where read already)."""
        if not study_ids:
            return {}
        query = (
            select(StudyAttributesRow, StudyRow.accession)
            .join(StudyRow, StudyRow.id == StudyAttributesRow.study_id)
            .where(StudyAttributesRow.study_id.in_(study_ids))
        )
        return {
            a.study_id: PatientContext(
                age=a.patient_age,
                sex=a.patient_sex,
                accession=accession,
                requesting_physician=a.requesting_physician,
                indication=a.indication,
            )
            for a, accession in self._session.execute(query)
        }

    def _preview_paths(self, study_ids: list[int]) -> dict[int, str]:
        """The preview to show for each study: a study-level one, else its first series'."""
        if not study_ids:
            return {}
        query = (
            select(PreviewRow.study_id, PreviewRow.path)
            .outerjoin(SeriesRow, SeriesRow.id == PreviewRow.series_id)
            .where(PreviewRow.study_id.in_(study_ids))
            .order_by(
                PreviewRow.series_id.is_not(None),
                PreviewRow.kind != "thumbnail",
                SeriesRow.number.is_(None),
                SeriesRow.number,
                PreviewRow.id,
            )
        )
        paths: dict[int, str] = {}
        for study_id, path in self._session.execute(query):
            paths.setdefault(study_id, path)
        return paths


def study_record(row: StudyRow) -> StudyRecord:
    """The frozen record of a study row."""
    return StudyRecord(
        study_uid=row.study_uid,
        site_id=row.site_id,
        state=row.state,
        first_received_at=row.first_received_at,
        last_received_at=row.last_received_at,
        series_count=row.series_count,
        instance_count=row.instance_count,
        version=row.version,
        patient_key=row.patient_key,
        accession=row.accession,
        description=row.description,
        body_part=row.body_part,
        requested_procedure=row.requested_procedure,
        requested_priority=row.requested_priority,
        modalities=_modalities(row.modalities),
        stable_at=row.stable_at,
        priority=row.priority,
        skills=frozenset(row.skills or ()),
        reading_minutes=row.reading_minutes,
        triage_rule=row.triage_rule,
        deadline=row.deadline,
        assignee=row.assignee,
        assigned_at=row.assigned_at,
        fallback=row.fallback,
        started_at=row.started_at,
        done_at=row.done_at,
        report_ref=row.report_ref,
        escalation_tier=row.escalation_tier,
        released_by=row.released_by,
        pinned_by=row.pinned_by,
        unassigned_notice_at=row.unassigned_notice_at,
        handle=row.handle or "",
    )


def _modalities(value: str) -> frozenset[str]:
    return frozenset(m for m in value.split(MODALITY_SEPARATOR) if m)


def worklist_order(row: WorklistRow) -> tuple[bool, int, datetime, datetime]:
    """A worklist's order: in progress first, then queue rank, deadline, arrival."""
    far = datetime.max.replace(tzinfo=UTC)
    rank = row.priority.queue_rank if row.priority is not None else len(Priority)
    return (
        row.state is not StudyState.IN_PROGRESS,
        rank,
        row.deadline or far,
        row.first_received_at,
    )


def _declared_complete() -> ColumnElement[bool]:
    """The series holds as many instances as it declares (a count larger than what
    arrives never matches: its quiet window then decides)."""
    return SeriesRow.declared_count.is_not(None) & (
        SeriesRow.instance_count >= SeriesRow.declared_count
    )


def _quiet_since(
    column: InstrumentedAttribute[datetime],
    now: datetime,
    default_age_s: float,
    site_ages: Mapping[str, float],
) -> ColumnElement[bool]:
    """``column`` (a last-received time) is older than the study's site's stable age.

    The cut-offs are computed here, not in SQL: no dialect-specific date arithmetic.
    """
    quiet = column <= now - timedelta(seconds=default_age_s)
    if not site_ages:
        return quiet
    overridden = [
        (StudyRow.site_id == site) & (column <= now - timedelta(seconds=age))
        for site, age in site_ages.items()
    ]
    return or_((StudyRow.site_id.not_in(list(site_ages)) & quiet), *overridden)
