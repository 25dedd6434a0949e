"""`garde demo`, the main job, on the embedded defaults: the first hours of a night go
through a real gateway, the store, triage, routing, previews and simulated readers."""

from __future__ import annotations

import os
import re
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
    rows = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line.split() and line.split()[0] in {"stroke", "emergency", "urgent", "routine"}
    }
    assert rows, result.stdout
    assert sum(int(r[1]) for r in rows.values()) == studies
    assert all(r[1] == r[2] for r in rows.values())  # every study read
    chart = data / "sla-curves.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (data / "garde.sqlite").exists()
    assert len(list((data / "storage").rglob("*.dcm"))) == instances
