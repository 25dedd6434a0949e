"""IdentityService on the memory store: open mode until a token exists, the first
operator token without one, only operators issue after that, a new token revokes the
old, every issue audited."""

from __future__ import annotations

import pytest

from garde.services.identity import (
    OPEN_MODE,
    Identity,
    IdentityService,
    NoCredentialError,
    PermissionDeniedError,
    Role,
)
from garde.store.memory import MemoryStore
from tests.unit.services.memory_region import READERS, SITES, T0


def _service(*, open_mode: bool = True) -> tuple[IdentityService, MemoryStore]:
    store = MemoryStore(SITES, READERS)
    return IdentityService(store.uow_factory, open_mode=open_mode), store


def test_a_region_without_tokens_is_open_only_where_allowed() -> None:
    service, _ = _service()
    assert service.authenticate(None) is OPEN_MODE
    closed, _ = _service(open_mode=False)
    with pytest.raises(NoCredentialError, match="production region needs a personal token"):
        closed.authenticate(None)


def test_the_first_operator_token_needs_nobody_then_only_operators_issue() -> None:
    service, store = _service()
    first = service.issue("ops", Role.OPERATOR, by=None, now=T0, origin="cli")
    operator = service.authenticate(first.token)
    assert operator == Identity("ops", Role.OPERATOR)
    with pytest.raises(NoCredentialError, match="set GARDE_TOKEN"):
        service.authenticate(None)  # tokens exist now: open mode is over
    with pytest.raises(PermissionDeniedError, match="nobody identified may not issue"):
        service.issue("other", Role.OPERATOR, by=None, now=T0, origin="cli")
    reader = service.issue("r01", "radiologist", by=operator, now=T0, origin="cli")
    with pytest.raises(PermissionDeniedError, match="r01 may not issue"):
        service.issue(
            "r02", Role.RADIOLOGIST, by=service.authenticate(reader.token), now=T0, origin="cli"
        )
    with pytest.raises(LookupError, match="unknown radiologist 'r99'"):
        service.issue("r99", Role.RADIOLOGIST, by=operator, now=T0, origin="cli")
    actions = [(e.actor, e.action, e.radiologist_id) for e in store.audit()]
    assert actions == [("bootstrap", "issue_token", None), ("ops", "issue_token", "r01")]


def test_a_new_token_revokes_the_old_one() -> None:
    service, _ = _service()
    operator = service.authenticate(
        service.issue("ops", Role.OPERATOR, by=None, now=T0, origin="cli").token
    )
    old = service.issue("r01", Role.RADIOLOGIST, by=operator, now=T0, origin="cli")
    new = service.issue("r01", Role.RADIOLOGIST, by=operator, now=T0, origin="cli")
    assert (old.revoked, new.revoked) == (0, 1)
    assert service.authenticate(new.token) == Identity("r01", Role.RADIOLOGIST)
    with pytest.raises(NoCredentialError, match="unknown or was revoked"):
        service.authenticate(old.token)
