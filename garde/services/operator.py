r"""Operator actions: manual assignment (audited and explained), studies by state, the audit.

Every call appends exactly one audit row: the action's in its transaction, or a
refusal row when it is not allowed, naming the study and the radiologist it aimed at.

An operator's assignment is pinned (issue 12): handover, re-plan, escalation,
broadening and colleagues' claims leave it with its reader until the study is released
or `unpin`\ ned. It must respect the rules the router does (credential, skill, shift);
``force`` with a reason overrides them, audited as such. The medical director may
always be given a study.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from garde.dispatch.errors import DispatchError
from garde.dispatch.manual import (
    Broken,
    Rule,
    already_pinned,
    blocking,
    broken_rules,
    hand_event,
)
from garde.dispatch.model import Priority, StudyState
from garde.services.dispatcher import NOTIFY_PRIORITIES, notify_assigned
from garde.services.identity import IdentityError, PermissionDeniedError
from garde.services.refusals import ReadingRefusedError, Refusal, record_refused
from garde.services.snapshot import study_of
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Radiologist, Site
    from garde.dispatch.ports import Notifier
    from garde.services.identity import Identity
    from garde.store.ports import UnitOfWork
    from garde.store.records import AuditEvent, StudyRecord

ROSTER_BACK = timedelta(days=1)  # shifts looked at around "now" for the shift rule
ROSTER_AHEAD = timedelta(days=2)


@dataclass
class OperatorService:
    """What the platform's operators do from the CLI."""

    uow_factory: Callable[[], UnitOfWork]
    board: Board
    notifier: Notifier | None = None  # "assigned" on every move (`notify_assigned`)
    notify_priorities: frozenset[Priority] = NOTIFY_PRIORITIES  # [notify] assigned_priorities
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)  # the board's

    def assign(
        self,
        study_uid: str,
        radiologist_id: str,
        *,
        by: Identity,
        reason: str,
        now: datetime,
        origin: str,
        force: bool = False,
    ) -> StudyRecord:
        """Give ``study_uid`` to ``radiologist_id`` by hand (a manual override), pinned.

        Allowed for operators only, to a radiologist credentialed for the hospital, with
        the skills and on shift now (the medical director always), unless ``force``:
        then the rules that failed are overridden and listed in the audit. A study being
        read is taken from its reader (they are told by the audit and the explanation).
        The explanation records who, why and from whom.

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
            with self.lock:  # the board follows the store in commit order (see `ReadingService`)
                record, updated = self._assign(
                    study_uid, radiologist_id, by, reason, now, origin, force=force
                )
                self._follow_on_board(record, radiologist_id, now)
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory,
                by,
                "assign",
                now=now,
                origin=origin,
                exc=exc,
                study_uid=study_uid,
                radiologist_id=radiologist_id,
            )
            raise
        study = study_of(record)
        if self.notifier is not None and study is not None:
            notify_assigned(
                self.notifier,
                study,
                radiologist_id,
                fallback=False,
                priorities=self.notify_priorities,
            )
        return updated

    def _assign(  # noqa: PLR0917 - private; the public `assign` names every argument
        self,
        study_uid: str,
        radiologist_id: str,
        by: Identity,
        reason: str,
        now: datetime,
        origin: str,
        *,
        force: bool,
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
            event = hand_event(record.state, record.assignee, radiologist_id)
            if event is None:
                raise ReadingRefusedError(
                    f"study {study_uid} is {record.state.value}: it cannot be assigned",
                    Refusal.WRONG_STATE,
                )
            if already_pinned(record.assignee, record.pinned_by, radiologist_id):
                raise ReadingRefusedError(
                    f"study {study_uid} is already assigned to {radiologist_id}, pinned by "
                    f"{record.pinned_by}",
                    Refusal.WRONG_STATE,
                )
            broken = _broken_rules(uow, record, target, now)
            refusing = blocking(broken, force=force)
            if refusing is not None:
                message = broken[refusing]
                raise ReadingRefusedError(
                    f"{message}; an operator may override with --force --reason",
                    Refusal.OFF_SHIFT if refusing.rule is Rule.OFF_SHIFT else Refusal.NO_CREDENTIAL,
                )
            moved = uow.claims.move(
                study_uid,
                event,
                expect_state=record.state,
                expect_assignee=record.assignee,
                at=now,
                to_assignee=radiologist_id,
                by=AssignedBy.OPERATOR,
                explanation=_manual_explanation(record, radiologist_id, by, reason, now),
                pinned_by=by.subject,
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
                    "pinned": True,
                    **(
                        {"forced": list(broken.values())}
                        if broken  # only reached with force
                        else {}
                    ),
                },
            )
            uow.commit()
            updated = uow.studies.get(study_uid)
        if updated is None:  # pragma: no cover - it was just moved in this transaction
            raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
        return record, updated

    def unpin(self, study_uid: str, *, by: Identity, now: datetime, origin: str) -> str:
        """End an operator's pin: the router's moves may take the study again; returns
        who had pinned it.

        Raises
        ------
        PermissionDeniedError
            If ``by`` is not an operator.
        ReadingRefusedError
            Unknown study, or a study that is not pinned.
        """
        try:
            _require_operator(by, "unpin studies")
            return self._unpin(study_uid, by, now, origin)
        except (ReadingRefusedError, IdentityError) as exc:
            record_refused(
                self.uow_factory, by, "unpin", now=now, origin=origin, exc=exc, study_uid=study_uid
            )
            raise

    def _unpin(self, study_uid: str, by: Identity, now: datetime, origin: str) -> str:
        with self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None:
                raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
            pinned = uow.claims.unpin(study_uid)
            if pinned is None:
                raise ReadingRefusedError(f"study {study_uid} is not pinned", Refusal.WRONG_STATE)
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="unpin",
                study_uid=study_uid,
                radiologist_id=record.assignee,
                origin=origin,
                detail={"outcome": "ok", "pinned_by": pinned},
            )
            uow.commit()
        return pinned

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
        actor: str | None = None,
    ) -> list[AuditEvent]:
        """The audit of a study (operators), of a radiologist (operators, or themselves)
        or of one actor's actions, refused ones included (operators, or themselves).

        The rows are read before this view's own row is appended.
        """
        if sum(x is not None for x in (study_uid, radiologist_id, actor)) != 1:
            raise ValueError("name exactly one of a study, a radiologist or an actor")
        mine = by.subject in {radiologist_id, actor}
        try:
            if not by.is_operator and not mine:
                raise PermissionDeniedError(
                    f"{by.subject} may only read their own audit (--radiologist {by.subject})"
                )
        except IdentityError as exc:
            record_refused(self.uow_factory, by, "view_audit", now=now, origin=origin, exc=exc)
            raise
        with self.uow_factory() as uow:
            if study_uid is not None:
                events = uow.audit.for_study(study_uid)
            elif actor is not None:
                events = uow.audit.for_actor(actor)
            else:
                events = uow.audit.for_radiologist(radiologist_id or "")
            uow.audit.append(
                at=now,
                actor=by.subject,
                action="view_audit",
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                origin=origin,
                detail={
                    "outcome": "ok",
                    "rows": len(events),
                    **({"actor": actor} if actor else {}),
                },
            )
            uow.commit()
        return events

    def _follow_on_board(self, record: StudyRecord, radiologist_id: str, now: datetime) -> None:
        """Keep this process's board in step, when it holds the study (serve, demo)."""
        board = self.board
        if record.assignee == radiologist_id:
            return  # pinned where it was: the board has it right
        try:
            if record.study_uid in board:
                board.release(record.study_uid)
            study = study_of(record)
            if study is not None and radiologist_id in board.ids:
                board.assign(study, radiologist_id, now)
        except DispatchError:  # the store is the truth; the board is rebuilt on restore
            return


def _broken_rules(
    uow: UnitOfWork, record: StudyRecord, target: Radiologist, now: datetime
) -> dict[Broken, str]:
    """The rules ``target`` breaks for ``record`` (`garde.dispatch.manual`), in order, each
    with what the user reads (the hospital's name, the skill, local time)."""
    sites = {s.id: s for s in uow.directory.sites(include_inactive=True)}
    site = sites.get(record.site_id)
    shifts = uow.roster.shifts_between(now - ROSTER_BACK, now + ROSTER_AHEAD)
    broken = broken_rules(
        target, record.site_id, record.skills, shifts, now, flagged=record.fallback
    )
    return {b: _words(b, target.id, site, now) for b in broken}


def _words(broken: Broken, rid: str, site: Site | None, now: datetime) -> str:
    """One broken rule, as the user says it."""
    if broken.rule is Rule.NO_CREDENTIAL:
        return f"{rid} is not credentialed for {site.name if site else 'this hospital'}"
    if broken.rule is Rule.MISSING_SKILL:
        word = "skill" if len(broken.missing) == 1 else "skills"
        return f"{rid} lacks the {word} {', '.join(broken.missing)}"
    upcoming = broken.next_shift
    if upcoming is None:
        return f"{rid} is not on shift (no shift in the next two days)"
    local = upcoming.astimezone(ZoneInfo(site.timezone if site else "UTC"))
    when = f"{local:%H:%M}" if upcoming - now < timedelta(hours=24) else f"{local:%Y-%m-%d %H:%M}"
    return f"{rid} is not on shift until {when}"


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
