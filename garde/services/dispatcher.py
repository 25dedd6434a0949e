"""The dispatch service: stable studies are triaged, given a deadline and routed.

Shell around the pure core: it gathers inputs from the store, calls triage, SLA and the
router, then applies the decision (store, in-memory board, previews, notifications).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch import lifecycle, sla
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Study, StudyState
from garde.dispatch.router import route

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Site, SlaPolicy
    from garde.dispatch.ports import Notifier
    from garde.dispatch.router import Decision
    from garde.dispatch.triage import Triager
    from garde.services.previewing import PreviewService
    from garde.store.records import StudyRecord
    from garde.store.uow import SqlUnitOfWork

logger = logging.getLogger(__name__)

# How far around "now" the roster is loaded into the board.
ROSTER_WINDOW_BEFORE = timedelta(days=1)
ROSTER_WINDOW_AFTER = timedelta(days=2)
NOTIFY_PRIORITIES = frozenset({Priority.STROKE, Priority.EMERGENCY})


@dataclass
class DispatchService:
    """Turns stable studies into assignments; owns the process's in-memory board."""

    uow_factory: Callable[[], SqlUnitOfWork]
    triager: Triager
    policy: SlaPolicy
    sites: Mapping[str, Site]
    board: Board
    notifier: Notifier
    default_stable_age_s: float
    previews: PreviewService | None = None

    def restore(self, now: datetime) -> int:
        """Rebuild the board from the store (start-up, after a crash); returns open studies."""
        with self.uow_factory() as uow:
            radiologists = uow.directory.radiologists()
            shifts = uow.roster.shifts_between(
                now - ROSTER_WINDOW_BEFORE, now + ROSTER_WINDOW_AFTER
            )
            open_studies = uow.studies.open_studies()
        self.board.set_roster(radiologists, shifts)
        restored = 0
        for record in open_studies:
            study = _study_of(record)
            if study is None or record.assignee is None:
                continue
            self.board.assign(study, record.assignee, now)
            if record.state is StudyState.IN_PROGRESS and record.started_at is not None:
                self.board.start(study.uid, record.started_at)
            restored += 1
        logger.info("board restored: %d open studies, %d shifts", restored, len(shifts))
        return restored

    def sweep(self, now: datetime) -> list[Decision]:
        """Dispatch every study that became stable by ``now``; returns the decisions."""
        site_ages = {s.id: s.stable_age_s for s in self.sites.values() if s.stable_age_s}
        with self.uow_factory() as uow:
            due = uow.studies.due_for_stability(now, self.default_stable_age_s, site_ages)
        decisions = []
        for record in due:
            decision = self.dispatch(record.study_uid, now)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def dispatch(self, study_uid: str, now: datetime) -> Decision | None:
        """Triage, deadline and route one received study; None if it is not receiving."""
        with self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None or record.state is not StudyState.RECEIVING:
                return None
            facts = uow.studies.facts(study_uid)
            result = self.triager.classify(facts)
            site = self.sites.get(record.site_id)
            timezone = site.timezone if site else "UTC"
            deadline = sla.deadline(
                self.policy, result.priority, record.first_received_at, timezone
            )
            state = lifecycle.transition(record.state, StudyEvent.BECAME_STABLE)
            uow.studies.set_state(study_uid, state, now)
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
            )
            decision = route(study, self.board, self.policy, now)
            explanation = decision.explanation.to_dict()
            uow.studies.assign(
                study_uid,
                decision.radiologist_id,
                at=now,
                by="router",
                fallback=decision.fallback,
                explanation=explanation,
            )
            if decision.radiologist_id is not None:
                uow.studies.set_state(
                    study_uid, lifecycle.transition(state, StudyEvent.ASSIGNED), now
                )
            uow.audit.append(
                at=now,
                actor="router",
                action="assign",
                study_uid=study_uid,
                radiologist_id=decision.radiologist_id,
                detail={
                    "priority": result.priority.value,
                    "rule": result.rule,
                    "fallback": decision.fallback,
                },
            )
            uow.commit()
        if decision.radiologist_id is not None:
            self.board.assign(study, decision.radiologist_id, now)
        logger.info(
            "study %s triaged %s (rule %s), assigned to %s%s",
            study_uid,
            result.priority.value,
            result.rule,
            decision.radiologist_id or "nobody",
            " (fallback)" if decision.fallback else "",
        )
        if self.previews is not None:
            self.previews.submit(study_uid, result.priority)
        if result.priority in NOTIFY_PRIORITIES or decision.radiologist_id is None:
            self.notifier.notify(
                "assigned",
                {
                    "study_uid": study_uid,
                    "priority": result.priority.value,
                    "radiologist_id": decision.radiologist_id,
                    "deadline": deadline.isoformat(),
                    "fallback": decision.fallback,
                },
            )
        return decision


def _study_of(record: StudyRecord) -> Study | None:
    """The router's view of a stored, triaged study (None if not triaged yet)."""
    if record.priority is None or record.deadline is None or record.reading_minutes is None:
        return None
    return Study(
        uid=record.study_uid,
        site_id=record.site_id,
        priority=record.priority,
        skills=record.skills,
        reading_minutes=record.reading_minutes,
        arrived_at=record.first_received_at,
        deadline=record.deadline,
        patient_key=record.patient_key,
        rule=record.triage_rule or "",
    )
