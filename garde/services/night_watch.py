"""The night watch: nobody unreachable (issue 12).

Run with the SLA watch. Two duties, each idempotent (what was done is in the store):

- ``unassigned`` notices: a study no one on shift or on call may take (pending with
  nobody, or queued with the medical director) is announced at once and again every
  ``unassigned_repeat`` until someone takes it (`garde.dispatch.reach.waits_for_a_taker`);
- unacknowledged notifications: a stroke or emergency notification nobody acknowledged
  (the receiver's answer or `garde ack`) within ``ack_timeout`` escalates to the next
  tier that resolves to someone: the supervisors on shift, then the medical director
  (`garde.dispatch.reach.next_tier`).

The rules are the core's; this module gathers the inputs and sends the notifications.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from garde.dispatch import reach
from garde.dispatch.escalation import supervisors_on_shift
from garde.dispatch.reach import Tier
from garde.services.snapshot import study_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime, timedelta

    from garde.dispatch.board import Board
    from garde.dispatch.model import Study
    from garde.dispatch.ports import Notifier
    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord

logger = logging.getLogger(__name__)


class Dispatching(Protocol):
    """What the watch needs of the dispatch service (`DispatchService` has it): its store,
    board, notifier and medical director. A Protocol, so that the dispatcher may call
    `announce_unassigned` without the two modules naming each other."""

    @property
    def uow_factory(self) -> Callable[[], UnitOfWork]:
        """Units of work on the store."""
        ...

    @property
    def board(self) -> Board:
        """The live board (who is on shift, who supervises)."""
        ...

    @property
    def notifier(self) -> Notifier:
        """Where the notices go."""
        ...

    @property
    def medical_director(self) -> str:
        """Who answers when nobody may read a study (``[region]``)."""
        ...


@dataclass(frozen=True, slots=True)
class NightWatch:
    """The settings of the watch (``[notify]`` and ``[region]``)."""

    medical_director: str
    unassigned_repeat: timedelta
    ack_timeout: timedelta


def unassigned_payload(
    study: Study, holder: str | None, medical_director: str, *, repeat: int
) -> dict[str, object]:
    """The ``unassigned`` notification: ids and UIDs only; ``repeat`` is 0 for the first
    notice of a study and 1 for each reminder."""
    return {
        "study_uid": study.uid,
        "site_id": study.site_id,
        "priority": study.priority.value,
        "deadline": study.deadline.isoformat(),
        "radiologist_id": holder,  # the medical director when they hold it, else None
        "medical_director": medical_director,
        "reason": "nobody on shift or on call may read it",
        "repeat": repeat,
    }


def announce_unassigned(
    dispatch: Dispatching, study: Study, holder: str | None, now: datetime
) -> None:
    """Send an ``unassigned`` notice at once and remember when (see `remind_unassigned`)."""
    director = dispatch.medical_director
    with dispatch.uow_factory() as uow:
        uow.claims.mark_unassigned_notice(study.uid, now)
        uow.audit.append(
            at=now,
            actor="watch",
            action="unassigned_notice",
            study_uid=study.uid,
            radiologist_id=holder,
            detail={"medical_director": director, "repeat": 0},
        )
        uow.commit()
    # After the commit: a job whose node lost the job lease sends nothing (`store.leader`).
    dispatch.notifier.notify("unassigned", unassigned_payload(study, holder, director, repeat=0))
    logger.warning(
        "study %s (%s): nobody on shift or on call may read it; medical director %s told",
        study.uid,
        study.priority.value,
        director or "(none configured)",
    )


def remind_unassigned(dispatch: Dispatching, watch: NightWatch, now: datetime) -> int:
    """Send the ``unassigned`` notices due by ``now``; returns how many went out."""
    directors = {r.id for r in dispatch.board.radiologists() if r.medical_director}
    with dispatch.uow_factory() as uow:
        waiting = [
            r
            for r in uow.studies.open_studies()
            if reach.waits_for_a_taker(r.state, r.assignee, flagged=r.fallback, directors=directors)
            and reach.notice_due(r.unassigned_notice_at, now, watch.unassigned_repeat)
        ]
    sent = 0
    for record in waiting:
        study = study_of(record)
        if study is None:
            continue
        repeat = 0 if record.unassigned_notice_at is None else 1
        with dispatch.uow_factory() as uow:
            uow.claims.mark_unassigned_notice(study.uid, now)
            uow.audit.append(
                at=now,
                actor="watch",
                action="unassigned_notice",
                study_uid=study.uid,
                radiologist_id=record.assignee,
                detail={"medical_director": watch.medical_director, "repeat": repeat},
            )
            uow.commit()
        dispatch.notifier.notify(  # after the commit, as every job's notifications
            "unassigned",
            unassigned_payload(study, record.assignee, watch.medical_director, repeat=repeat),
        )
        sent += 1
    return sent


def escalate_unacknowledged(dispatch: Dispatching, watch: NightWatch, now: datetime) -> int:
    """Escalate the stroke and emergency notifications nobody acknowledged in time;
    returns how many escalated."""
    priorities = [p.value for p in reach.ACK_PRIORITIES]
    with dispatch.uow_factory() as uow:
        overdue = uow.outbox.unacknowledged(now - watch.ack_timeout, priorities)
        records = {e.study_uid: uow.studies.get(e.study_uid) for e in overdue if e.study_uid}
    supervisors = supervisors_on_shift(dispatch.board, now)
    escalated = 0
    for entry in overdue:
        if not reach.must_acknowledge(entry.kind, entry.priority):
            continue
        record = records.get(entry.study_uid or "")
        if record is None or reach.alert_moot(record.state):  # gone, or taken: moot
            with dispatch.uow_factory() as uow:  # someone acted on the study: moot
                uow.outbox.acknowledge_one(entry.id, now, by="study taken")
                uow.commit()
            continue
        tier, recipients = reach.next_tier(
            _tier_of(entry.kind, entry.body), supervisors, watch.medical_director
        )
        with dispatch.uow_factory() as uow:
            if not uow.outbox.mark_escalated(entry.id, now):
                continue  # another node escalated it first
            uow.audit.append(
                at=now,
                actor="watch",
                action="unacknowledged",
                study_uid=record.study_uid,
                radiologist_id=record.assignee,
                detail={"notification": entry.id, "kind": entry.kind, "tier": tier.value},
            )
            uow.commit()
        dispatch.notifier.notify(
            "unacknowledged", _escalation_payload(record, entry.id, entry.kind, tier, recipients)
        )
        logger.warning(
            "study %s: %s notification %d not acknowledged; escalated to %s (%s)",
            record.study_uid,
            entry.kind,
            entry.id,
            tier.value,
            ", ".join(recipients) or "nobody",
        )
        escalated += 1
    return escalated


def _tier_of(kind: str, body: str) -> Tier:
    """The tier a notification was addressed to (an escalation's says so in its body)."""
    if kind != "unacknowledged":
        return Tier.READER
    try:
        payload: Any = json.loads(body).get("payload", {})
        return Tier(payload.get("tier", Tier.READER))
    except (ValueError, AttributeError):
        return Tier.READER


def _escalation_payload(
    record: StudyRecord, entry_id: int, kind: str, tier: Tier, recipients: tuple[str, ...]
) -> dict[str, object]:
    return {
        "study_uid": record.study_uid,
        "site_id": record.site_id,
        "priority": None if record.priority is None else record.priority.value,
        "deadline": None if record.deadline is None else record.deadline.isoformat(),
        "radiologist_id": record.assignee,
        "tier": tier.value,
        "recipients": list(recipients),
        "unacknowledged_id": entry_id,
        "unacknowledged_kind": kind,
    }
