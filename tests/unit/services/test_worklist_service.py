"""WorklistService on the memory store: a reader's worklist as the SQL store gives it,
audited once per view, a --watch refresh that shows nothing new not audited again."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import StudyState
from garde.services.identity import Identity, PermissionDeniedError, Role
from garde.services.worklist import WorklistService
from tests.unit.services.memory_region import T0, region

if TYPE_CHECKING:
    from pathlib import Path

LATER = T0 + timedelta(minutes=5)


def test_a_readers_worklist_reading_first_previews_absolute_each_view_audited_once(
    tmp_path: Path,
) -> None:
    r = region()
    uids = [r.receive(f"scanner abdominal {n}", site="h02") for n in range(4)]
    r.dispatch.sweep(LATER)
    owner = r.study(uids[0]).assignee
    mine = [u for u in uids if r.study(u).assignee == owner]
    assert len(mine) >= 2
    with r.store.uow_factory() as uow:
        uow.studies.set_preview(mine[-1], "thumbnail", f"{mine[-1]}/thumb.jpg", LATER)
        uow.commit()
    r.reading.start(mine[-1], owner, LATER)
    service = WorklistService(r.store.uow_factory, tmp_path)
    me = Identity(owner, Role.RADIOLOGIST)
    rows = service.view(me, None, now=LATER, origin="cli")
    assert rows[0].study_uid == mine[-1]  # the read in hand first, though it came last
    assert rows[0].state is StudyState.IN_PROGRESS
    assert rows[0].preview_path == str(tmp_path / mine[-1] / "thumb.jpg")
    assert {row.study_uid for row in rows} == set(mine)
    shown = [row.study_uid for row in rows]
    service.view(me, None, now=LATER, origin="cli", shown_before=shown)  # nothing new
    with r.store.uow_factory() as uow:
        views = [e for e in uow.audit.for_actor(owner) if e.action == "view_worklist"]
    assert [v.detail["studies"] for v in views] == [shown]
    other = next(rid for rid in ("r01", "r02", "r03") if rid != owner)
    with pytest.raises(PermissionDeniedError):
        service.view(me, other, now=LATER, origin="cli")
