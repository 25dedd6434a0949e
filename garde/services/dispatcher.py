"""The dispatch service: stable studies are triaged, given a deadline and routed.

Shell around the pure core: it gathers inputs from the store, calls triage, SLA and the
router, then applies the decision (store, in-memory board, previews, notifications).

The store is the truth and the board a snapshot of it: `restore` builds the board at
start-up, `reconcile` folds in what other processes changed (a radiologist's claim,
start or finish through the CLI). A decision is committed to the store before the board
moves, so a crash between the two is repaired by the next `restore`. Every method that
touches the board holds ``lock`` (the scheduler runs jobs on several threads).

Uncovered sites: a study nobody on shift may read (the router's fallback) goes to the
fallback pool on call now, else to the region's medical director, at once unless it is
routine (never to anyone off shift); routine work waits
``uncovered_routine_delay`` for a credentialed reader to come on shift, then goes to the
fallback pool too (`broaden`, run by every sweep).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from garde.dispatch import lifecycle, reach, sla
from garde.dispatch.errors import DispatchError
from garde.dispatch.explanation import Basis
from garde.dispatch.holding import holds, may_move, reading_since, waits_for_a_reader
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Study, StudyState
from garde.dispatch.reroute import Cause, Rerouting, Stay, must_wait, reroute, stays
from garde.dispatch.routing import GARDE
from garde.dispatch.stability import dispatch_event, next_quiet, site_stable_ages
from garde.services.night_watch import announce_unassigned
from garde.services.snapshot import study_of
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Site, SlaPolicy
    from garde.dispatch.ports import Notifier
    from garde.dispatch.router import Decision
    from garde.dispatch.routing import RoutingPolicy
    from garde.dispatch.triage import Triager
    from garde.services.previewing import PreviewService
    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord

logger = logging.getLogger(__name__)

CONTINUITY_WINDOW = timedelta(hours=12)
"""How far back a patient's read study still draws their next one to its reader (a night)."""

# How far around "now" the roster is loaded into the board.
ROSTER_WINDOW_BEFORE = timedelta(days=1)
ROSTER_WINDOW_AFTER = timedelta(days=2)
NOTIFY_PRIORITIES = frozenset({Priority.STROKE, Priority.EMERGENCY, Priority.URGENT})
"""Priorities whose assignment is notified by default (``[notify] assigned_priorities``)."""


@dataclass
class DispatchService:
    """Turns stable studies into assignments; owns the process's in-memory board."""

    uow_factory: Callable[[], UnitOfWork]
    triager: Triager
    policy: SlaPolicy
    sites: Mapping[str, Site]
    board: Board
    notifier: Notifier
    default_stable_age_s: float
    previews: PreviewService | None = None
    uncovered_routine_delay: timedelta = timedelta(0)
    # Issue 12: who answers when nobody may ([region]), and which assignments are told.
    medical_director: str = ""
    notify_priorities: frozenset[Priority] = NOTIFY_PRIORITIES
    # Issue 12 item 6: a stroke's first series is complete after this quiet window,
    # not the general stable age (None: the stable age).
    stroke_stable_age_s: float | None = None
    # Whom studies go to (the core's router by default; a baseline in the simulator).
    routing: RoutingPolicy = GARDE
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- the board and the store -----------------------------------------------------------
    def restore(self, now: datetime) -> int:
        """Rebuild the board from the store (start-up, after a crash); returns open studies."""
        with self.lock:
            self.refresh_roster(now, force=True)
            restored = self.reconcile(now)
        logger.info("board restored: %d open studies", restored)
        return restored

    def refresh_roster(self, now: datetime, *, force: bool = False) -> tuple[Study, ...]:
        """Reload radiologists and shifts around ``now`` into the board if they changed.

        Returns the studies of radiologists no longer on the roster (the caller routes
        them again, see `reroute_orphans`).
        """
        with self.uow_factory() as uow:
            radiologists = uow.directory.radiologists()
            shifts = uow.roster.shifts_between(
                now - ROSTER_WINDOW_BEFORE, now + ROSTER_WINDOW_AFTER
            )
        with self.lock:
            current = (
                self.board.radiologists(),
                tuple(s for rid in self.board.ids for s in self.board.shifts(rid)),
            )
            ids = {r.id for r in radiologists}
            wanted_shifts = tuple(
                sorted(
                    (s for s in shifts if s.radiologist_id in ids),
                    key=lambda s: (s.radiologist_id, s.start, s.end),
                )
            )
            if not force and current == (tuple(radiologists), wanted_shifts):
                return ()
            orphans = self.board.set_roster(radiologists, shifts)
        logger.info("roster loaded: %d radiologists, %d shifts", len(radiologists), len(shifts))
        return orphans

    def reconcile(self, now: datetime) -> int:
        """Make the board match the store's open studies; returns how many are on it.

        Studies read or claimed by another process (the worklist CLI) are moved, started
        or taken off the board here.
        """
        with self.uow_factory() as uow:
            open_studies = uow.studies.open_studies()
        with self.lock:
            wanted = {r.study_uid: r for r in open_studies if holds(r.state, r.assignee)}
            for study in self.board.studies():
                held = wanted.get(study.uid)
                if held is None or held.assignee != self.board.owner(study.uid):
                    self.board.remove(study.uid)
            for record in wanted.values():
                self._place(record, now)
            return len(self.board)

    def _place(self, record: StudyRecord, now: datetime) -> None:
        uid = record.study_uid
        assignee = record.assignee
        if assignee is None:
            return
        if uid not in self.board:
            study = study_of(record)
            if study is None:
                return
            try:
                self.board.assign(study, assignee, now)
            except DispatchError:
                logger.warning("study %s: assignee %s is not on the roster", uid, assignee)
                return
        since = reading_since(record.state, record.started_at)
        if since is not None and not self.board.is_started(uid):
            self.board.start(uid, since)

    # -- dispatch ----------------------------------------------------------------------------
    def sweep(self, now: datetime) -> list[Decision]:
        """Dispatch every study that became stable by ``now`` and every stroke with a
        complete series, render again what grew after dispatch, then give studies
        waiting for a reader (uncovered site, nobody eligible) another chance; returns
        the decisions of newly dispatched studies."""
        site_ages = site_stable_ages(self.sites.values())
        age = self.default_stable_age_s
        with self.uow_factory() as uow:
            due = uow.studies.due_for_stability(now, age, site_ages)
            partial = uow.studies.with_complete_series(
                now, age, site_ages, self.stroke_stable_age_s
            )
            grown = uow.studies.grown_since_stable(now, age, site_ages)
        decisions = []
        with self.lock:
            for record in due:
                decision = self.dispatch(record.study_uid, now)
                if decision is not None:
                    decisions.append(decision)
            for record in partial:  # a stroke goes at its first complete series
                decision = self.dispatch(record.study_uid, now, first_series=True)
                if decision is not None:
                    decisions.append(decision)
            for record in grown:
                self._stable_again(record, now)
            self.broaden(now)
        return decisions

    def next_sweep_at(self, now: datetime) -> datetime | None:
        """The next moment after ``now`` a study or series becomes quiet (so a sweep
        then dispatches it, or its stroke's first series), if nothing more arrives."""
        site_ages = site_stable_ages(self.sites.values())
        with self.uow_factory() as uow:
            moments = uow.studies.next_quiet_at(
                self.default_stable_age_s, site_ages, self.stroke_stable_age_s
            )
        return next_quiet(moments, now)

    def declared_complete_since(self, since: datetime) -> bool:
        """Whether a series of a receiving study reached its declared number of
        instances after ``since`` (the arrival watch then runs the sweep at once)."""
        with self.uow_factory() as uow:
            return uow.studies.declared_complete_since(since)

    def _stable_again(self, record: StudyRecord, now: datetime) -> None:
        """A dispatched study received more and is quiet again: previews of what came."""
        with self.uow_factory() as uow:
            uow.studies.mark_stable_again(record.study_uid, now)
            uow.audit.append(
                at=now,
                actor="router",
                action="grown",
                study_uid=record.study_uid,
                radiologist_id=record.assignee,
                detail={"series": record.series_count, "instances": record.instance_count},
            )
            uow.commit()
        logger.info(
            "study %s grew to %d series after dispatch; previews again",
            record.study_uid,
            record.series_count,
        )
        if self.previews is not None and record.priority is not None:
            self.previews.submit(record.study_uid, record.priority)

    def dispatch(
        self, study_uid: str, now: datetime, *, first_series: bool = False
    ) -> Decision | None:
        """Triage, deadline and route one received study; None if it is not receiving.

        With ``first_series`` (a series is complete, the study still receiving), only a
        stroke is dispatched, at once; anything else waits for the whole study.
        """
        with self.lock, self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None or record.state is not StudyState.RECEIVING:
                return None
            facts = uow.studies.facts(study_uid)
            result = self.triager.classify(facts)
            event = dispatch_event(result.priority, first_series=first_series)
            if event is None:
                return None  # nothing written: the unit of work rolls back
            site = self.sites.get(record.site_id)
            timezone = site.timezone if site else "UTC"
            deadline = sla.deadline(
                self.policy, result.priority, record.first_received_at, timezone
            )
            uow.studies.move(study_uid, event, at=now)
            uow.studies.set_triage(study_uid, result, deadline)
            study = Study(
                uid=study_uid,
                site_id=record.site_id,
                priority=result.priority,
                skills=result.skills,
                reading_minutes=result.reading_minutes,
                arrived_at=record.first_received_at,
                deadline=deadline,
                patient_key=facts.patient_key,
                rule=result.rule,
                recent_readers=uow.studies.recent_readers(study_uid, now - CONTINUITY_WINDOW)
                if facts.patient_key
                else (),
            )
            decision = self.routing.route(study, self.board, self.policy, now)
            decision, alert = self.routing.preempt(study, decision, self.board, self.policy, now)
            held = must_wait(study, decision, now, now, self.uncovered_routine_delay)
            detail: dict[str, Any] = {
                "priority": result.priority.value,
                "rule": result.rule,
                "fallback": decision.fallback,
            }
            if first_series:
                detail["first_series"] = True  # the rest of the study is still arriving
            self._audit_link(uow, study, decision, now)
            if alert is not None:
                detail["interrupts"] = alert.interrupted_uid
            if held:
                detail["held_until"] = (now + self.uncovered_routine_delay).isoformat()
                uow.audit.append(
                    at=now, actor="router", action="hold", study_uid=study_uid, detail=detail
                )
            else:
                self._store_assignment(uow, study_uid, decision, now, AssignedBy.ROUTER)
                uow.audit.append(
                    at=now,
                    actor="router",
                    action="assign",
                    study_uid=study_uid,
                    radiologist_id=decision.radiologist_id,
                    detail=detail,
                )
            uow.commit()
            if not held and decision.radiologist_id is not None:
                self.board.assign(study, decision.radiologist_id, now)
        logger.info(
            "study %s triaged %s (rule %s%s), %s %s%s",
            study_uid,
            result.priority.value,
            result.rule,
            ", at its first complete series" if first_series else "",
            "held for coverage, fallback would be" if held else "assigned to",
            decision.radiologist_id or "nobody",
            " (fallback)" if decision.fallback else "",
        )
        if self.previews is not None:
            self.previews.submit(study_uid, result.priority)
        if not held:
            self._notify_assigned(study, decision, now)
        if alert is not None:
            self.notifier.notify(
                "stroke_alert",
                {
                    "study_uid": study.uid,
                    "site_id": study.site_id,
                    "priority": study.priority.value,  # acknowledged, or it escalates
                    "radiologist_id": alert.radiologist_id,
                    "interrupt_study_uid": alert.interrupted_uid,
                    "deadline": study.deadline.isoformat(),
                    "wait_without_min": round(alert.wait_without.total_seconds() / 60, 1),
                },
            )
        return decision

    @staticmethod
    def _audit_link(uow: UnitOfWork, study: Study, decision: Decision, now: datetime) -> None:
        """Record that the INS links the study to the patient's studies at other hospitals
        (their UIDs and sites only: no identifier), and whether continuity followed."""
        study_uid = study.uid
        linked = uow.studies.linked(study_uid) if study.patient_key else []
        if not linked:
            return
        uow.audit.append(
            at=now,
            actor="router",
            action="patient.linked",
            study_uid=study_uid,
            radiologist_id=decision.radiologist_id,
            detail={
                "by": "INS",
                "studies": [r.study_uid for r in linked],
                "sites": sorted({r.site_id for r in linked}),
                "continuity": decision.explanation.basis is Basis.CONTINUITY,
            },
        )
        logger.info(
            "study %s linked by the INS to %d studies from other hospitals (%s)%s",
            study_uid,
            len(linked),
            ", ".join(r.study_uid for r in linked),
            ": continuity" if decision.explanation.basis is Basis.CONTINUITY else "",
        )

    def broaden(self, now: datetime) -> int:
        """Route again the studies waiting for a reader; returns how many were assigned.

        A credentialed reader on shift takes one at once; otherwise the fallback pool
        does, at once for stroke, emergency and urgent work and after
        ``uncovered_routine_delay`` (from when the study became stable) for routine work.
        The radiologist who last released a study is never given it back here.
        """
        with self.uow_factory() as uow:
            waiting = [
                r
                for r in uow.studies.by_state(StudyState.PENDING)
                if waits_for_a_reader(r.state, r.assignee)
            ]
        assigned = 0
        with self.lock:
            for record in waiting:
                study = study_of(record)
                if study is None:
                    continue
                facts = Rerouting(
                    Cause.WAITING,
                    released_by=record.released_by,
                    waiting_since=record.stable_at or now,
                    routine_delay=self.uncovered_routine_delay,
                )
                decision = self.reroute(study, facts, now)
                if decision is None:
                    continue
                if self._assign_waiting(record, study, decision, now, actor="coverage"):
                    assigned += 1
        return assigned

    def assign_waiting(
        self, record: StudyRecord, study: Study, decision: Decision, now: datetime, actor: str
    ) -> bool:
        """Assign a PENDING, unassigned study per ``decision`` (store, board, notify)."""
        with self.lock:
            return self._assign_waiting(record, study, decision, now, actor=actor)

    def _assign_waiting(
        self, record: StudyRecord, study: Study, decision: Decision, now: datetime, *, actor: str
    ) -> bool:
        uid = record.study_uid
        with self.uow_factory() as uow:
            current = uow.studies.get(uid)
            if current is None or not waits_for_a_reader(current.state, current.assignee):
                return False  # someone took it meanwhile
            self._store_assignment(uow, uid, decision, now, AssignedBy.ROUTER)
            uow.audit.append(
                at=now,
                actor=actor,
                action="reroute",
                study_uid=uid,
                radiologist_id=decision.radiologist_id,
                detail={"priority": study.priority.value, "fallback": decision.fallback},
            )
            uow.commit()
        if decision.radiologist_id is not None:
            self.board.assign(study, decision.radiologist_id, now)
        logger.info(
            "study %s (%s) waiting for a reader, now assigned to %s%s",
            uid,
            study.priority.value,
            decision.radiologist_id,
            " (fallback)" if decision.fallback else "",
        )
        self._notify_assigned(study, decision, now)
        return True

    def reroute(self, study: Study, facts: Rerouting, now: datetime) -> Decision | None:
        """Where a study routed again goes, or None if it stays (`garde.dispatch.reroute`),
        on this board with this routing policy. Call with ``lock`` held."""
        return reroute(study, self.board, self.policy, now, facts, routing=self.routing)

    @staticmethod
    def _store_assignment(
        uow: UnitOfWork, study_uid: str, decision: Decision, now: datetime, by: AssignedBy
    ) -> None:
        """A pending study routed: to its reader (``assigned``) or to nobody (``unassigned``)."""
        uow.studies.assign(
            study_uid,
            decision.radiologist_id,
            at=now,
            by=by,
            fallback=decision.fallback,
            explanation=decision.explanation.to_dict(),
        )
        event = StudyEvent.UNASSIGNED if decision.radiologist_id is None else StudyEvent.ASSIGNED
        uow.studies.move(study_uid, event, at=now)

    def _notify_assigned(self, study: Study, decision: Decision, now: datetime) -> None:
        notify_assigned(
            self.notifier,
            study,
            decision.radiologist_id,
            fallback=decision.fallback,
            priorities=self.notify_priorities,
        )
        if reach.nobody_may_take(decision):
            announce_unassigned(self, study, decision.radiologist_id, now)

    # -- moves ---------------------------------------------------------------------------------
    def reassign(
        self,
        study_uid: str,
        to: str,
        now: datetime,
        *,
        by: AssignedBy,
        actor: str,
        action: str,
        decision: Decision | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move a queued (not started) study to ``to``: store and audit first, then board,
        then the "assigned" notification (`notify_assigned`).

        Returns False, changing nothing, if the store no longer shows the study queued
        with the board's owner (another process claimed or started it meanwhile), if
        ``to`` is the radiologist who released it (a release is never undone by a move),
        or if an operator pinned it (`OperatorService.assign`: handover, re-plan,
        escalation and reload leave it alone until it is released or unpinned).
        """
        with self.lock:
            owner = self.board.owner(study_uid)
            started = owner is not None and self.board.is_started(study_uid)
            if owner is None or not may_move(owner, to, started=started):
                return False
            with self.uow_factory() as uow:
                record = uow.studies.get(study_uid)
                stay = Stay.MOVED_ON if record is None else stays(record, owner, to)
                if stay is Stay.RELEASED_BY_TARGET:
                    logger.info("study %s: not moved back to %s, who released it", study_uid, to)
                elif stay is Stay.PINNED and record is not None:
                    logger.info(
                        "study %s: pinned to %s by %s, not moved (%s)",
                        study_uid,
                        owner,
                        record.pinned_by,
                        action,
                    )
                if stay is not None:
                    return False
                uow.studies.move(study_uid, StudyEvent.REASSIGNED, at=now)
                uow.studies.assign(
                    study_uid,
                    to,
                    at=now,
                    by=by,
                    fallback=decision.fallback if decision else False,
                    explanation=decision.explanation.to_dict() if decision else {},
                )
                uow.audit.append(
                    at=now,
                    actor=actor,
                    action=action,
                    study_uid=study_uid,
                    radiologist_id=to,
                    detail={"from": owner, **(detail or {})},
                )
                uow.commit()
            self.board.reassign(study_uid, to, now)
            study = self.board.get(study_uid)
        logger.info("study %s moved from %s to %s (%s)", study_uid, owner, to, action)
        if study is not None and decision is not None:
            self._notify_assigned(study, decision, now)
        elif study is not None:
            notify_assigned(
                self.notifier, study, to, fallback=False, priorities=self.notify_priorities
            )
        return True

    def reroute_orphans(self, orphans: tuple[Study, ...], now: datetime, actor: str) -> int:
        """Route again studies taken off the board because their reader left the roster."""
        moved = 0
        with self.uow_factory() as uow:
            released = uow.studies.releasers(s.uid for s in orphans)
        with self.lock:
            for study in orphans:
                facts = Rerouting(Cause.LEFT_ROSTER, released_by=released.get(study.uid))
                decision = self.reroute(study, facts, now)
                if decision is None:  # pragma: no cover - the core always routes an orphan
                    continue
                with self.uow_factory() as uow:
                    record = uow.studies.get(study.uid)
                    if record is None or StudyEvent.RELEASED not in lifecycle.allowed_events(
                        record.state
                    ):
                        continue
                    uow.studies.move(study.uid, StudyEvent.RELEASED, at=now)
                    self._store_assignment(uow, study.uid, decision, now, AssignedBy.OPERATOR)
                    uow.claims.unpin(study.uid)  # the pinned reader left
                    uow.audit.append(
                        at=now,
                        actor=actor,
                        action="reroute",
                        study_uid=study.uid,
                        radiologist_id=decision.radiologist_id,
                        detail={"from": record.assignee, "reason": "left the roster"},
                    )
                    uow.commit()
                if decision.radiologist_id is not None:
                    self.board.assign(study, decision.radiologist_id, now)
                    moved += 1
                self._notify_assigned(study, decision, now)
        return moved


def notify_assigned(
    notifier: Notifier,
    study: Study,
    radiologist_id: str | None,
    *,
    fallback: bool,
    priorities: frozenset[Priority] = NOTIFY_PRIORITIES,
) -> None:
    """Tell the new reader of a study of ``priorities`` (stroke, emergency and urgent by
    default), and everyone of any study left with nobody: the one "assigned"
    notification of every move (dispatch, coverage, handover, escalation, re-plan,
    reload, an operator's assign, a claim, a release).

    Ids and UIDs only, never patient data.
    """
    if reach.tells_assignment(study.priority, radiologist_id, priorities):
        notifier.notify(
            "assigned",
            {
                "study_uid": study.uid,
                "site_id": study.site_id,
                "priority": study.priority.value,
                "radiologist_id": radiologist_id,
                "deadline": study.deadline.isoformat(),
                "fallback": fallback,
            },
        )
