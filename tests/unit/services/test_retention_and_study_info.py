"""Retention and study information on the memory store: a read study's pixels and
previews are purged once, after the retention period, its audit kept; a study is shown
to its reader, an operator and the readers of its hospital, and to nobody else."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.services.identity import Identity, PermissionDeniedError, Role
from garde.services.refusals import ReadingRefusedError
from garde.services.retention import purge_pixels
from garde.services.study_info import StudyInfoService
from garde.store.enums import PURGE_ACTION
from garde.store.records import PatientContext
from tests.unit.services.memory_region import T0, region

if TYPE_CHECKING:
    from pathlib import Path

    from tests.unit.services.memory_region import Region

LATER = T0 + timedelta(minutes=5)


def _read(r: Region, description: str, *, site: str = "h01") -> tuple[str, str]:
    """A study received, dispatched and read; (its UID, its reader)."""
    uid = r.receive(description, site=site)
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    r.reading.start(uid, owner, LATER)
    r.reading.finish(uid, owner, LATER + timedelta(minutes=10), "RPT-1")
    return uid, owner


def test_pixels_and_previews_of_a_read_study_go_once_after_the_retention(tmp_path: Path) -> None:
    r = region()
    uid, _ = _read(r, "scanner abdominal")
    storage, previews = tmp_path / "storage", tmp_path / "previews"
    for i in range(3):
        path = storage / uid / f"{i}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
    (previews / uid).mkdir(parents=True)
    (previews / uid / "thumb.jpg").write_bytes(b"j")
    with r.store.uow_factory() as uow:
        uow.studies.set_preview(uid, "thumbnail", f"{uid}/thumb.jpg", at=LATER)
        uow.commit()

    def purge(days_after: float) -> tuple[int, int, int]:
        report = purge_pixels(
            r.store.uow_factory,
            storage_dir=storage,
            previews_dir=previews,
            now=LATER + timedelta(days=days_after),
            retention_days=7,
        )
        return report.studies, report.files, report.bytes

    assert purge(6) == (0, 0, 0)  # not yet
    assert purge(8) == (1, 4, 31)
    assert not (storage / uid).exists()  # the emptied folders go too
    assert not (previews / uid).exists()
    assert purge(9) == (0, 0, 0)  # once
    assert [a for a, _ in r.actions(uid)].count(PURGE_ACTION) == 1


def test_a_study_is_shown_to_its_reader_its_hospitals_readers_and_operators(
    tmp_path: Path,
) -> None:
    r = region()
    uid = r.receive("scanner abdominal", site="h02")
    r.dispatch.sweep(LATER)
    owner = r.study(uid).assignee
    info = StudyInfoService(r.store.uow_factory, tmp_path)
    for who in (Identity(owner, Role.RADIOLOGIST), Identity("ops", Role.OPERATOR)):
        explained = info.explain(uid, by=who, now=LATER, origin="cli")
        assert explained.radiologist_id == owner
        assert explained.patient == PatientContext()
    outsider = Identity("r09", Role.RADIOLOGIST)  # credentialed for h01 and h09 only
    with pytest.raises(PermissionDeniedError, match="not credentialed for hospital h02"):
        info.opened(uid, by=outsider, now=LATER, origin="cli")
    with pytest.raises(ReadingRefusedError, match="unknown study"):
        info.check_visible("1.2.404", by=outsider, now=LATER, origin="cli", action="open")
    with pytest.raises(ReadingRefusedError, match="has no page yet"):
        info.page(uid, by=Identity(owner, Role.RADIOLOGIST), now=LATER, origin="cli")
    outcomes = r.actions(uid)
    assert outcomes[-4:] == [
        ("explain", "ok"),
        ("explain", "ok"),
        ("open", "refused"),  # the outsider
        ("open", "refused"),  # no page yet
    ]
