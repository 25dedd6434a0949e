"""The reader's words for a report not yet at the hospital, from the one query both stores run."""

from __future__ import annotations

from garde.store.records import report_on_its_way


def test_a_draft_a_report_on_its_way_a_failing_one_and_one_kept() -> None:
    rows = [
        ("1.2.3", "h01-4", "draft", 0, None),
        ("1.2.4", "h01-5", "final", 2, None),
        ("1.2.5", "", "final", 2, "connection refused"),
        ("1.2.6", "h02-1", "final", 0, None),
    ]
    found = [report_on_its_way(row) for row in rows]
    assert [(r.name, r.state) for r in found] == [
        ("h01-4", "draft"),
        ("h01-5", "sending"),
        ("1.2.5", "failing"),  # a study stored before handles goes by its UID
        ("h02-1", "kept"),  # no destination queued: kept, the operator told
    ]
    assert found[2].error == "connection refused"
