"""The audit row of a refused CLI request, shared by the operator and study services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.services.audit_trail import record_refusal
from garde.services.reading import ReadingRefusedError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.services.identity import Identity
    from garde.services.ports import AuditUnitOfWork


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
