"""What `garde explain` prints for a study taken by late binding, margin or not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from garde.dispatch.model import StudyState
from garde.services.study_info import render_explanation
from garde.store.enums import AssignedBy
from garde.store.records import AssignmentRecord, StudyRecord

AT = datetime(2026, 11, 20, 22, 5, tzinfo=UTC)
RECORD = StudyRecord(
    study_uid="1.2.3",
    site_id="h1",
    state=StudyState.IN_PROGRESS,
    first_received_at=AT,
    last_received_at=AT,
    series_count=1,
    instance_count=1,
    version=3,
    assignee="r1",
)


def _taken(margin_min: float) -> AssignmentRecord:
    return AssignmentRecord(
        study_uid="1.2.3",
        radiologist_id="r1",
        at=AT,
        by=AssignedBy.OPERATOR,
        fallback=False,
        explanation={
            "kind": "late_binding",
            "radiologist_id": "r1",
            "previous": "r2",
            "decided_at": AT.isoformat(),
            "priority": "urgent",
            "rule": "head-ct",
            "finish_here": "2026-11-20T22:20:00+00:00",
            "finish_there": "2026-11-20T22:31:00+00:00",
            "margin_min": margin_min,
        },
    )


def test_a_late_binding_pull_says_when_each_would_have_finished() -> None:
    text = render_explanation(RECORD, _taken(0))
    assert "taken by r1 from r2" in text
    assert "they would finish it at Fri 20/11 22:20" in text
    assert "r2 was predicted to at Fri 20/11 22:31" in text
    assert "margin" not in text


def test_the_explanation_reads_in_the_regions_time_and_names_the_handle() -> None:
    record = replace(RECORD, handle="h1-4")
    text = render_explanation(record, _taken(0), ZoneInfo("Europe/Paris"))
    assert text.startswith("study h1-4 (1.2.3): being read, with r1")
    assert "taken by r1 from r2 at Fri 20/11 23:05" in text  # 22:05 UTC is 23:05 in Paris
    assert "they would finish it at Fri 20/11 23:20" in text
    assert "in_progress" not in text


def test_a_pull_under_the_fairness_margin_says_so() -> None:
    text = render_explanation(RECORD, _taken(5))
    assert "(a 5-minute margin: they had more of the night's work)" in text
