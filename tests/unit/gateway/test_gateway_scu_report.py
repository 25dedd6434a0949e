"""The push side without a network: file collection, the resume log, the report."""

from __future__ import annotations

import json
from pathlib import Path

from garde.dicom_gateway.resume import ResumeLog
from garde.dicom_gateway.scu import FileResult, Outcome, PushReport, collect_files


def test_collect_files_recurses_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name in ["b/2.dcm", "b/1.dcm", "a/deep/x", "a/.DS_Store", ".git/obj", "top.dcm"]:
        (tmp_path / name).write_bytes(b"")
    files = collect_files([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "top.dcm",
        "a/deep/x",
        "b/1.dcm",
        "b/2.dcm",
    ]
    assert collect_files([tmp_path / "top.dcm", tmp_path / "missing"]) == [tmp_path / "top.dcm"]


def test_resume_log_survives_a_restart_and_notices_changes(tmp_path):
    done, changed = tmp_path / "done.dcm", tmp_path / "changed.dcm"
    done.write_bytes(b"a")
    changed.write_bytes(b"b")
    log = ResumeLog(tmp_path / "state" / "push.jsonl")
    log.add(done)
    log.add(changed)
    log.close()
    changed.write_bytes(b"bb")  # edited since: must be sent again
    with (tmp_path / "state" / "push.jsonl").open("a") as f:
        f.write('{"path": "/cut-sho')  # a kill in the middle of a line
    again = ResumeLog(tmp_path / "state" / "push.jsonl")
    assert again.acknowledged(done)
    assert not again.acknowledged(changed)
    assert not again.acknowledged(tmp_path / "never.dcm")
    again.close()


def test_resume_log_is_keyed_by_content_not_by_place(tmp_path):
    sent = tmp_path / "exam" / "1.dcm"
    sent.parent.mkdir()
    sent.write_bytes(b"same study")
    log = ResumeLog(tmp_path / "push.jsonl")
    log.add(sent)
    log.close()
    copy = tmp_path / "copy" / "1.dcm"  # the same file, elsewhere and touched later
    copy.parent.mkdir()
    copy.write_bytes(b"same study")
    again = ResumeLog(tmp_path / "push.jsonl")
    assert again.acknowledged(copy)
    copy.write_bytes(b"other study")
    assert not again.acknowledged(copy)
    again.close()


def test_resume_log_still_reads_the_older_path_size_mtime_lines(tmp_path):
    sent = tmp_path / "1.dcm"
    sent.write_bytes(b"x")
    stat = sent.stat()
    line = json.dumps({"path": str(sent.resolve()), "size": 1, "mtime_ns": stat.st_mtime_ns})
    (tmp_path / "push.jsonl").write_text(line + "\n")
    log = ResumeLog(tmp_path / "push.jsonl")
    assert log.acknowledged(sent)
    log.close()


def test_report_counts_ok_and_json():
    report = PushReport(
        [
            FileResult(Path("a"), Outcome.STORED, 0),
            FileResult(Path("b"), Outcome.FAILED, 0xA700, "refused: out of resources"),
            FileResult(Path("c"), Outcome.SKIPPED, 0),
            FileResult(Path("d"), Outcome.NOT_DICOM, None, "not DICOM"),
        ]
    )
    assert (report.stored, report.failed, report.skipped, report.not_dicom) == (1, 1, 1, 1)
    assert not report.ok
    data = report.to_dict()
    assert data["files"][1]["status"] == "0xA700"
    assert data["files"][3]["status"] is None
    assert "FAILED b (0xA700)" in report.summary()
    assert PushReport([FileResult(Path("d"), Outcome.NOT_DICOM)]).ok
