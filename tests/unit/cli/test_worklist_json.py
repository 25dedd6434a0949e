"""`garde worklist --json` keys are stable and documented; sorting and filtering are pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from garde.cli.worklist_commands import worklist
from garde.dispatch.model import Priority, StudyState
from garde.services.worklist import (
    WORKLIST_KEYS,
    WorklistQueryError,
    parse_filters,
    risk,
    select_rows,
    worklist_item,
)
from garde.store.records import WorklistRow

NOW = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
FOUNDATION_KEYS = {
    "study_uid",
    "site_id",
    "site_name",
    "state",
    "priority",
    "modalities",
    "description",
    "first_received_at",
    "deadline",
    "preview",
}


def _row(
    uid: str, priority: Priority, left_min: float, window_min: float = 60, **kw
) -> WorklistRow:
    deadline = NOW + timedelta(minutes=left_min)
    values = {
        "study_uid": uid,
        "site_id": "h1",
        "site_name": "CH One",
        "modalities": frozenset({"CT"}),
        "description": "TDM CEREBRALE",
        "priority": priority,
        "deadline": deadline,
        "first_received_at": deadline - timedelta(minutes=window_min),
        "state": StudyState.ASSIGNED,
        "assigned_at": None,
        "started_at": None,
        "preview_path": None,
        "version": 1,
    }
    values.update(kw)
    return WorklistRow(**values)


def test_the_json_keys_are_the_documented_ones() -> None:
    item = worklist_item(_row("1.1", Priority.STROKE, 5), NOW)
    assert tuple(sorted(item)) == WORKLIST_KEYS
    assert set(item) >= FOUNDATION_KEYS  # the keys the README promised stay
    assert item["deadline"] == "2026-11-20T23:05:00+00:00"
    assert item["time_left_s"] == 300.0
    assert item["age_s"] == 3300.0
    for key in WORKLIST_KEYS:
        assert key in (worklist.help or "")


def test_risk_is_late_at_risk_or_ok() -> None:
    assert risk(_row("a", Priority.URGENT, -1), NOW) == "late"
    assert risk(_row("b", Priority.URGENT, 10, window_min=60), NOW) == "at_risk"
    assert risk(_row("c", Priority.URGENT, 30, window_min=60), NOW) == "ok"


def test_sort_and_filter() -> None:
    rows = [
        _row("a", Priority.ROUTINE, 5),
        _row("b", Priority.STROKE, 15, modalities=frozenset({"MR"})),
        _row("c", Priority.URGENT, 1),
    ]
    assert [r.study_uid for r in select_rows(rows, NOW, sort="priority")] == ["b", "c", "a"]
    assert [r.study_uid for r in select_rows(rows, NOW, sort="left")] == ["c", "a", "b"]
    assert [r.study_uid for r in select_rows(rows, NOW, sort="-left")] == ["b", "a", "c"]
    mr = select_rows(rows, NOW, filters=parse_filters(["modality=mr"]))
    assert [r.study_uid for r in mr] == ["b"]
    assert (
        select_rows(rows, NOW, filters=parse_filters(["site=CH One", "priority=urgent"]))[
            0
        ].study_uid
        == "c"
    )
    with pytest.raises(WorklistQueryError, match="expected one of"):
        select_rows(rows, NOW, sort="colour")
    with pytest.raises(WorklistQueryError, match="KEY=VALUE"):
        parse_filters(["colour=red"])
