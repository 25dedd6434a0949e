"""The JSON the CLI prints with ``--json``, beside the worklist's (`WORKLIST_KEYS`).

Each form has its keys in a constant; a test pins them against what the commands print,
so scripts reading them do not break silently. Times are ISO 8601 strings with the
region's UTC offset (``2026-12-05T08:30:00+01:00``).

- `STUDY_KEYS`: a study after `next`, `claim`, `start`, `done`, and each of `studies`.
- `NEXT_KEYS`: `next` (a study, and its patient context).
- `RELEASE_KEYS`: `release` (who has it now, and whether as the fallback pool).
- `EXPLAIN_KEYS`: `explain` (the stored decision: router, claim, escalation, re-plan...,
  and the patient context: age, sex, accession, requesting_physician, indication).
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
    "handle",
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
NEXT_KEYS = (*STUDY_KEYS, "patient")  # `next`: the study, and its patient context
RELEASE_KEYS = ("study_uid", "radiologist_id", "fallback")
EXPLAIN_KEYS = ("study_uid", "radiologist_id", "at", "by", "explanation", "patient")
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
    return _pick(record, STUDY_KEYS)


def released_item(released: Released) -> dict[str, Any]:
    """Where a released study went (keys: `RELEASE_KEYS`)."""
    return _pick(released, RELEASE_KEYS)


def explained_item(found: StudyExplanation) -> dict[str, Any]:
    """A study's stored decision (keys: `EXPLAIN_KEYS`)."""
    return _pick(found, EXPLAIN_KEYS)


def audit_item(event: AuditEvent) -> dict[str, Any]:
    """One audit row (keys: `AUDIT_KEYS`)."""
    return _pick(event, AUDIT_KEYS)


def _pick(source: object, keys: tuple[str, ...]) -> dict[str, Any]:
    # The constant is the form: enums print as their values (they are strings) and
    # datetimes as ISO strings (`echo_json`).
    return {key: _plain(getattr(source, key)) for key in keys}


def _plain(value: Any) -> Any:
    """A value as JSON holds it (the patient context as its dict)."""
    as_dict = getattr(value, "as_dict", None)
    return as_dict() if callable(as_dict) else value
