"""Why a request was refused, and the audit row of a refused CLI request.

`ReadingRefusedError` and its `Refusal` reasons live here, below every service that
raises or records them (reading, operator, reporting, notifications, study info), so
that none of those modules imports another only to name the error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from garde.dispatch.errors import DispatchError
from garde.services.audit_trail import record_refusal

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.services.identity import Identity
    from garde.services.ports import AuditUnitOfWork


class Refusal(StrEnum):
    """Why an action was refused (kept in the audit row)."""

    UNKNOWN_STUDY = "unknown_study"
    UNKNOWN_RADIOLOGIST = "unknown_radiologist"
    NOT_YOURS = "not_yours"  # assigned to someone else
    NO_CREDENTIAL = "no_credential"  # not credentialed for the hospital, or lacks a skill
    WRONG_STATE = "wrong_state"  # the lifecycle does not allow it now
    NOTHING_TO_READ = "nothing_to_read"
    LOST_RACE = "lost_race"  # someone else moved the study first
    OFF_SHIFT = "off_shift"  # an operator's assignment to a reader the roster has off shift


class ReadingRefusedError(DispatchError):
    """The action is not allowed: not one's study, unknown study, wrong state...

    ``reason`` says which (a `Refusal`); the message is one line for the user.
    """

    def __init__(self, message: str, reason: Refusal = Refusal.WRONG_STATE) -> None:
        super().__init__(message)
        self.reason = reason


def record_refused(
    uow_factory: Callable[[], AuditUnitOfWork],
    by: Identity,
    action: str,
    *,
    now: datetime,
    origin: str,
    exc: Exception,
    study_uid: str | None = None,
    radiologist_id: str | None = None,
) -> None:
    """Append one audit row saying who was refused what, why, and from where, with the
    study and the radiologist it aimed at (``radiologist_id``: the target of an
    operator's action; a radiologist's own refusals name themselves)."""
    reason = exc.reason.value if isinstance(exc, ReadingRefusedError) else "not_allowed"
    record_refusal(
        uow_factory,
        actor=by.subject,
        action=action,
        now=now,
        origin=origin,
        reason=reason,
        message=str(exc),
        radiologist_id=radiologist_id or (None if by.is_operator else by.subject),
        detail={"study_uid": study_uid} if study_uid else None,
        study_uid=study_uid,
    )
