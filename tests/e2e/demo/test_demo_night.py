"""`garde demo`, the main job, on the embedded defaults: the first hours of a night go
through a real gateway, the store, triage, routing, previews and simulated readers, and
the radiologists' worklists at the evening peak are printed with their previews."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_first_hours_of_the_demo_night(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "GARDE_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "garde", "-qq", "demo", "--hours", "1.5", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = re.search(
        r"(\d+) studies \((\d+) instances\) received, (\d+) previews rendered, "
        r"(\d+) to the fallback pool, (\d+) unassigned, (\d+) unread",
        result.stdout,
    )
    assert summary, result.stdout
    studies, instances, previews, _fallback, unassigned, unread = map(int, summary.groups())
    assert studies > 5
    assert instances > studies
    assert previews >= studies
    assert unassigned == 0
    assert unread == 0  # the whole night shift is still on when the first hours end
    figures = result.stdout.split("Worklists at")[0]  # the worklists list priorities too
    rows = {
        line.split()[0]: line.split()
        for line in figures.splitlines()
        if line.split() and line.split()[0] in {"stroke", "emergency", "urgent", "routine"}
    }
    assert rows, result.stdout
    assert sum(int(r[1]) for r in rows.values()) == studies
    assert all(r[1] == r[2] for r in rows.values())  # every study read
    assert all(r[1] == r[9] for r in rows.values())  # every report delivered (issue 14)
    chart = data / "sla-curves.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (data / "garde.sqlite").exists()
    images = [p for p in (data / "storage").rglob("*.dcm") if "reports" not in p.parts]
    assert len(images) == instances
    assert len(list((data / "storage" / "reports").rglob("*.dcm"))) == studies  # one SR each
    _check_worklists(result.stdout, data)
    _check_next_commands(result.stdout, env)


def _check_next_commands(stdout: str, env: dict[str, str]) -> None:
    """The commands the demo suggests run as printed on its night, without a token."""
    commands = stdout.split("Next, on this night")[1].splitlines()[1:]
    assert [c.split()[3] for c in commands] == ["worklist", "status", "explain", "open"]
    for command in commands:
        argv = command.split()
        assert argv[0] == "garde"
        done = subprocess.run(
            [sys.executable, "-m", "garde", *argv[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in env.items() if not k.startswith("GARDE_")},
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
        assert done.stderr == "", (command, done.stderr)


_PEAK = re.compile(r"Worklists at the evening peak, \d\d:\d\d Paris time: (\d+) studies queued")
_READER = re.compile(r"^(r\d+) .+\): (\d+|nothing) open$")
_ROW = re.compile(
    r"^  (h\d\d-\d+) +(stroke|emergency|urgent|routine) +(assigned|in_progress) +(.+?) +"
    r"(\d\d:\d\d) +(yes|not yet)$"
)


def _check_worklists(stdout: str, data: Path) -> None:
    """Each radiologist's worklist at the peak: rows with the study's handle, priority,
    state, hospital and deadline, whose preview page and thumbnails exist."""
    peak = _PEAK.search(stdout)
    assert peak, stdout
    lines = stdout[peak.end() :].splitlines()
    assert any(f"{data / 'previews'}/<STUDY UID>/index.html" in line for line in lines), stdout
    readers: dict[str, int] = {}
    rows: dict[str, list[re.Match[str]]] = {}
    current = ""
    for line in lines:
        if reader := _READER.match(line):
            current = reader.group(1)
            readers[current] = 0 if reader.group(2) == "nothing" else int(reader.group(2))
            rows[current] = []
        elif row := _ROW.match(line):
            rows[current].append(row)
    assert {"r01", "r02", "r03", "r04"} <= readers.keys(), stdout  # on shift all night
    assert {rid: len(found) for rid, found in rows.items()} == readers, stdout
    assert sum(readers.values()) == int(peak.group(1)) > 0, stdout
    with sqlite3.connect(data / "garde.sqlite") as db:
        uids = dict(db.execute("SELECT handle, study_uid FROM studies").fetchall())
    for row in (r for found in rows.values() for r in found):
        study = data / "previews" / uids[row.group(1)]
        assert (study / "index.html").is_file(), row.group(0)
        assert list(study.glob("*.jpg")), row.group(0)


def test_a_window_with_no_arrival_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GARDE_CONFIG"}
    args = ["--seed", "10", "--hours", "0.25", "--data-dir", str(tmp_path / "demo")]
    result = subprocess.run(
        [sys.executable, "-m", "garde", "-qq", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 2, result.stderr  # a usage error, not a crash
    assert "Traceback" not in result.stderr
    assert "no study arrives in the first 0.25 hours" in result.stderr
