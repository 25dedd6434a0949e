"""SLA watch: tiered escalation of studies running late.

Tiers are fractions of each study's SLA span (`garde.dispatch.sla.due_tier`, from the
``[sla.tiers]`` policy): alert and reassign of the span to its target (the deadline the
router aims at), supervisor of the span to its contractual limit (``[sla.limits_min]``).
When a study reaches a tier it has not reached before (the highest tier reached is
stored with the study, so a restart resumes where it was):

1. **alert**: the reader and the operators are notified (log + webhook);
2. **reassign**: a queued study moves to the next best eligible radiologist if one would
   finish it sooner than its current reader is predicted to;
3. **supervisor** (at breach): a queued study moves to a supervisor on shift, else to
   the fallback pool on shift. If its reader has gone off shift and neither is there,
   it goes where the coverage rule of `DispatchService.broaden` sends it (an eligible
   reader on shift, else the fallback pool on call, else the medical director). The
   supervisors on shift are notified; with none, the medical director is (a tier that
   resolves to nobody falls through to the next, never "kept" in silence).

A study being read stays with its reader at every tier (only notified). A study nobody
holds (uncovered site, nobody eligible) is routed to whoever may take it, the fallback
pool included, from the reassign tier on. No tier moves a study to the radiologist who
released it. Every tier reached is audited (``escalate``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch import reach, sla
from garde.dispatch.escalation import TIER_LEVEL, new_tier, supervisors_on_shift
from garde.dispatch.reroute import Cause, Rerouting, Unmoved, escalation
from garde.dispatch.sla import EscalationTier
from garde.services.snapshot import study_of
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.model import Study
    from garde.dispatch.router import Decision
    from garde.services.dispatcher import DispatchService
    from garde.store.records import StudyRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Escalation:
    """One tier reached by one study, and what was done."""

    study_uid: str
    tier: EscalationTier
    from_radiologist: str | None
    to_radiologist: str | None  # None: nobody moved it
    outcome: str  # "notified", "reassigned", "kept", "in_progress", "unassigned", "pinned"


def escalate_overdue(dispatch: DispatchService, now: datetime) -> list[Escalation]:
    """Escalate every open study that reached a new tier by ``now``; returns what was done."""
    with dispatch.uow_factory() as uow:
        candidates = uow.studies.open_studies()
    done = []
    with dispatch.lock:
        for record in candidates:
            study = study_of(record)
            if study is None:
                continue
            tier = new_tier(dispatch.policy, study, now, record.escalation_tier)
            if tier is None:
                continue
            releaser = record.released_by
            done.append(_escalate(dispatch, record, study, tier, now, releaser))
    return done


def _escalate(  # noqa: PLR0917 - private; called from one place
    dispatch: DispatchService,
    record: StudyRecord,
    study: Study,
    tier: EscalationTier,
    now: datetime,
    releaser: str | None,
) -> Escalation:
    board = dispatch.board
    owner = board.owner(study.uid)
    to: str | None = None
    decision: Decision | None = None
    step = escalation(tier, record, owner)
    if isinstance(step, Unmoved):
        outcome = step.value
    elif step is Cause.WAITING:
        decision = dispatch.reroute(study, Rerouting(step, released_by=releaser), now)
        to = None if decision is None else decision.radiologist_id
        moved = decision is not None and dispatch.assign_waiting(
            record, study, decision, now, actor="sla"
        )
        outcome = "reassigned" if moved else "unassigned"
        to = to if moved else None
    else:
        decision = dispatch.reroute(study, Rerouting(step, holder=owner, released_by=releaser), now)
        to = decision.radiologist_id if decision is not None else None
        moved = to is not None and dispatch.reassign(
            study.uid,
            to,
            now,
            by=AssignedBy.ESCALATION,
            actor="sla",
            action="escalation_move",
            decision=decision,
            detail={"tier": tier.value},
        )
        outcome = "reassigned" if moved else "kept"
        to = to if moved else None
    supervisors = supervisors_on_shift(dispatch.board, now)
    with dispatch.uow_factory() as uow:
        uow.studies.set_escalation(study.uid, TIER_LEVEL[tier])
        uow.audit.append(
            at=now,
            actor="sla",
            action="escalate",
            study_uid=study.uid,
            radiologist_id=to or record.assignee,
            detail={
                "tier": tier.value,
                "outcome": outcome,
                "from": record.assignee,
                "to": to,
                "deadline": study.deadline.isoformat(),
                "limit": sla.limit_of(dispatch.policy, study).isoformat(),
            },
        )
        uow.commit()
    payload: dict[str, object] = {
        "study_uid": study.uid,
        "site_id": study.site_id,
        "priority": study.priority.value,
        "tier": tier.value,
        "outcome": outcome,
        "radiologist_id": to or record.assignee,
        "from_radiologist_id": record.assignee,
        "deadline": study.deadline.isoformat(),
        "limit": sla.limit_of(dispatch.policy, study).isoformat(),
    }
    if tier is EscalationTier.SUPERVISOR:
        payload["supervisors"] = list(supervisors)
        # A tier with nobody falls through to the next, ending at the medical director:
        # a breached study is never "kept" in silence.
        reached, recipients = reach.next_tier(
            reach.Tier.READER, supervisors, dispatch.medical_director
        )
        payload["tier_reached"] = reached.value
        payload["recipients"] = list(recipients)
    dispatch.notifier.notify(f"escalation_{tier.value}", payload)
    logger.warning(
        "study %s (%s) reached escalation tier %s: %s%s",
        study.uid,
        study.priority.value,
        tier.value,
        outcome,
        f" to {to}" if to else "",
    )
    return Escalation(study.uid, tier, record.assignee, to, outcome)
