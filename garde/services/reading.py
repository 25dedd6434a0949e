"""Reading actions of a radiologist: next, claim, start, done, release.

Every action is one atomic move in the store (a conditional UPDATE, see
`garde.store.repositories.claim`) and exactly one audit row: in the same transaction
when it succeeds, in its own when it is refused (who tried what, and why it was not
allowed). The process's board follows when it holds the study (``garde serve``, the
demo); the CLI's board is empty and a snapshot is loaded from the store to route.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from garde.dispatch import lifecycle
from garde.dispatch.errors import DispatchError
from garde.dispatch.explanation import ExclusionReason
from garde.dispatch.latebinding import taking_events
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Radiologist, SlaPolicy, StudyState
from garde.dispatch.reroute import Cause, Rerouting, reroute
from garde.dispatch.router import may_read
from garde.dispatch.routing import GARDE
from garde.dispatch.takeover import (
    Verdict,
    already_theirs,
    as_fallback,
    claim_event,
    pinned_to_another,
    pull_applies,
    takeover,
)
from garde.services.dispatcher import NOTIFY_PRIORITIES, notify_assigned
from garde.services.reading_candidates import (
    claim_explanation,
    late_binding_explanation,
    priority_value,
    reading_candidates,
)
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.services.snapshot import load_board, study_of
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.latebinding import Pull
    from garde.dispatch.ports import Notifier
    from garde.dispatch.routing import RoutingPolicy
    from garde.services.dispatcher import DispatchService
    from garde.services.reporting import ReportDraft, ReportService
    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord

logger = logging.getLogger(__name__)

CLAIMABLE = (StudyState.PENDING, StudyState.ASSIGNED)
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Released:
    """Where a released study went: another reader, or nobody (pending, flagged)."""

    study_uid: str
    radiologist_id: str | None
    fallback: bool


@dataclass(slots=True)
class _Outcome:
    """What an action's body hands back to `_audited`."""

    result: Any
    study_uid: str | None
    detail: dict[str, Any]
    after_commit: Callable[[], None] | None = None  # the board follows the store
    moved_to: tuple[StudyRecord, str | None, bool] | None = None  # (before, to, fallback)
    taken: bool = False  # from another reader's queue: they are told (`withdrawn`)


@dataclass
class ReadingService:
    """A radiologist's actions on studies; each is atomic and audited exactly once."""

    uow_factory: Callable[[], UnitOfWork]
    board: Board
    policy: SlaPolicy = field(default_factory=SlaPolicy)
    max_attempts: int = 20  # rounds of `next` when others keep winning the race
    notifier: Notifier | None = None  # "assigned" on every move (`notify_assigned`)
    notify_priorities: frozenset[Priority] = NOTIFY_PRIORITIES  # [notify] assigned_priorities
    reports: ReportService | None = None  # signs the report at `done` (issue 14)
    # Late binding, the order of `next` and a release's re-route (`DispatchService.routing`).
    routing: RoutingPolicy = GARDE
    # The board's lock (`DispatchService.lock`, shared where the board is live): held from
    # a move's read to the board's following it.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def alongside(
        cls, dispatch: DispatchService, *, reports: ReportService | None = None
    ) -> ReadingService:
        """The reading actions of ``dispatch``'s board: its store, SLA policy, notifier,
        notified priorities, routing policy and lock, so that the CLI, the demo and the
        simulator act on studies exactly as one another (one path, issue 16)."""
        return cls(
            dispatch.uow_factory,
            dispatch.board,
            dispatch.policy,
            notifier=dispatch.notifier,
            notify_priorities=dispatch.notify_priorities,
            reports=reports,
            routing=dispatch.routing,
            lock=dispatch.lock,
        )

    # -- actions -------------------------------------------------------------------------

    def start(
        self, study_uid: str, radiologist_id: str, now: datetime, *, origin: str = ""
    ) -> StudyRecord:
        """Begin reading one's assigned study: it leaves the tentative plan."""

        def body(uow: UnitOfWork) -> _Outcome:
            record = self._own(uow, study_uid, radiologist_id, StudyEvent.STARTED)
            self._move(uow, record, StudyEvent.STARTED, at=now)
            return _Outcome(
                uow.studies.get(study_uid),
                study_uid,
                {},
                lambda: self._board_start(study_uid, radiologist_id, now),
            )

        result: StudyRecord = self._audited("start", radiologist_id, study_uid, now, origin, body)
        return result

    def finish(
        self,
        study_uid: str,
        radiologist_id: str,
        now: datetime,
        report_ref: str = "",
        *,
        origin: str = "",
        report: ReportDraft | None = None,
    ) -> StudyRecord:
        """Mark one's study read, with an optional report reference; with ``report``
        (or a draft kept by `garde report`) the report is signed and queued for the
        hospital in the same transaction (`garde.services.reporting`)."""

        def body(uow: UnitOfWork) -> _Outcome:
            record = self._own(uow, study_uid, radiologist_id, StudyEvent.FINISHED)
            detail: dict[str, Any] = {"report_ref": report_ref} if report_ref else {}
            if self.reports is not None:
                if report is not None:
                    self.reports.keep_draft(uow, record, radiologist_id, report, now)
                signed = self.reports.sign(uow, record, radiologist_id, now)
                if signed is not None:
                    detail["report"] = signed.report.number
                    detail["destinations"] = list(signed.destinations)
            self._move(uow, record, StudyEvent.FINISHED, at=now, report_ref=report_ref or None)
            return _Outcome(
                uow.studies.get(study_uid),
                study_uid,
                detail,
                lambda: self._board_finish(study_uid, now),
            )

        result: StudyRecord = self._audited("done", radiologist_id, study_uid, now, origin, body)
        return result

    def claim(
        self, study_uid: str, radiologist_id: str, now: datetime, *, origin: str = ""
    ) -> StudyRecord:
        """Take a study into one's worklist (late binding), under the reading rule.

        A pending study nobody holds may be claimed by anyone who may read it. Another
        radiologist's queued (not started) study may be taken only when that lowers its
        predicted lateness: the claimer would finish it later past its deadline than
        its holder is predicted to (both predicted on the board, each reader's queue
        ahead of it included), or its holder is off shift or off the roster. Otherwise
        the claim is refused (``not_yours``) and an operator may reassign it
        (`OperatorService.assign`). The previous holder is told by a ``withdrawn``
        notification; the new reader by the usual ``assigned`` one.
        """

        def body(uow: UnitOfWork) -> _Outcome:
            reader = self._reader(uow, radiologist_id)
            record = self._study(uow, study_uid)
            if already_theirs(record, radiologist_id):
                raise ReadingRefusedError(
                    f"{record.name} is already in your worklist", Refusal.WRONG_STATE
                )
            event = claim_event(record.state)
            self._transition(record, event)
            self._check_credential(uow, reader, record)
            gain: dict[str, Any] = {}
            if pinned_to_another(record, radiologist_id):
                raise ReadingRefusedError(
                    f"study {study_uid} was assigned to {record.assignee} by operator "
                    f"{record.pinned_by}; ask an operator to reassign it",
                    Refusal.NOT_YOURS,
                )
            if record.assignee is not None:
                gain = self._check_takeover(uow, reader, record, now)
            fallback = as_fallback(reader, record)
            self._move(
                uow,
                record,
                event,
                at=now,
                to_assignee=radiologist_id,
                explanation=claim_explanation(radiologist_id, record, now),
                fallback=fallback,
            )
            return _Outcome(
                uow.studies.get(study_uid),
                study_uid,
                {"from": record.assignee, **gain},
                lambda: self._board_take(record, radiologist_id, now),
                moved_to=(record, radiologist_id, fallback),
                taken=record.assignee is not None,
            )

        result: StudyRecord = self._audited("claim", radiologist_id, study_uid, now, origin, body)
        return result

    def _check_takeover(
        self, uow: UnitOfWork, reader: Radiologist, record: StudyRecord, now: datetime
    ) -> dict[str, Any]:
        """Refuse to take another's queued study unless it lowers its predicted lateness
        (see `claim`); returns what the audit keeps of the comparison."""
        holder = record.assignee or ""
        board = self.board if record.study_uid in self.board else load_board(uow, now)
        found = takeover(study_of(record), board, holder, reader.id, now)
        if found.verdict is Verdict.UNPREDICTABLE:
            raise ReadingRefusedError(
                f"{record.name} is in {holder}'s worklist and cannot be predicted "
                "here; ask an operator to reassign it",
                Refusal.NOT_YOURS,
            )
        if found.verdict is Verdict.HOLDER_OFF_SHIFT:
            return {"holder_off_shift": True}  # it waits for nobody: anyone may take it
        theirs, mine = found.holder_late or _ZERO, found.claimer_late or _ZERO
        lateness = {"holder": _minutes(theirs), "claimer": _minutes(mine)}
        if not found.allowed:
            raise ReadingRefusedError(
                f"{record.name} is in {holder}'s worklist and you would not read "
                f"it less late (predicted {_minutes(mine)} min late with you, "
                f"{_minutes(theirs)} min with {holder}); ask an operator to reassign it",
                Refusal.NOT_YOURS,
            )
        return {"lateness_min": lateness}

    def next(self, radiologist_id: str, now: datetime, *, origin: str = "") -> StudyRecord:
        """Claim and start the most urgent study one may read: atomic against others.

        The candidates are one's own assigned studies, the pending studies nobody
        holds at hospitals one is credentialed for (with the skills), and late binding:
        a colleague's queued, unstarted study more urgent than one's own next, when one
        would finish it sooner than they are predicted to (by five minutes when one has
        more of the night's work than they have: `latebinding.next_pull`).
        Most urgent first (priority, deadline, arrival). Each is taken with a
        conditional UPDATE; when another reader got it first, the next is tried. A
        colleague whose study is taken is told (``withdrawn``).
        """

        def body(uow: UnitOfWork) -> _Outcome:
            reader = self._reader(uow, radiologist_id)
            claims = uow.claims
            # Once: the board may be loaded from the store; a pull gone stale meanwhile
            # fails its conditional move below like any candidate another reader took.
            late = self._late_pull(uow, reader, now)
            pulled, pull = late if late is not None else (None, None)
            for _round in range(self.max_attempts):
                candidates = reading_candidates(uow, reader, self._take_order)
                if pulled is not None:  # a colleague's: never among one's own candidates
                    candidates = sorted([*candidates, pulled], key=self._take_order)
                if not candidates:
                    break
                for record in candidates:
                    if claims.move(
                        record.study_uid,
                        *taking_events(record.state, record.assignee, radiologist_id),
                        expect_state=record.state,
                        expect_assignee=record.assignee,
                        at=now,
                        to_assignee=radiologist_id,
                        explanation=(
                            late_binding_explanation(radiologist_id, record, pull, now)
                            if pull is not None and record is pulled
                            else claim_explanation(radiologist_id, record, now)
                        ),
                        fallback=(fallback := as_fallback(reader, record)),
                    ):
                        taken = record.assignee != radiologist_id
                        return _Outcome(
                            uow.studies.get(record.study_uid),
                            record.study_uid,
                            {"from": record.assignee, "priority": priority_value(record.priority)},
                            lambda r=record: self._board_next(r, radiologist_id, now),  # type: ignore[misc]
                            moved_to=(record, radiologist_id, fallback) if taken else None,
                            taken=taken and record.assignee is not None,
                        )
            raise ReadingRefusedError(
                f"nothing to read for {radiologist_id}", Refusal.NOTHING_TO_READ
            )

        result: StudyRecord = self._audited("next", radiologist_id, None, now, origin, body)
        return result

    def _late_pull(
        self, uow: UnitOfWork, reader: Radiologist, now: datetime
    ) -> tuple[StudyRecord, Pull] | None:
        """A colleague's queued study the core says ``reader`` should take now, and why."""
        board = self.board if reader.id in self.board.ids and len(self.board) else None
        board = board or load_board(uow, now)
        pull = self.routing.next_pull(reader.id, board, now)
        if pull is None or pull.from_radiologist_id == reader.id:
            return None
        record = uow.studies.get(pull.study.uid)
        if record is None or not pull_applies(record, reader, pull.from_radiologist_id):
            return None  # the store moved on, or a rule the board does not know
        return record, pull

    def release(
        self,
        study_uid: str,
        radiologist_id: str,
        now: datetime,
        reason: str,
        *,
        origin: str = "",
    ) -> Released:
        """Hand one's study back: the router gives it to someone else (never oneself).

        With nobody else eligible it stays pending, unassigned and flagged. The releaser
        is remembered with the study: the router's later moves (coverage sweeps,
        handover, escalation, re-plan) and one's own `next` never give it back to them;
        only a deliberate `claim` or an operator's `assign` does.
        """
        if not reason.strip():
            raise ValueError("a release needs a reason")

        def body(uow: UnitOfWork) -> _Outcome:
            record = self._own(uow, study_uid, radiologist_id, StudyEvent.RELEASED)
            study = study_of(record)
            live = study_uid in self.board
            board = self.board if live else load_board(uow, now)
            if study is None:
                chosen, fallback, explanation = None, False, {}
            else:
                # Routed on the board as it stands (the releaser excluded, the study's
                # own place discounted): the live board changes only once the store's
                # conditional move has committed, so a lost race leaves it right.
                facts = Rerouting(Cause.RELEASED, holder=radiologist_id)
                decision = reroute(study, board, self.policy, now, facts, routing=self.routing)
                if decision is None:  # pragma: no cover - a release always routes
                    raise DispatchError(f"study {study_uid}: a release was not routed")
                chosen, fallback = decision.radiologist_id, decision.fallback
                explanation = decision.explanation.to_dict()
            self._move(
                uow,
                record,
                StudyEvent.RELEASED,
                StudyEvent.ASSIGNED if chosen else StudyEvent.UNASSIGNED,
                at=now,
                to_assignee=chosen,
                by=AssignedBy.ROUTER,
                explanation=explanation,
                fallback=fallback,
                # Remembered so that no later re-route (coverage, handover, escalation,
                # re-plan) gives it straight back.
                released_by=radiologist_id,
            )

            def after() -> None:
                if not live:
                    return
                if study_uid in self.board:
                    self.board.release(study_uid)
                if study is not None and chosen is not None:
                    self.board.assign(study, chosen, now)

            return _Outcome(
                Released(study_uid, chosen, fallback),
                study_uid,
                {"reason": reason, "to": chosen, "fallback": fallback},
                after,
                moved_to=(record, chosen, fallback),
            )

        result: Released = self._audited("release", radiologist_id, study_uid, now, origin, body)
        logger.info(
            "study %s released by %s to %s", study_uid, radiologist_id, result.radiologist_id
        )
        return result

    def _take_order(self, record: StudyRecord) -> tuple[Any, ...]:
        """Where ``record`` sorts among a reader's candidates: the routing policy's order
        (`RoutingPolicy.take_order`; Garde's is the board's queue order), then the UID;
        an untriaged study last."""
        study = study_of(record)
        if study is None:
            return (1, record.study_uid)
        return (0, *self.routing.take_order(study), record.study_uid)

    # -- checks --------------------------------------------------------------------------

    def _reader(self, uow: UnitOfWork, radiologist_id: str) -> Radiologist:
        for reader in uow.directory.radiologists():
            if reader.id == radiologist_id:
                return reader
        raise ReadingRefusedError(
            f"unknown radiologist {radiologist_id!r}", Refusal.UNKNOWN_RADIOLOGIST
        )

    def _study(self, uow: UnitOfWork, study_uid: str) -> StudyRecord:
        record = uow.studies.get(study_uid)
        if record is None:
            raise ReadingRefusedError(f"unknown study {study_uid}", Refusal.UNKNOWN_STUDY)
        return record

    def _own(
        self, uow: UnitOfWork, study_uid: str, radiologist_id: str, event: StudyEvent
    ) -> StudyRecord:
        """The study, if it is the radiologist's, they may still read it, and ``event`` fits."""
        reader = self._reader(uow, radiologist_id)
        record = self._study(uow, study_uid)
        if record.assignee != radiologist_id:
            raise ReadingRefusedError(
                f"{record.name} is not in your worklist ({_whose(record)})",
                Refusal.NOT_YOURS,
            )
        self._transition(record, event)
        if event is not StudyEvent.RELEASED:  # one may always give a study back
            self._check_credential(uow, reader, record)
        return record

    @staticmethod
    def _transition(record: StudyRecord, event: StudyEvent) -> StudyState:
        try:
            return lifecycle.transition(record.state, event)
        except DispatchError as exc:
            raise ReadingRefusedError(
                f"{record.name} {_why_not(record, event)}", Refusal.WRONG_STATE
            ) from exc

    @staticmethod
    def _check_credential(uow: UnitOfWork, reader: Radiologist, record: StudyRecord) -> None:
        """The router's rule (`garde.dispatch.router.may_read`): what it assigned is
        readable, and nothing else is. The refusal names the hospital and the skill as
        the user knows them."""
        refused = may_read(reader, record.site_id, record.skills, flagged=record.fallback)
        if refused is ExclusionReason.NO_CREDENTIAL:
            names = {s.id: s.name for s in uow.directory.sites(include_inactive=True)}
            raise ReadingRefusedError(
                f"{reader.id} is not credentialed for {names.get(record.site_id, record.site_id)}"
                f" (hospital {record.site_id})",
                Refusal.NO_CREDENTIAL,
            )
        if refused is not None:
            missing = sorted(record.skills - reader.skills)
            word = "skill" if len(missing) == 1 else "skills"
            raise ReadingRefusedError(
                f"{reader.id} lacks the {word} {', '.join(missing)} for {record.name}",
                Refusal.NO_CREDENTIAL,
            )

    @staticmethod
    def _move(
        uow: UnitOfWork,
        record: StudyRecord,
        *events: StudyEvent,
        at: datetime,
        **changes: Any,
    ) -> None:
        moved = uow.claims.move(
            record.study_uid,
            *events,
            expect_state=record.state,
            expect_assignee=record.assignee,
            at=at,
            **changes,
        )
        if not moved:
            raise ReadingRefusedError(
                f"{record.name} was changed by someone else meanwhile; look again",
                Refusal.LOST_RACE,
            )

    # -- audit ---------------------------------------------------------------------------

    def _audited(  # noqa: PLR0917 - private; the public actions name every argument
        self,
        action: str,
        radiologist_id: str,
        study_uid: str | None,
        now: datetime,
        origin: str,
        body: Callable[[UnitOfWork], _Outcome],
    ) -> Any:
        try:
            # The board lock spans the move and the board's following it: the board then
            # follows the store in commit order (a colleague's start committed after this
            # move cannot reach the board before it), and nobody routes on a board being
            # changed. Lock first, then the database, as the dispatcher does.
            with self.lock:
                with self.uow_factory() as uow:
                    outcome = body(uow)
                    uow.audit.append(
                        at=now,
                        actor=radiologist_id,
                        action=action,
                        study_uid=outcome.study_uid,
                        radiologist_id=radiologist_id,
                        origin=origin,
                        detail={"outcome": "ok", **outcome.detail},
                    )
                    uow.commit()
                self._follow(outcome, action)
        except ReadingRefusedError as exc:
            with self.uow_factory() as uow:
                # The refused study goes in the study column too (issue 12): a study's
                # trail lists who tried what on it, refused or not.
                uow.audit.append(
                    at=now,
                    actor=radiologist_id,
                    action=action,
                    study_uid=study_uid,
                    radiologist_id=radiologist_id,
                    origin=origin,
                    detail={
                        "outcome": "refused",
                        "reason": exc.reason.value,
                        "message": str(exc),
                        "study_uid": study_uid,
                    },
                )
                uow.commit()
            raise
        if outcome.moved_to is not None:
            self._notify_moved(*outcome.moved_to, taken=outcome.taken)
        logger.info("study %s: %s by %s", outcome.study_uid, action, radiologist_id)
        return outcome.result

    @staticmethod
    def _follow(outcome: _Outcome, action: str) -> None:
        """The live board follows a committed move (hold ``lock``)."""
        if outcome.after_commit is None:
            return
        try:
            outcome.after_commit()
        except DispatchError:  # the store is the truth; the board is re-planned later
            logger.warning("study %s: board out of step after %s", outcome.study_uid, action)

    def _notify_moved(
        self,
        before: StudyRecord,
        to: str | None,
        fallback: bool,
        *,
        taken: bool,
    ) -> None:
        """The "assigned" notification of a move (the dispatcher's, same payload), and
        with ``taken`` a "withdrawn" one to the reader a claim took it from."""
        study = study_of(before)
        if self.notifier is None or study is None:
            return
        notify_assigned(
            self.notifier, study, to, fallback=fallback, priorities=self.notify_priorities
        )
        holder = before.assignee
        if taken and holder is not None:
            self.notifier.notify(
                "withdrawn",
                {
                    "study_uid": study.uid,
                    "site_id": study.site_id,
                    "priority": study.priority.value,
                    "radiologist_id": holder,
                    "taken_by": to,
                    "deadline": study.deadline.isoformat(),
                },
            )

    # -- the live board (when this process holds one) -------------------------------------

    def _board_start(self, study_uid: str, radiologist_id: str, now: datetime) -> None:
        if study_uid in self.board and self.board.owner(study_uid) == radiologist_id:
            self.board.start(study_uid, now)

    def _board_finish(self, study_uid: str, now: datetime) -> None:
        if study_uid in self.board and self.board.is_started(study_uid):
            self.board.finish(study_uid, now)

    def _board_take(self, record: StudyRecord, radiologist_id: str, now: datetime) -> None:
        if radiologist_id not in self.board.ids:
            return
        if record.study_uid in self.board:
            self.board.reassign(record.study_uid, radiologist_id, now)
            return
        study = study_of(record)
        if study is not None:
            self.board.assign(study, radiologist_id, now)

    def _board_next(self, record: StudyRecord, radiologist_id: str, now: datetime) -> None:
        if record.assignee != radiologist_id:
            self._board_take(record, radiologist_id, now)
        self._board_start(record.study_uid, radiologist_id, now)


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def _whose(record: StudyRecord) -> str:
    """Where a study is, in a reader's words."""
    if record.assignee is None:
        return "nobody has it yet"
    if record.state is StudyState.IN_PROGRESS:
        return f"{record.assignee} is reading it"
    return f"it is in {record.assignee}'s worklist"


def _why_not(record: StudyRecord, event: StudyEvent) -> str:
    """Why ``event`` cannot happen to the study now, in a reader's words (no state names)."""
    by_state = {
        StudyState.DONE: f"is already read (by {record.assignee or 'someone'})",
        StudyState.RECEIVING: "is still arriving: it is not triaged yet",
        StudyState.IN_PROGRESS: f"is already being read by {record.assignee}",
        StudyState.PENDING: "is in nobody's worklist yet: `garde claim` it first",
    }
    if event is StudyEvent.FINISHED and record.state is StudyState.ASSIGNED:
        return "is not started yet: `garde start` it first"
    return by_state.get(record.state, f"cannot be {event.value} now ({_whose(record)})")
