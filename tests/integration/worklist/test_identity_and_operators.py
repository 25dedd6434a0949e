"""Tokens, worklist views, operator actions, open/explain: access rules and audit rows."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Priority, StudyState
from garde.services.identity import (
    OPEN_MODE,
    Identity,
    IdentityService,
    NoCredentialError,
    PermissionDeniedError,
    Role,
    TokenFileError,
    hash_token,
    read_token,
    write_token_file,
)
from garde.services.refusals import ReadingRefusedError, Refusal
from garde.services.worklist import WORKLIST_KEYS, WorklistQueryError, parse_filters, worklist_item
from tests.integration.worklist.conftest import T0, Region

if TYPE_CHECKING:
    from pathlib import Path

NOW = T0 + timedelta(minutes=5)
ALICE = Identity("alice", Role.OPERATOR)
R1 = Identity("r1", Role.RADIOLOGIST)


def test_tokens_are_stored_hashed_and_a_new_one_revokes_the_old(region: Region) -> None:
    assert region.identity.authenticate(None) == OPEN_MODE  # nothing issued yet
    with pytest.raises(PermissionDeniedError):
        region.identity.issue("r1", Role.RADIOLOGIST, by=None, now=NOW, origin="t")
    operator = region.identity.issue("alice", Role.OPERATOR, by=None, now=NOW, origin="t")
    first = region.identity.issue("r1", "radiologist", by=ALICE, now=NOW, origin="t")
    assert region.identity.authenticate(operator.token) == ALICE
    assert region.identity.authenticate(first.token) == R1
    with region.uow() as uow:
        from garde.store.models import AccessTokenRow

        stored = {row.token_hash for row in uow.session.query(AccessTokenRow)}
    assert hash_token(first.token) in stored
    assert first.token not in stored
    second = region.identity.issue("r1", Role.RADIOLOGIST, by=ALICE, now=NOW, origin="t")
    assert second.revoked == 1
    with pytest.raises(NoCredentialError, match="revoked"):
        region.identity.authenticate(first.token)
    with pytest.raises(NoCredentialError, match="no credential"):
        region.identity.authenticate(None)  # tokens exist now: one is required
    with pytest.raises(PermissionDeniedError):
        region.identity.issue("r2", Role.RADIOLOGIST, by=R1, now=NOW, origin="t")
    with pytest.raises(PermissionDeniedError):  # a second operator needs an operator
        region.identity.issue("bob", Role.OPERATOR, by=None, now=NOW, origin="t")
    with pytest.raises(LookupError, match="unknown radiologist"):
        region.identity.issue("r9", Role.RADIOLOGIST, by=ALICE, now=NOW, origin="t")
    with region.uow() as uow:
        issued = [e for e in uow.audit.for_radiologist("r1") if e.action == "issue_token"]
    assert len(issued) == 2
    assert all(first.token not in str(e.detail) for e in issued)


def test_token_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "token"
    write_token_file(path, "garde_secret")
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_token({}, path) == "garde_secret"
    assert read_token({"GARDE_TOKEN": "garde_env"}, path) == "garde_env"
    path.chmod(0o644)
    with pytest.raises(TokenFileError, match="chmod 600"):
        read_token({}, path)
    with pytest.raises(TokenFileError, match="no such file"):
        read_token({"GARDE_TOKEN_FILE": str(tmp_path / "nope")})


def test_worklist_views_are_ones_own_unless_operator(region: Region) -> None:
    late = region.study("h1", priority=Priority.STROKE, assignee="r1", deadline_min=2)
    ct = region.study("h1", priority=Priority.URGENT, assignee="r1")
    rows = region.worklist.view(R1, None, now=NOW, origin="t")
    assert [r.study_uid for r in rows] == [late, ct]
    item = worklist_item(rows[0], NOW)
    assert tuple(sorted(item)) == WORKLIST_KEYS
    assert item["at_risk"] is True
    assert item["time_left_s"] == -180.0
    assert worklist_item(rows[1], NOW)["at_risk"] is False
    by_left = region.worklist.view(R1, None, now=NOW, origin="t", sort="-left")
    assert [r.study_uid for r in by_left] == [ct, late]
    risky = region.worklist.view(
        R1, "r1", now=NOW, origin="t", filters=parse_filters(["risk=late"])
    )
    assert [r.study_uid for r in risky] == [late]
    assert region.worklist.view(ALICE, "r1", now=NOW, origin="t")  # operators see anyone's
    before = region.audit_rows()
    with pytest.raises(PermissionDeniedError):
        region.worklist.view(R1, "r2", now=NOW, origin="t")
    with pytest.raises(WorklistQueryError, match="--sort"):
        region.worklist.view(R1, None, now=NOW, origin="t", sort="colour")
    with pytest.raises(WorklistQueryError, match="--filter"):
        parse_filters(["nope"])
    assert region.audit_rows() == before


def test_operator_assign_is_audited_and_explained(region: Region) -> None:
    uid = region.study("h1", assignee="r1")
    record = region.operator.assign(
        uid, "r2", by=ALICE, reason="r1 unreachable", now=NOW, origin="t"
    )
    assert (record.state, record.assignee) == (StudyState.ASSIGNED, "r2")
    explained = region.info.explain(uid, by=R1, now=NOW, origin="t")  # h1: r1 is credentialed
    assert explained.explanation["kind"] == "manual"
    assert "by operator alice" in explained.text
    assert "r1 unreachable" in explained.text
    with region.uow() as uow:
        actions = [(e.actor, e.action) for e in uow.audit.for_study(uid)]
    assert actions[-2:] == [("alice", "assign"), ("r1", "explain")]
    with pytest.raises(PermissionDeniedError):
        region.operator.assign(uid, "r1", by=R1, reason="mine", now=NOW, origin="t")
    with pytest.raises(ReadingRefusedError) as caught:
        region.operator.assign(uid, "r3", by=ALICE, reason="x", now=NOW, origin="t")
    assert caught.value.reason is Refusal.NO_CREDENTIAL
    with pytest.raises(ReadingRefusedError) as caught:
        region.operator.assign("1.2.3", "r1", by=ALICE, reason="x", now=NOW, origin="t")
    assert caught.value.reason is Refusal.UNKNOWN_STUDY


def test_studies_and_audit_are_for_operators(region: Region) -> None:
    pending = region.study("h2")
    assert [
        s.study_uid for s in region.operator.studies("pending", by=ALICE, now=NOW, origin="t")
    ] == [pending]
    with pytest.raises(PermissionDeniedError):
        region.operator.studies("pending", by=R1, now=NOW, origin="t")
    own = region.operator.audit_trail(by=R1, now=NOW, origin="t", radiologist_id="r1")
    assert [e.action for e in own] == ["view_studies"]  # the refusal above
    with pytest.raises(PermissionDeniedError):
        region.operator.audit_trail(by=R1, now=NOW, origin="t", study_uid=pending)
    trail = region.operator.audit_trail(by=ALICE, now=NOW, origin="t", study_uid=pending)
    assert trail == []  # routed in the fixture, no audited action yet


def test_open_and_explain_need_the_study_or_its_hospital(region: Region) -> None:
    uid = region.study("h2", assignee="r3")
    with pytest.raises(ReadingRefusedError, match="no page yet"):
        region.info.page(uid, by=Identity("r3", Role.RADIOLOGIST), now=NOW, origin="t")
    page = region.previews / uid / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>", encoding="utf-8")
    assert region.info.page(uid, by=Identity("r3", Role.RADIOLOGIST), now=NOW, origin="t") == page
    with pytest.raises(PermissionDeniedError, match="not credentialed for hospital h2"):
        region.info.page(uid, by=R1, now=NOW, origin="t")
    with pytest.raises(PermissionDeniedError):
        region.info.explain(uid, by=R1, now=NOW, origin="t")
    with pytest.raises(ReadingRefusedError) as caught:
        region.info.explain("1.2.3", by=R1, now=NOW, origin="t")
    assert caught.value.reason is Refusal.UNKNOWN_STUDY
    with region.uow() as uow:
        tried = [(e.action, e.detail["outcome"]) for e in uow.audit.for_radiologist("r1")]
    assert tried == [("open", "refused"), ("explain", "refused"), ("explain", "refused")]


def test_a_watched_worklist_is_audited_when_what_it_shows_changes(region: Region) -> None:
    first = region.study("h1", priority=Priority.URGENT, assignee="r1")
    before = region.audit_rows()
    rows = region.worklist.view(R1, None, now=NOW, origin="t")
    shown = [r.study_uid for r in rows]
    assert shown == [first]
    for _ in range(3):  # refreshes showing the same studies
        rows = region.worklist.view(R1, None, now=NOW, origin="t", shown_before=shown)
    assert region.audit_rows() == before + 1
    second = region.study("h1", priority=Priority.STROKE, assignee="r1")
    region.worklist.view(R1, None, now=NOW, origin="t", shown_before=shown)  # it changed
    assert region.audit_rows() == before + 2
    with region.uow() as uow:
        views = [e for e in uow.audit.for_radiologist("r1") if e.action == "view_worklist"]
    assert len(views) == 2
    assert views[-1].detail["studies"] == [second, first]


def test_a_production_region_has_no_open_mode_whatever_the_entry_point(region: Region) -> None:
    # The rule lives in the service, not only in the CLI: any caller of authenticate
    # (a future HTTP front, a script) gets the refusal.
    production = IdentityService(region.uow, open_mode=False)
    with pytest.raises(NoCredentialError, match="a production region needs a personal token"):
        production.authenticate(None)
    assert region.identity.authenticate(None) == OPEN_MODE  # the same store, demo rules
