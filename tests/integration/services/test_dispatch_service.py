"""The dispatch service on a real store: stable study -> triage -> route -> preview -> read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from garde.bootstrap import Runtime, build_runtime
from garde.config import load_settings
from garde.dispatch.model import Priority, Shift, StudyState
from garde.services.clock import FrozenClock
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError
from tests.gateway_intake import index_as_received
from tests.helpers import write_series

T0 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)


@pytest.fixture
def runtime(migrated_url: str, tmp_path: Path) -> Runtime:
    settings = load_settings()
    settings = replace(
        settings,
        data_dir=tmp_path,
        database_url=migrated_url,
        gateway=replace(settings.gateway, storage_dir=tmp_path / "storage", stable_age_s=60),
        previews=replace(settings.previews, dir=tmp_path / "previews"),
    )
    rt = build_runtime(settings, clock=FrozenClock(T0))
    rt.sync_directory()
    with rt.uow() as uow:
        uow.roster.replace_shifts(
            T0 - timedelta(hours=4),
            T0 + timedelta(hours=10),
            [
                Shift("r02", T0 - timedelta(hours=4), T0 + timedelta(hours=10)),  # body, chest
                Shift(
                    "r03", T0 - timedelta(hours=4), T0 + timedelta(hours=10)
                ),  # neuro, h01/h03/h05/h06
            ],
        )
        uow.commit()
    rt.dispatch.restore(T0)
    yield rt
    rt.close()


def receive(rt: Runtime, files: list[Path], site_id: str, at: datetime) -> str:
    return index_as_received(rt, files, site_id, at)


def test_stroke_study_goes_to_a_credentialed_neuro_reader_with_a_preview(
    runtime: Runtime, tmp_path: Path
) -> None:
    files = write_series(tmp_path / "in", 4, description="Scanner cérébral — alerte thrombolyse")
    uid = receive(runtime, files, "h01", T0)
    assert runtime.dispatch.sweep(T0 + timedelta(seconds=2)) == []  # not quiet yet
    # A stroke's series is complete after its quiet window (3 s), not the general 60 s.
    [decision] = runtime.dispatch.sweep(T0 + timedelta(seconds=4))
    assert decision.radiologist_id == "r03"  # the only neuro reader on shift for h01
    with runtime.uow() as uow:
        record = uow.studies.get(uid)
        history = uow.studies.assignments(uid)
        audit = uow.audit.for_study(uid)
    assert record is not None
    assert record.state is StudyState.ASSIGNED
    assert record.priority is Priority.STROKE
    assert record.deadline == T0 + timedelta(minutes=20)
    assert history[-1].explanation  # the decision explains itself
    assert [e.action for e in audit] == ["assign"]
    rows = runtime.worklist.worklist("r03", now=T0, origin="test")
    assert [r.study_uid for r in rows] == [uid]
    assert rows[0].preview_path is not None
    assert Path(rows[0].preview_path).read_bytes()[:2] == b"\xff\xd8"
    assert runtime.worklist.worklist("r02", now=T0, origin="test") == []


def test_a_study_is_dispatched_once_even_if_swept_again(runtime: Runtime, tmp_path: Path) -> None:
    uid = receive(runtime, write_series(tmp_path / "in", 2, description="TDM abdomen"), "h02", T0)
    first = runtime.dispatch.sweep(T0 + timedelta(minutes=5))
    again = runtime.dispatch.sweep(T0 + timedelta(minutes=6))
    assert [d.study_uid for d in first] == [uid]
    assert again == []


def test_reading_is_only_for_the_assignee_and_follows_the_lifecycle(
    runtime: Runtime, tmp_path: Path
) -> None:
    files = write_series(tmp_path / "in", 2, description="AVC", body_part="HEAD")
    uid = receive(runtime, files, "h01", T0)
    runtime.dispatch.sweep(T0 + timedelta(minutes=2))
    reading = ReadingService(runtime.uow, runtime.dispatch.board)
    with pytest.raises(
        ReadingRefusedError, match=r"h01-1 is not in your worklist \(it is in r03's"
    ):
        reading.start(uid, "r02", T0 + timedelta(minutes=3))
    with pytest.raises(ReadingRefusedError, match="h01-1 is not started yet: `garde start` it"):
        reading.finish(uid, "r03", T0 + timedelta(minutes=3))  # not started
    reading.start(uid, "r03", T0 + timedelta(minutes=3))
    reading.finish(uid, "r03", T0 + timedelta(minutes=9), "RPT-1")
    with runtime.uow() as uow:
        record = uow.studies.get(uid)
        actions = [(e.action, e.detail.get("outcome")) for e in uow.audit.for_study(uid)]
    assert record is not None
    assert record.state is StudyState.DONE
    assert record.report_ref == "RPT-1"
    # The refused attempts are in the study's trail too (issue 12), with who tried.
    assert actions == [
        ("assign", None),
        ("start", "refused"),
        ("done", "refused"),
        ("start", "ok"),
        ("done", "ok"),
    ]
