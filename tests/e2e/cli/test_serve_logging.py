"""`garde serve` logs what happens to studies, not every scheduler tick (issue 17)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from tests.e2e.runtime.serving import wait_for_port
from tests.helpers import free_port

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

CONFIG = """
environment = "test"
data_dir = "{data}"

[gateway]
port = {port}
workers = 1

[scheduler]
stability_sweep_s = 0.5

[region]
medical_director = "director@example.org"

[[sites]]
id = "h1"
name = "CH One"
ae_titles = ["H1_CT"]
"""


def _serve(tmp_path: Path, *flags: str) -> str:
    port = free_port()
    config = tmp_path / f"serve{len(flags)}.toml"
    config.write_text(CONFIG.format(data=tmp_path / f"data{len(flags)}", port=port))
    garde = [sys.executable, "-m", "garde", "--config", str(config)]
    subprocess.run([*garde, "db", "upgrade"], check=True, capture_output=True, timeout=60)
    log = tmp_path / f"serve{len(flags)}.log"
    with log.open("wb") as out:
        server = subprocess.Popen([*garde, *flags, "serve"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server, log)
        time.sleep(2.5)  # five stability sweeps
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return log.read_text()


def test_serve_logs_at_info_without_the_schedulers_ticks(tmp_path: Path) -> None:
    quiet = _serve(tmp_path)
    assert " INFO garde." in quiet  # serve's own lines: at INFO by default
    assert "apscheduler" not in quiet
    assert "Running job" not in quiet
    loud = _serve(tmp_path, "-vv")
    assert "Running job" in loud  # the ticks are there for who asks
