"""Audit helpers shared by the CLI services: the origin of a request, refusal rows."""

from __future__ import annotations

import getpass
import os
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from garde.services.ports import AuditUnitOfWork

ORIGIN_LENGTH = 64  # the audit column's width


def request_origin(environ: Mapping[str, str] | None = None) -> str:
    """Where a CLI request comes from: ``user@host``, plus the SSH client address if any."""
    env = os.environ if environ is None else environ
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid())
    origin = f"{user}@{socket.gethostname()}"
    ssh = env.get("SSH_CLIENT", "").split(" ")[0]
    if ssh:
        origin += f" from {ssh}"
    return origin[:ORIGIN_LENGTH]


def record_refusal(
    uow_factory: Callable[[], AuditUnitOfWork],
    *,
    actor: str,
    action: str,
    now: datetime,
    origin: str,
    reason: str,
    message: str,
    radiologist_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    study_uid: str | None = None,
) -> None:
    """Append the audit row of a refused request (in its own transaction), with the
    study and the radiologist it aimed at, so that `garde audit --study` and
    ``--radiologist`` list refused attempts too."""
    with uow_factory() as uow:
        uow.audit.append(
            at=now,
            actor=actor,
            action=action,
            study_uid=study_uid,
            radiologist_id=radiologist_id,
            origin=origin[:ORIGIN_LENGTH],
            detail={"outcome": "refused", "reason": reason, "message": message, **(detail or {})},
        )
        uow.commit()
