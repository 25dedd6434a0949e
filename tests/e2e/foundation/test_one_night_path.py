"""The whole path once, as a hospital and a radiologist would meet it:
`garde serve` runs as a subprocess, dcmtk's storescu pushes a study, and the study shows
up assigned, with a preview file, in `garde worklist --json`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, require_executable, write_on_call_roster, write_series

pytestmark = [pytest.mark.dcmtk, pytest.mark.slow]

CONFIG = """
environment = "test"
data_dir = "{data}"
roster_file = "{roster}"

[gateway]
port = {port}
stable_age_s = 1
acse_timeout_s = 5

[scheduler]
stability_sweep_s = 0.5

[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH Test One"
ae_titles = ["TEST_CT1"]

[[sites]]
id = "h02"
name = "CH Test Two"
ae_titles = ["TEST_CT2"]

[[radiologists]]
id = "r01"
name = "Dr Neuro"
skills = ["neuro", "body"]
sites = ["h01"]

[[radiologists]]
id = "r02"
name = "Dr Body"
skills = ["body"]
sites = ["h02"]
"""


def garde(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@pytest.fixture
def region(tmp_path: Path) -> tuple[Path, int]:
    roster = write_on_call_roster(tmp_path / "roster.csv", "r01", "r02")
    port = free_port()
    config = tmp_path / "garde.toml"
    config.write_text(
        CONFIG.format(data=tmp_path / "data", roster=roster, port=port), encoding="utf-8"
    )
    return config, port


def test_pushed_study_is_assigned_with_a_preview(region: tuple[Path, int], tmp_path: Path) -> None:
    storescu = require_executable("storescu")
    config, port = region
    assert "database at revision" in garde(config, "db", "upgrade").stdout
    study_dir = tmp_path / "exam"
    files = write_series(study_dir, 5, description="TDM CEREBRALE - ALERTE THROMBOLYSE")
    server = subprocess.Popen(
        [sys.executable, "-m", "garde", "--config", str(config), "-v", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_port(port, server)
        sent = subprocess.run(
            [
                storescu,
                "-aet",
                "TEST_CT1",
                "-aec",
                "GARDE",
                "127.0.0.1",
                str(port),
                *map(str, files),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TCP_NODELAY": "1"},
        )
        assert sent.returncode == 0, sent.stderr
        row = _wait_for_assignment(config, "r01")
        assert row["priority"] == "stroke"
        assert row["site_id"] == "h01"
        assert row["preview"] and Path(row["preview"]).is_file()
        assert Path(row["preview"]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
        assert json.loads(garde(config, "worklist", "--radiologist", "r02", "--json").stdout) == []
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "PAT-0001" not in output and "SYNTHETIC" not in output  # no patient identifiers logged


def _wait_for_port(port: int, server: subprocess.Popen[str]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"garde serve exited early:\n{server.communicate()[0]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail("garde serve did not listen within 30 s")


def _wait_for_assignment(config: Path, radiologist: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        rows = json.loads(garde(config, "worklist", "--radiologist", radiologist, "--json").stdout)
        if rows and rows[0].get("preview"):
            return rows[0]
        time.sleep(0.5)
    pytest.fail(f"no assigned study with a preview for {radiologist}: {rows}")
