"""Studies in memory: `garde.store.ports.Studies` with the SQL repository's semantics.

Each method mirrors `garde.store.repositories.study.StudyRepository`'s (same filters,
same order, same version rule: a lifecycle write bumps ``version`` when it changes the
row, as SQLAlchemy's version counter does; ``mark_stable_again`` does not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from garde.dispatch import lifecycle
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, StudyFacts, StudyState
from garde.store.enums import AssignedBy
from garde.store.errors import NotFoundError, StaleStudyError
from garde.store.memory.tables import json_copy, replaced, utc
from garde.store.records import (
    DRAFT,
    AssignmentRecord,
    PatientContext,
    PreviewRecord,
    ReportOnItsWay,
    SeriesRecord,
    WorklistRow,
    report_on_its_way,
)
from garde.store.repositories.study import (
    LINKED_SHOWN,
    OPEN_STATES,
    WORKLIST_STATES,
    worklist_order,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from garde.dispatch.model import TriageResult
    from garde.store.memory.tables import SeriesEntry, Transaction
    from garde.store.records import StudyRecord

_FAR = datetime.max.replace(tzinfo=UTC)


class MemoryStudies:
    """Everything about studies, over one memory transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    # -- reads -------------------------------------------------------------------------

    def get(self, study_uid: str) -> StudyRecord | None:
        """The study with this StudyInstanceUID, or None."""
        return self._tx.study(study_uid)

    def facts(self, study_uid: str) -> StudyFacts:
        """What triage looks at: the study's header facts and its series'."""
        row = self._tx.require(study_uid)
        series = self._series(study_uid)
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

    def due_for_stability(
        self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]
    ) -> list[StudyRecord]:
        """Receiving studies quiet for their site's stable age, oldest last instance first."""
        cuts = _Cuts(now, default_age_s, site_ages)
        found = [
            r
            for r in self._tx.in_states(StudyState.RECEIVING)
            if cuts.quiet(r.site_id, r.last_received_at)
        ]
        return sorted(found, key=lambda r: r.last_received_at)  # stable: then id

    def with_complete_series(
        self,
        now: datetime,
        default_age_s: float,
        site_ages: Mapping[str, float],
        series_age_s: float | None = None,
    ) -> list[StudyRecord]:
        """Receiving studies not yet stable with a complete series, in arrival order."""
        cuts = _Cuts(now, default_age_s, site_ages)
        cut = None if series_age_s is None else now - timedelta(seconds=series_age_s)

        def complete(series: SeriesEntry, site_id: str) -> bool:
            return (
                (cut is not None and series.last_received_at <= cut)
                or _declared_complete(series)
                or cuts.quiet(site_id, series.last_received_at)
            )

        found = [
            r
            for r in self._tx.in_states(StudyState.RECEIVING)
            if not cuts.quiet(r.site_id, r.last_received_at)
            and any(complete(s, r.site_id) for s in self._series(r.study_uid))
        ]
        return sorted(found, key=lambda r: r.first_received_at)

    def grown_since_stable(
        self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]
    ) -> list[StudyRecord]:
        """Open studies that received instances after they became stable, quiet again."""
        cuts = _Cuts(now, default_age_s, site_ages)
        return [
            r
            for r in self._tx.in_states(*OPEN_STATES)
            if r.stable_at is not None
            and r.last_received_at > r.stable_at
            and cuts.quiet(r.site_id, r.last_received_at)
        ]

    def declared_complete_since(self, since: datetime) -> bool:
        """Whether a receiving study's series reached its declared count after ``since``."""
        return any(
            _declared_complete(s) and s.last_received_at > since
            for r in self._tx.in_states(StudyState.RECEIVING)
            for s in self._series(r.study_uid)
        )

    def next_quiet_at(
        self,
        default_age_s: float,
        site_ages: Mapping[str, float],
        series_age_s: float | None = None,
    ) -> list[datetime]:
        """When each receiving study, and each of its series, becomes quiet."""
        receiving = self._tx.in_states(StudyState.RECEIVING)
        moments = [
            r.last_received_at + timedelta(seconds=site_ages.get(r.site_id, default_age_s))
            for r in receiving
        ]
        for r in receiving:
            age = site_ages.get(r.site_id, default_age_s)
            if series_age_s is not None:
                age = min(age, series_age_s)
            moments.extend(
                s.last_received_at + timedelta(seconds=age) for s in self._series(r.study_uid)
            )
        return moments

    def releasers(self, study_uids: Iterable[str]) -> dict[str, str]:
        """Who last released each of these studies (those nobody released left out)."""
        found: dict[str, str] = {}
        for uid in study_uids:
            record = self._tx.study(uid)
            if record is not None and record.released_by is not None:
                found[uid] = record.released_by
        return found

    def open_studies(self) -> list[StudyRecord]:
        """Pending, assigned and in-progress studies, in insertion order."""
        return self._tx.in_states(*OPEN_STATES)

    def by_state(self, state: StudyState | str) -> list[StudyRecord]:
        """Studies in ``state``, in arrival order."""
        found = self._tx.in_states(StudyState(state))
        return sorted(found, key=lambda r: r.first_received_at)  # stable: then id

    def linked(self, study_uid: str, *, limit: int = LINKED_SHOWN) -> list[StudyRecord]:
        """The same patient's studies from other hospitals, newest first."""
        row = self._tx.require(study_uid)
        if not row.patient_key:
            return []
        found = [
            r
            for r in self._newest_first()
            if r.patient_key == row.patient_key and r.site_id != row.site_id
        ]
        return found[:limit]

    def recent_readers(self, study_uid: str, since: datetime) -> tuple[str, ...]:
        """Who was given the same patient's other studies that arrived since ``since``."""
        row = self._tx.require(study_uid)
        if not row.patient_key:
            return ()
        readers = [
            r.assignee
            for r in self._newest_first()
            if r.patient_key == row.patient_key
            and r.study_uid != study_uid
            and r.assignee
            and r.first_received_at >= since
        ]
        return tuple(dict.fromkeys(r for r in readers if r))

    def assignments(self, study_uid: str) -> list[AssignmentRecord]:
        """The study's assignment history, oldest first."""
        self._tx.require(study_uid)
        with self._tx.tables.publish:
            committed = list(self._tx.tables.assignments.get(study_uid, ()))
        rows = [
            *committed,
            *(a for a in self._tx.assignments if a[1].study_uid == study_uid),
        ]
        return [a for _, a in sorted(rows, key=lambda a: (a[1].at, a[0]))]

    def worklist(self, radiologist_id: str) -> list[WorklistRow]:
        """What ``radiologist_id`` has to read: in progress first, then most urgent (as
        the SQL store: the site's name, the preview to show, the patient's studies at
        other hospitals, the patient context)."""
        tx = self._tx
        names = {sid: site.name for sid, (site, _) in tx.site_rows().items()}
        mine = [
            r
            for r in tx.in_states(*WORKLIST_STATES)
            if r.assignee == radiologist_id and r.site_id in names
        ]
        everyone = tx.all_studies() if any(r.patient_key for r in mine) else []
        rows = [
            WorklistRow(
                study_uid=r.study_uid,
                site_id=r.site_id,
                site_name=names[r.site_id],
                modalities=r.modalities,
                description=r.description,
                priority=r.priority,
                deadline=r.deadline,
                first_received_at=r.first_received_at,
                state=r.state,
                assigned_at=r.assigned_at,
                started_at=r.started_at,
                preview_path=self._shown_preview(r.study_uid),
                version=r.version,
                handle=r.handle,
                linked=self._linked_names(r, everyone),
                patient=self.patient_context(r.study_uid),
            )
            for r in mine
        ]
        return sorted(rows, key=worklist_order)

    def reports_on_their_way(self, radiologist_id: str) -> list[ReportOnItsWay]:
        """The reader's drafts and signed reports not yet at the hospital, newest first
        (the ten newest, as `garde.store.records.REPORTS_ON_THEIR_WAY_SQL`)."""
        tx = self._tx
        reports = [
            r
            for r in tx.report_rows()
            if r.author == radiologist_id and (r.state == DRAFT or r.delivered_at is None)
        ]
        reports.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        outbox = tx.outbox_rows()
        found = []
        for report in reports[:10]:
            rows = [o for o in outbox if o.report_id == report.id]
            errors = [
                o.last_error
                for o in rows
                if o.delivered_at is None
                and o.dropped_at is None
                and o.attempts > 0
                and o.last_error is not None
            ]
            study = tx.study(report.study_uid)
            found.append(
                report_on_its_way(
                    (
                        report.study_uid,
                        None if study is None else study.handle,
                        report.state,
                        len(rows),
                        max(errors, default=None),
                    )
                )
            )
        return found

    def _shown_preview(self, study_uid: str) -> str | None:
        """The preview a worklist line shows: a study-level one, else its first series'
        (thumbnails first, then by series number, then the oldest)."""
        series = self._tx.tables.series

        def order(row: tuple[int, PreviewRecord]) -> tuple[bool, bool, bool, int, int]:
            key, preview = row
            entry = None if preview.series_uid is None else series.get(preview.series_uid)
            number = None if entry is None else entry.number
            return (
                preview.series_uid is not None,
                preview.kind != "thumbnail",
                number is None,
                number or 0,
                key,
            )

        rows = sorted(self._tx.preview_rows(study_uid), key=order)
        return rows[0][1].path if rows else None

    def _linked_names(self, record: StudyRecord, everyone: list[StudyRecord]) -> tuple[str, ...]:
        """The names of the patient's studies at other hospitals, newest first."""
        if not record.patient_key:
            return ()
        seq = self._tx.tables.seq
        others = [
            s
            for s in everyone
            if s.patient_key == record.patient_key and s.site_id != record.site_id
        ]
        others.sort(key=lambda s: (s.first_received_at, seq.get(s.study_uid, 0)), reverse=True)
        return tuple(s.handle or s.study_uid for s in others[:LINKED_SHOWN])

    def patient_context(self, study_uid: str) -> PatientContext:
        """The study's patient context: its accession number, and what was read from its
        first file where it was (`garde.store.memory.attributes`)."""
        record = self._tx.study(study_uid)
        if record is None:
            return PatientContext()
        read = self._tx.tables.attributes.get(study_uid)
        if read is None:
            return PatientContext(accession=record.accession)
        return PatientContext(
            age=read.patient_age,
            sex=read.patient_sex,
            accession=record.accession,
            requesting_physician=read.requesting_physician,
            indication=read.indication,
        )

    def series(self, study_uid: str) -> list[SeriesRecord]:
        """The study's series, by series number (unnumbered last)."""
        self._tx.require(study_uid)
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
            for s in self._series(study_uid)
        ]

    def instance_paths(self, series_uid: str) -> list[str]:
        """Storage-relative paths of a series' instances, by InstanceNumber (unnumbered last)."""
        found = [i for i in list(self._tx.tables.instances.values()) if i.series_uid == series_uid]
        found.sort(key=lambda i: (i.number is None, i.number or 0, i.seq))
        return [i.path for i in found]

    def previews(self, study_uid: str) -> list[PreviewRecord]:
        """The study's previews: study-level first, then by series number and kind."""
        self._tx.require(study_uid)
        series = self._tx.tables.series

        def order(row: tuple[int, PreviewRecord]) -> tuple[bool, bool, int, int, str]:
            found = None if row[1].series_uid is None else series[row[1].series_uid]
            if found is None:
                return (False, False, 0, 0, row[1].kind)
            return (True, found.number is None, found.number or 0, found.seq, row[1].kind)

        return [record for _, record in sorted(self._tx.preview_rows(study_uid), key=order)]

    def set_preview(self, uid: str, kind: str, path: str, at: datetime | None = None) -> None:
        """Record (or replace) the ``kind`` preview of a series (a SeriesInstanceUID) or a
        whole study (a StudyInstanceUID); `NotFoundError` if ``uid`` is neither."""
        self._tx.write()
        series = self._tx.tables.series.get(uid)
        if series is not None:
            study_uid, series_uid = series.study_uid, uid
        elif self._tx.study(uid) is not None:
            study_uid, series_uid = uid, None
        else:
            raise NotFoundError(f"no series or study {uid}")
        key = (study_uid, series_uid, kind)
        known = self._tx.previews.get(key) or self._tx.tables.previews.get(key)
        record = PreviewRecord(
            study_uid=study_uid,
            series_uid=series_uid,
            kind=kind,
            path=path,
            created_at=utc(at or datetime.now(tz=UTC)),
        )
        self._tx.previews[key] = (known[0] if known else self._tx.tables.next_id(), record)

    def open_without_previews(self) -> list[StudyRecord]:
        """Open, triaged studies with no preview at all, most urgent deadline first."""
        found = [
            r
            for r in self._tx.in_states(*OPEN_STATES)
            if r.priority is not None and not self._tx.preview_rows(r.study_uid)
        ]
        return sorted(found, key=lambda r: (r.deadline is None, r.deadline or _FAR))

    # -- lifecycle writes ----------------------------------------------------------------

    def move(
        self,
        study_uid: str,
        *events: StudyEvent | str,
        at: datetime,
        report_ref: str | None = None,
        expected_version: int | None = None,
    ) -> StudyRecord:
        """Apply ``events`` in order as the lifecycle table allows (it decides the state)."""
        row = self._for_update(study_uid, expected_version)
        kinds = [StudyEvent(e) for e in events]
        reached = lifecycle.walk(row.state, kinds, study_uid=study_uid)  # raises before a write
        changes: dict[str, Any] = {"state": reached[-1]}
        if StudyState.PENDING in reached and row.stable_at is None:
            changes["stable_at"] = utc(at)
        if StudyEvent.STARTED in kinds:
            changes["started_at"] = utc(at)
        if StudyEvent.FINISHED in kinds:
            changes["done_at"] = utc(at)
            changes["report_ref"] = report_ref
        return self._versioned(row, changes)

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
        return self._versioned(
            row,
            {
                "priority": Priority(result.priority),
                "skills": frozenset(result.skills),
                "reading_minutes": result.reading_minutes,
                "triage_rule": result.rule,
                "deadline": utc(deadline),
            },
        )

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
        row = self._for_update(study_uid, expected_version)
        record_assignment(
            self._tx, study_uid, radiologist_id, at, AssignedBy(by), fallback, explanation
        )
        return self._versioned(
            row,
            {
                "assignee": radiologist_id,
                "assigned_at": None if radiologist_id is None else utc(at),
                "fallback": fallback,
            },
        )

    def set_escalation(
        self, study_uid: str, tier: int, *, expected_version: int | None = None
    ) -> StudyRecord:
        """Record the highest escalation tier reached."""
        row = self._for_update(study_uid, expected_version)
        return self._versioned(row, {"escalation_tier": max(row.escalation_tier, tier)})

    def mark_stable_again(self, study_uid: str, at: datetime) -> None:
        """Stamp ``stable_at`` anew (not a lifecycle change: the version stays)."""
        self._tx.write()  # the lock first, as everywhere: the row read is the latest
        row = self._tx.study(study_uid)
        if row is not None:
            self._tx.put_study(replaced(row, {"stable_at": utc(at)}))

    # -- helpers -------------------------------------------------------------------------

    def _for_update(self, study_uid: str, expected_version: int | None) -> StudyRecord:
        self._tx.write()  # the lock first: the version checked is the latest committed
        row = self._tx.require(study_uid)
        if expected_version is not None and row.version != expected_version:
            raise StaleStudyError(study_uid, expected_version, row.version)
        return row

    def _versioned(self, row: StudyRecord, changes: dict[str, Any]) -> StudyRecord:
        """The row with ``changes``; the version bumps only if something changed."""
        if all(getattr(row, name) == value for name, value in changes.items()):
            return row  # SQLAlchemy sends no UPDATE for an unchanged row: no new version
        updated = replaced(row, {**changes, "version": row.version + 1})
        self._tx.put_study(updated)
        return updated

    def _series(self, study_uid: str) -> list[SeriesEntry]:
        """The study's series by number (unnumbered last), then id."""
        tables = self._tx.tables
        with tables.publish:
            series = [tables.series[uid] for uid in tables.study_series.get(study_uid, ())]
        return sorted(series, key=lambda s: (s.number is None, s.number or 0, s.seq))

    def _newest_first(self) -> list[StudyRecord]:
        """Every study, newest arrival first (then newest id)."""
        studies = list(self._tx.all_studies())
        studies.reverse()  # id descending; the stable sort keeps it among equal arrivals
        return sorted(studies, key=lambda r: r.first_received_at, reverse=True)


def record_assignment(  # noqa: PLR0917 - the assignment row's columns
    tx: Transaction,
    study_uid: str,
    radiologist_id: str | None,
    at: datetime,
    by: AssignedBy,
    fallback: bool,
    explanation: Mapping[str, Any] | None,
) -> None:
    """Add one entry to the study's assignment history (in ``tx``)."""
    tx.write()
    record = AssignmentRecord(
        study_uid=study_uid,
        radiologist_id=radiologist_id,
        at=utc(at),
        by=by,
        fallback=fallback,
        explanation=json_copy(explanation),
    )
    tx.assignments.append((tx.tables.next_id(), record))


def _declared_complete(series: SeriesEntry) -> bool:
    """The series holds as many instances as it declares."""
    return series.declared_count is not None and series.instance_count >= series.declared_count


class _Cuts:
    """The quiet cut-off of each site: last received at or before it means quiet."""

    def __init__(self, now: datetime, default_age_s: float, site_ages: Mapping[str, float]) -> None:
        self._default = now - timedelta(seconds=default_age_s)
        self._sites = {site: now - timedelta(seconds=age) for site, age in site_ages.items()}

    def quiet(self, site_id: str, last: datetime) -> bool:
        return last <= self._sites.get(site_id, self._default)
