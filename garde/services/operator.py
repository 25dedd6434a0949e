"""Operator actions: manual assignment (audited and explained), studies by state, the audit.

Every call appends exactly one audit row: the action's in its transaction, or a
refusal row when it is not allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garde.dispatch.errors import DispatchError
from garde.dispatch.model import StudyState
from garde.services.dispatcher import notify_assigned
from garde.services.identity import IdentityError, PermissionDeniedError
from garde.services.reading import ReadingRefusedError, Refusal
from garde.services.refusals import record_refused
from garde.services.snapshot import study_of
from garde.store.enums import AssignedBy
from garde.store.repositories.claim import ClaimRepository

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.ports import Notifier
    from garde.services.identity import Identity
    from garde.store.records import AuditEvent, StudyRecord
    from garde.store.uow import SqlUnitOfWork

REASSIGNABLE = (StudyState.PENDING, StudyState.ASSIGNED, StudyState.IN_PROGRESS)


@dataclass
class OperatorService:
    """What the platform's operators do from the CLI."""

    uow_factory: Callable[[], SqlUnitOfWork]
    board: Board
    notifier: Notifier | None = None  # "assigned" on every move (`notify_assigned`)

    def assign(
        self,
        study_uid: str,
        radiologist_id: str,
        *,
        by: Identity,
        reason: str,
        now: datetime,
        origin: str,
    ) -> StudyRecord:
        """Give ``study_uid`` to ``radiologist_id`` by hand (a manual override).

        Allowed for operators only, to a radiologist credentialed for the hospital with
        the skills; a study being read is taken from its reader (they are told by the
        audit and the explanation). The explanation records who, why and from whom.

        Raises
        ------
        PermissionDeniedError
            If ``by`` is not an operator.
        ReadingRefusedError
            Unknown study or radiologist, no credential, wrong state, lost race.
        """
        if not reason.strip():
            raise ValueError("a manual assignment needs a --reason")
        try:
            _require_operator(by, "assign studies")
            record, updated = self._assign(study_uid, radiologist_id, by, reason, now, origin)
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory, by, "assign", now=now, origin=origin, exc=exc, study_uid=study_uid
            )
            raise
        self._follow_on_board(record, radiologist_id, now)
        study = study_of(record)
        if self.notifier is not None and study is not None:
            notify_assigned(self.notifier, study, radiologist_id, fallback=False)
        return updated

    def _assign(  # noqa: PLR0917 - private; the public `assign` names every argument
        self,
        study_uid: str,
        radiologist_id: str,
        by: Identity,
        reason: str,
        now: datetime,
        origin: str,
    ) -> tuple[StudyRecord, StudyRecord]:
        """The checks and the move of `assign`; returns the study before and after."""
        with self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None:
                raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
            target = {r.id: r for r in uow.directory.radiologists()}.get(radiologist_id)
            if target is None:
                raise ReadingRefusedError(
                    f"unknown radiologist {radiologist_id!r}", Refusal.UNKNOWN_RADIOLOGIST
                )
            if record.state not in REASSIGNABLE:
                raise ReadingRefusedError(
                    f"study {study_uid} is {record.state.value}: it cannot be assigned",
                    Refusal.WRONG_STATE,
                )
            if record.assignee == radiologist_id:
                raise ReadingRefusedError(
                    f"study {study_uid} is already assigned to {radiologist_id}",
                    Refusal.WRONG_STATE,
                )
            if record.site_id not in target.sites or not record.skills <= target.skills:
                raise ReadingRefusedError(
                    f"{radiologist_id} may not read study {study_uid}: not credentialed "
                    f"for hospital {record.site_id} or lacks a skill "
                    f"({', '.join(sorted(record.skills)) or 'none needed'})",
                    Refusal.NO_CREDENTIAL,
                )
            moved = ClaimRepository(uow.session).move(
                study_uid,
                expect_state=record.state,
                expect_assignee=record.assignee,
                to_state=StudyState.ASSIGNED,
                at=now,
                to_assignee=radiologist_id,
                by=AssignedBy.OPERATOR,
                explanation=_manual_explanation(record, radiologist_id, by, reason, now),
            )
            if not moved:
                raise ReadingRefusedError(
                    f"study {study_uid} changed meanwhile; look again", Refusal.LOST_RACE
                )
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="assign",
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                origin=origin,
                detail={
                    "outcome": "ok",
                    "by": "operator",
                    "from": record.assignee,
                    "reason": reason,
                },
            )
            uow.commit()
            updated = uow.studies.get(study_uid)
        if updated is None:  # pragma: no cover - it was just moved in this transaction
            raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
        return record, updated

    def studies(
        self, state: StudyState | str, *, by: Identity, now: datetime, origin: str
    ) -> list[StudyRecord]:
        """Studies in ``state`` (arrival order), for operators; audited."""
        state = StudyState(state)
        try:
            _require_operator(by, "list studies")
        except IdentityError as exc:
            record_refused(self.uow_factory, by, "view_studies", now=now, origin=origin, exc=exc)
            raise
        with self.uow_factory() as uow:
            found = uow.studies.by_state(state)
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="view_studies",
                origin=origin,
                detail={"outcome": "ok", "state": state.value, "rows": len(found)},
            )
            uow.commit()
        return found

    def audit_trail(
        self,
        *,
        by: Identity,
        now: datetime,
        origin: str,
        study_uid: str | None = None,
        radiologist_id: str | None = None,
    ) -> list[AuditEvent]:
        """The audit of a study (operators) or of a radiologist (operators, or themselves).

        The rows are read before this view's own row is appended.
        """
        if (study_uid is None) == (radiologist_id is None):
            raise ValueError("name exactly one of a study or a radiologist")
        try:
            if not by.is_operator and (study_uid is not None or radiologist_id != by.subject):
                raise PermissionDeniedError(
                    f"{by.subject} may only read their own audit (--radiologist {by.subject})"
                )
        except IdentityError as exc:
            record_refused(self.uow_factory, by, "view_audit", now=now, origin=origin, exc=exc)
            raise
        with self.uow_factory() as uow:
            events = (
                uow.audit.for_study(study_uid)
                if study_uid is not None
                else uow.audit.for_radiologist(radiologist_id or "")
            )
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="view_audit",
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                origin=origin,
                detail={"outcome": "ok", "rows": len(events)},
            )
            uow.commit()
        return events

    def _follow_on_board(self, record: StudyRecord, radiologist_id: str, now: datetime) -> None:
        """Keep this process's board in step, when it holds the study (serve, demo)."""
        board = self.board
        try:
            if record.study_uid in board:
                board.release(record.study_uid)
            study = study_of(record)
            if study is not None and radiologist_id in board.ids:
                board.assign(study, radiologist_id, now)
        except DispatchError:  # the store is the truth; the board is rebuilt on restore
            return


def _require_operator(by: Identity, what: str) -> None:
    if not by.is_operator:
        raise PermissionDeniedError(f"{by.subject} may not {what}: operators only")


def _manual_explanation(
    record: StudyRecord, radiologist_id: str, by: Identity, reason: str, now: datetime
) -> dict[str, Any]:
    """The explanation of a manual assignment."""
    return {
        "kind": "manual",
        "radiologist_id": radiologist_id,
        "previous": record.assignee,
        "previous_state": record.state.value,
        "operator": by.subject,
        "reason": reason,
        "decided_at": now.isoformat(),
        "priority": None if record.priority is None else record.priority.value,
        "rule": record.triage_rule,
    }
