"""Who may read what over HTTP: bearer tokens (the personal tokens of the CLI), the
studies each reader may see, and the audit of every retrieval and every refusal.

A radiologist sees the studies assigned to them and, while on shift, those of the
hospitals they are credentialed for that the shift covers; an operator sees all.
Tokens are checked against the store and remembered for a few seconds (a viewer asks
for every frame of a series); a revoked token stops working within `TOKEN_TTL_S`.
Retrievals are audited once per reader, study and kind of request per `AUDIT_EVERY_S`
(a viewer's hundreds of frame requests make one row, not hundreds).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from garde.services.audit_trail import record_refusal
from garde.services.identity import OPEN_MODE, Identity, NoCredentialError, authenticate
from garde.store.dicomweb_index import ReaderScope, StudyAccess

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.store.dicomweb_index import DicomWebIndex
    from garde.store.uow import SqlUnitOfWork
    from garde.web.sso import Sessions

TOKEN_TTL_S = 10.0
AUDIT_EVERY_S = 300.0
_CACHE_LIMIT = 4096


class AccessError(Exception):
    """A refused request; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Gate:
    """Authenticates requests and decides and audits what each may read.

    ``open_mode``: a region that never issued a token (demo, test) is read without one.
    """

    uow_factory: Callable[[], SqlUnitOfWork]
    index: DicomWebIndex
    now: Callable[[], datetime]
    open_mode: bool = False
    # Browsers signed in with single sign-on (`garde.web.sso`): their session id counts
    # as a token.
    sessions: Sessions | None = None
    _tokens: dict[str | None, tuple[Identity, float]] = field(default_factory=dict)
    _audited: dict[tuple[str, str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def identify(self, token: str | None, origin: str) -> Identity:
        """The identity behind a bearer token.

        Raises
        ------
        AccessError
            401 when there is no token (once tokens exist) or it is unknown or revoked
            (the refusal is audited).
        """
        if self.sessions is not None:
            signed_in = self.sessions.identity(token)
            if signed_in is not None:
                return signed_in
        clock = time.monotonic()
        with self._lock:
            hit = self._tokens.get(token)
        if hit is not None and hit[1] > clock:
            return hit[0]
        try:
            identity = authenticate(self.uow_factory, token, open_mode=self.open_mode)
        except NoCredentialError as exc:
            record_refusal(
                self.uow_factory,
                actor="anonymous" if token is None else "unknown-token",
                action="web_access",
                now=self.now(),
                origin=origin,
                reason="no_credential",
                message=str(exc),
            )
            raise AccessError(
                401, "a bearer token is required (Authorization: Bearer ...)"
            ) from None
        with self._lock:
            if len(self._tokens) >= _CACHE_LIMIT:
                self._tokens.clear()
            self._tokens[token] = (identity, clock + TOKEN_TTL_S)
        return identity

    def scope(self, identity: Identity) -> ReaderScope:
        """The studies ``identity`` may see now."""
        if identity.is_operator or identity == OPEN_MODE:
            return ReaderScope(everything=True)
        return self.index.scope(identity.subject, self.now())

    def study(self, identity: Identity, study_uid: str, action: str, origin: str) -> StudyAccess:
        """The study, if ``identity`` may read it; the retrieval is audited.

        Raises
        ------
        AccessError
            404 for an unknown study, 403 (audited) for one the reader may not see.
        """
        access = self.index.access(study_uid)
        if access is None:
            access = self._prior(identity, study_uid)
            if access is None:
                raise AccessError(404, f"unknown study {study_uid}")
        if not self._may_read(identity, access):
            what = f"study {study_uid}"
            if access.prior_of is not None:
                what = f"prior {study_uid} of study {access.prior_of}"
            message = (
                f"{identity.subject} may not read {what}: not theirs, and not "
                f"of a hospital ({access.site_id}) they cover on shift now"
            )
            record_refusal(
                self.uow_factory,
                actor=identity.subject,
                action=action,
                now=self.now(),
                origin=origin,
                reason="not_allowed",
                message=message,
                radiologist_id=None if identity.is_operator else identity.subject,
                study_uid=access.prior_of or study_uid,
            )
            raise AccessError(403, message)
        if access.prior_of is not None:  # audited under the study it is a prior of
            self.audit(identity, access.prior_of, action, origin, prior=study_uid)
        else:
            self.audit(identity, study_uid, action, origin)
        return access

    def _prior(self, identity: Identity, prior_uid: str) -> StudyAccess | None:
        """A prior is read as a study it is a prior of: the first of those ``identity``
        may read (else the first, to be refused), None if ``prior_uid`` is no prior."""
        from garde.store.repositories.reports import PriorRepository  # noqa: PLC0415

        with self.uow_factory() as uow:
            parents = PriorRepository(uow.session).parents(prior_uid)
        refused = None
        for parent in parents:
            access = self.index.access(parent)
            if access is None:
                continue
            access = replace(access, prior_of=parent)
            if self._may_read(identity, access):
                return access
            refused = refused or access
        return refused

    def audit(
        self,
        identity: Identity,
        study_uid: str | None,
        action: str,
        origin: str,
        *,
        prior: str | None = None,
    ) -> None:
        """Record that ``identity`` read ``study_uid`` (or its ``prior``) (at most once
        per `AUDIT_EVERY_S`)."""
        key = (identity.subject, f"{study_uid or ''}/{prior or ''}", action)
        clock = time.monotonic()
        with self._lock:
            last = self._audited.get(key)
            if last is not None and clock - last < AUDIT_EVERY_S:
                return
            if len(self._audited) >= _CACHE_LIMIT:
                self._audited.clear()
            self._audited[key] = clock
        with self.uow_factory() as uow:
            uow.audit.append(
                at=self.now(),
                actor=identity.subject,
                action=action,
                study_uid=study_uid,
                radiologist_id=None if identity.is_operator else identity.subject,
                origin=origin,
                detail={"outcome": "ok", "via": "dicomweb"} | ({"prior": prior} if prior else {}),
            )
            uow.commit()

    def _may_read(self, identity: Identity, access: StudyAccess) -> bool:
        if identity.is_operator or identity == OPEN_MODE:
            return True
        if access.assignee == identity.subject:
            return True
        return access.site_id in self.scope(identity).sites
