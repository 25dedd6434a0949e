"""What a radiologist may take next, and the record of why they took it.

The candidate list of `ReadingService.next` (own assigned studies and the pending ones
nobody holds, under the one permission rule `router.may_read`) and the explanation
stored when a reader takes a study themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from garde.dispatch.model import Priority, Radiologist, StudyState
from garde.dispatch.takeover import may_take

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.dispatch.latebinding import Pull
    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord


def reading_candidates(
    uow: UnitOfWork, reader: Radiologist, order: Callable[[StudyRecord], Any]
) -> list[StudyRecord]:
    """What ``reader`` may take next (`takeover.may_take`: their own queued studies and
    the pending ones nobody holds that they did not release, under the permission rule
    of `start`), sorted by ``order`` (`ReadingService`'s: the routing policy's)."""
    found = [
        r
        for state in (StudyState.ASSIGNED, StudyState.PENDING)
        for r in uow.studies.by_state(state)
        if may_take(r, reader)
    ]
    return sorted(found, key=order)


def priority_value(priority: Priority | None) -> str | None:
    """The priority as stored in audit details (None before triage)."""
    return None if priority is None else priority.value


def claim_explanation(radiologist_id: str, record: StudyRecord, now: datetime) -> dict[str, Any]:
    """Why a reader holds a study they took themselves."""
    return {
        "kind": "claim",
        "radiologist_id": radiologist_id,
        "previous": record.assignee,
        "decided_at": now.isoformat(),
        "priority": priority_value(record.priority),
        "rule": record.triage_rule,
    }


def late_binding_explanation(
    radiologist_id: str, record: StudyRecord, pull: Pull, now: datetime
) -> dict[str, Any]:
    """Why a reader took a colleague's queued study (`garde next`, late binding): when
    they would finish it, when its holder was predicted to, the margin they had to beat."""
    return {
        **claim_explanation(radiologist_id, record, now),
        "kind": "late_binding",
        "finish_here": None if pull.finish_here is None else pull.finish_here.isoformat(),
        "finish_there": None if pull.finish_there is None else pull.finish_there.isoformat(),
        "margin_min": pull.margin.total_seconds() / 60,
    }
