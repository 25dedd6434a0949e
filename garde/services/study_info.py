"""`open` and `explain`: a study's page and why it is where it is; each view audited.

A radiologist may look at a study assigned to them or from a hospital they are
credentialed for (the page shows its images); operators at any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from garde.dispatch.explanation import Explanation, clock
from garde.dispatch.model import StudyState
from garde.dispatch.visibility import may_see
from garde.services.identity import OPEN_MODE, IdentityError, PermissionDeniedError
from garde.services.refusals import ReadingRefusedError, Refusal, record_refused
from garde.store.enums import PreviewKind
from garde.store.records import PatientContext

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from garde.services.identity import Identity
    from garde.store.ports import UnitOfWork
    from garde.store.records import AssignmentRecord, StudyRecord

PAGE_FILE = "index.html"  # what viewer_export writes in a study's preview folder


@dataclass(frozen=True, slots=True)
class StudyExplanation:
    """The latest assignment of a study and its explanation."""

    study_uid: str
    radiologist_id: str | None
    at: datetime | None
    by: str | None
    explanation: dict[str, Any]
    text: str
    patient: PatientContext = field(default_factory=PatientContext)


@dataclass
class StudyInfoService:
    """Prints what is known of one study to those who may see it."""

    uow_factory: Callable[[], UnitOfWork]
    previews_dir: Path
    zone: tzinfo = UTC  # the region's: the explanation's times are read there

    def page(self, study_uid: str, *, by: Identity, now: datetime, origin: str) -> Path:
        """The study page's path (absolute).

        Raises
        ------
        ReadingRefusedError
            Unknown study, or no page rendered yet.
        PermissionDeniedError
            Not one's study nor one's hospital.
        """
        try:
            with self.uow_factory() as uow:
                record = self._visible(uow, study_uid, by)
                path = self._page_path(uow, study_uid)
                self._audit(uow, by, "open", record, now, origin)
                uow.commit()
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory, by, "open", now=now, origin=origin, exc=exc, study_uid=study_uid
            )
            raise
        return path.resolve()

    def opened(self, study_uid: str, *, by: Identity, now: datetime, origin: str) -> StudyRecord:
        """Check that ``by`` may see the study and audit that they open it (in a viewer).

        Raises
        ------
        ReadingRefusedError
            Unknown study.
        PermissionDeniedError
            Not one's study nor one's hospital.
        """
        try:
            with self.uow_factory() as uow:
                record = self._visible(uow, study_uid, by)
                self._audit(uow, by, "open", record, now, origin)
                uow.commit()
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory, by, "open", now=now, origin=origin, exc=exc, study_uid=study_uid
            )
            raise
        return record

    def check_visible(
        self, study_uid: str, *, by: Identity, now: datetime, origin: str, action: str
    ) -> None:
        """Refuse (and audit the refusal) unless ``by`` may see the study: an operator,
        its reader, or a radiologist credentialed for its hospital.

        Raises
        ------
        ReadingRefusedError
            Unknown study.
        PermissionDeniedError
            Not one's study nor one's hospital.
        """
        try:
            with self.uow_factory() as uow:
                self._visible(uow, study_uid, by)
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory, by, action, now=now, origin=origin, exc=exc, study_uid=study_uid
            )
            raise

    def explain(
        self, study_uid: str, *, by: Identity, now: datetime, origin: str
    ) -> StudyExplanation:
        """Why the study is with whom it is: the stored explanation of its last assignment."""
        try:
            with self.uow_factory() as uow:
                record = self._visible(uow, study_uid, by)
                history = uow.studies.assignments(study_uid)
                patient = uow.studies.patient_context(study_uid)
                linked = uow.studies.linked(study_uid)
                self._audit(uow, by, "explain", record, now, origin)
                uow.commit()
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory,
                by,
                "explain",
                now=now,
                origin=origin,
                exc=exc,
                study_uid=study_uid,
            )
            raise
        last = history[-1] if history else None
        return StudyExplanation(
            study_uid=study_uid,
            radiologist_id=None if last is None else last.radiologist_id,
            at=None if last is None else last.at,
            by=None if last is None else last.by.value,
            explanation={} if last is None else dict(last.explanation),
            text=_with_patient(render_explanation(record, last, self.zone), patient)
            + "".join(f"\n{line}" for line in linked_lines(linked)),
            patient=patient,
        )

    def patient(self, study_uid: str) -> PatientContext:
        """The study's patient context (for a reader who already has the study)."""
        with self.uow_factory() as uow:
            return uow.studies.patient_context(study_uid)

    def _page_path(self, uow: UnitOfWork, study_uid: str) -> Path:
        recorded = [p for p in uow.studies.previews(study_uid) if p.kind == PreviewKind.PAGE]
        path = (
            self.previews_dir / recorded[0].path
            if recorded
            else self.previews_dir / study_uid / PAGE_FILE
        )
        if not path.is_file():
            raise ReadingRefusedError(
                f"study {study_uid} has no page yet (previews are still rendering?)",
                Refusal.WRONG_STATE,
            )
        return path

    @staticmethod
    def _visible(uow: UnitOfWork, study_uid: str, by: Identity) -> StudyRecord:
        record = uow.studies.get(study_uid)
        if record is None:
            raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
        # OPEN_MODE: a demo or test region that never issued a token sees it all.
        privileged = by.is_operator or by == OPEN_MODE
        reader = {r.id: r for r in uow.directory.radiologists()}.get(by.subject)
        sites = None if reader is None else reader.sites
        if not may_see(record.site_id, record.assignee, by.subject, sites, privileged=privileged):
            raise PermissionDeniedError(
                f"{by.subject} may not see study {study_uid}: not theirs, and not "
                f"credentialed for hospital {record.site_id}"
            )
        return record

    @staticmethod
    def _audit(  # noqa: PLR0917 - private; every argument is named at the call sites
        uow: UnitOfWork,
        by: Identity,
        action: str,
        record: StudyRecord,
        now: datetime,
        origin: str,
    ) -> None:
        uow.audit.append(
            at=now,
            actor=by.subject,
            action=action,
            study_uid=record.study_uid,
            radiologist_id=None if by.is_operator else by.subject,
            origin=origin,
            detail={"outcome": "ok"},
        )


def linked_lines(linked: Sequence[StudyRecord]) -> list[str]:
    """The patient's studies from other hospitals, linked by the INS: who has them."""
    if not linked:
        return []
    return ["same patient (INS) at other hospitals:"] + [
        f"  {r.name} ({r.site_id}, {_STATE_WORDS.get(r.state, r.state.value)}, "
        f"with {r.assignee or 'nobody'})"
        for r in linked
    ]


def _with_patient(text: str, patient: PatientContext) -> str:
    """The explanation with the patient context as its second line."""
    head, sep, rest = text.partition("\n")
    return f"{head}\npatient: {patient.line()}{sep}{rest}"


def render_explanation(
    record: StudyRecord, last: AssignmentRecord | None, zone: tzinfo = UTC
) -> str:
    """A readable account of the study's last assignment, its times in ``zone``."""
    head = (
        f"study {record.name}"
        + (f" ({record.study_uid})" if record.handle else "")
        + f": {_STATE_WORDS[record.state]}, "
        f"with {record.assignee or 'nobody'}"
        + (f", {record.priority.value}" if record.priority else "")
        + (f", due {clock(record.deadline, zone)}" if record.deadline else "")
    )

    def at(key: str) -> str:
        return _local(data.get(key), zone)

    if last is None:
        return f"{head}\nnot routed yet (no assignment recorded)"
    data = dict(last.explanation)
    kind = data.get("kind")
    if kind == "manual":
        return (
            f"{head}\nassigned by hand to {data.get('radiologist_id')} by operator "
            f"{data.get('operator')} at {at('decided_at')}\n"
            f"reason: {data.get('reason')}\n"
            f"previously: {data.get('previous') or 'nobody'} ({data.get('previous_state')})"
        )
    if kind == "late_binding":
        margin = data.get("margin_min") or 0
        why = f" (a {margin:g}-minute margin: they had more of the night's work)"
        return (
            f"{head}\ntaken by {data.get('radiologist_id')} from {data.get('previous')} at "
            f"{at('decided_at')} (late binding): they would finish it at "
            f"{at('finish_here')}, {data.get('previous')} was predicted to at "
            f"{at('finish_there')}"
            + (why if margin else "")
            + f"\npriority {data.get('priority')}, rule {data.get('rule')}"
        )
    if kind == "claim":
        return (
            f"{head}\nclaimed by {data.get('radiologist_id')} at {at('decided_at')} "
            f"(taken from {data.get('previous') or 'the pending pool'}; "
            f"priority {data.get('priority')}, rule {data.get('rule')})"
        )
    try:
        return f"{head}\n{Explanation.from_dict(data).render_text(zone, record.name)}"
    except ValueError:
        return (
            f"{head}\nassigned to {last.radiologist_id or 'nobody'} by {last.by.value} at "
            f"{_local(last.at.isoformat(), zone)}"
        )


_STATE_WORDS = {
    StudyState.RECEIVING: "still arriving",
    StudyState.PENDING: "waiting for a reader",
    StudyState.ASSIGNED: "queued",
    StudyState.IN_PROGRESS: "being read",
    StudyState.DONE: "read",
}


def _local(value: object, zone: tzinfo) -> str:
    """A stored ISO time as the region's wall clock (``Sat 05/12 08:31 CET``); as is if not one."""
    if not isinstance(value, str):
        return str(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return clock(moment, zone)
