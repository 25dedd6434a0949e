"""A running `garde serve` with its web part, two hospitals, a pushed CT study, tokens."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydicom.uid import generate_uid

from tests.e2e.runtime.serving import garde, push_with_storescu, serve, wait_for_port
from tests.helpers import free_port, require_executable, write_on_call_roster, write_series

if TYPE_CHECKING:
    from collections.abc import Iterator

VIEWER_DIR = Path(__file__).resolve().parents[3] / "viewer" / "dist"  # `make viewer`

CONFIG = """
environment = "production"
data_dir = "{data}"
roster_file = "{roster}"

[gateway]
port = {port}
workers = 1
stable_age_s = 1

[web]
enabled = true
port = {web_port}
cors_origins = ["http://viewer.example"]
viewer_dir = "{viewer}"

[scheduler]
stability_sweep_s = 0.3

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
name = "Dr One"
skills = ["neuro", "body"]
sites = ["h01"]

[[radiologists]]
id = "r02"
name = "Dr Two"
skills = ["neuro", "body"]
sites = ["h02"]
"""


@dataclass
class Served:
    """A running server and what the tests need of it."""

    url: str  # .../dicom-web
    port: int
    dicom_port: int
    data: Path
    files: list[Path]  # the pushed study, in instance order
    study_uid: str
    operator: str
    reader: str  # r01: credentialed for h01, on shift
    outsider: str  # r02: credentialed for h02 only
    config: Path


def _token(config: Path, *args: str, by: str | None = None) -> str:
    env = {**os.environ, "GARDE_TOKEN": by} if by else dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), "user", "token", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return next(w for w in out.split() if w.startswith("garde_"))


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    scu = require_executable("storescu")
    tmp = tmp_path_factory.mktemp("web")
    roster = write_on_call_roster(tmp / "roster.csv", "r01", "r02")
    port, web_port = free_port(), free_port()
    data = tmp / "data"
    config = tmp / "garde.toml"
    config.write_text(
        CONFIG.format(data=data, roster=roster, port=port, web_port=web_port, viewer=VIEWER_DIR),
        encoding="utf-8",
    )
    garde(config, "db", "upgrade")
    operator = _token(config, "--operator", "ops")
    study_uid = generate_uid()
    files = write_series(tmp / "ct", 4, study_uid=study_uid, rows=32, columns=32)
    files += write_series(
        tmp / "ct2", 2, study_uid=study_uid, rows=32, columns=32, series_description="CORONAL"
    )
    log = tmp / "serve.log"
    server = serve(config, log)
    try:
        wait_for_port(port, server, log)
        wait_for_port(web_port, server, log)
        # Radiologists are known once `serve` wrote the config's directory to the store.
        tokens = {rid: _token(config, rid, by=operator) for rid in ("r01", "r02")}
        push = push_with_storescu(scu, port, files)
        output, _ = push.communicate(timeout=60)
        assert push.returncode == 0, output
        time.sleep(0.5)  # indexed right after the answers
        yield Served(
            url=f"http://127.0.0.1:{web_port}/dicom-web",
            port=web_port,
            dicom_port=port,
            data=data,
            files=files,
            study_uid=study_uid,
            operator=operator,
            reader=tokens["r01"],
            outsider=tokens["r02"],
            config=config,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
