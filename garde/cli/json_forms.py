"""The JSON the CLI prints with ``--json``, beside the worklist's (`WORKLIST_KEYS`).

Each form has its keys in a constant; a test pins them against what the commands print,
so scripts reading them do not break silently. Times are ISO 8601 UTC strings.

- `STUDY_KEYS`: a study after `next`, `claim`, `start`, `done`, and each of `studies`.
- `RELEASE_KEYS`: `release` (who has it now, and whether as the fallback pool).
- `EXPLAIN_KEYS`: `explain` (the stored decision: router, claim, escalation, re-plan...).
- `AUDIT_KEYS`: each row of `audit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from garde.services.reading import Released
    from garde.services.study_info import StudyExplanation
    from garde.store.records import AuditEvent, StudyRecord

STUDY_KEYS = (
    "study_uid",
    "site_id",
    "state",
    "assignee",
    "priority",
    "deadline",
    "description",
    "started_at",
    "done_at",
    "report_ref",
)
RELEASE_KEYS = ("study_uid", "radiologist_id", "fallback")
EXPLAIN_KEYS = ("study_uid", "radiologist_id", "at", "by", "explanation")
AUDIT_KEYS = (
    "id",
    "at",
    "actor",
    "action",
    "study_uid",
    "radiologist_id",
    "origin",
    "detail",
)


def study_summary(record: StudyRecord) -> dict[str, Any]:
    """A study after an action (keys: `STUDY_KEYS`)."""
    return {
        "study_uid": record.study_uid,
        "site_id": record.site_id,
        "state": record.state.value,
        "assignee": record.assignee,
        "priority": None if record.priority is None else record.priority.value,
        "deadline": None if record.deadline is None else record.deadline.isoformat(),
        "description": record.description,
        "started_at": None if record.started_at is None else record.started_at.isoformat(),
        "done_at": None if record.done_at is None else record.done_at.isoformat(),
        "report_ref": record.report_ref,
    }


def released_item(released: Released) -> dict[str, Any]:
    """Where a released study went (keys: `RELEASE_KEYS`)."""
    return {
        "study_uid": released.study_uid,
        "radiologist_id": released.radiologist_id,
        "fallback": released.fallback,
    }


def explained_item(found: StudyExplanation) -> dict[str, Any]:
    """A study's stored decision (keys: `EXPLAIN_KEYS`)."""
    return {
        "study_uid": found.study_uid,
        "radiologist_id": found.radiologist_id,
        "at": found.at,
        "by": found.by,
        "explanation": found.explanation,
    }


def audit_item(event: AuditEvent) -> dict[str, Any]:
    """One audit row (keys: `AUDIT_KEYS`)."""
    return {
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "study_uid": event.study_uid,
        "radiologist_id": event.radiologist_id,
        "origin": event.origin,
        "detail": event.detail,
    }
