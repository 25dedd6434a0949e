"""kill -9 right after the answers: the gateway answers once the file is durably in place
and indexes afterwards, so a crash can leave answered instances unindexed; the next start
indexes them. Nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.helpers import write_series
from tests.integration.gateway.conftest import indexed, storage_files
from tests.integration.gateway.test_gateway_refusals import store_statuses, storescu

pytestmark = pytest.mark.dcmtk

ROOT = Path(__file__).resolve().parents[3]


def test_kill_9_after_the_answers_loses_nothing_acknowledged(
    gateway_factory, session_factory, migrated_url, tmp_path
):
    storage = tmp_path / "storage"
    files = write_series(tmp_path / "in", 20, rows=32, columns=32)
    gateway = gateway_factory()  # makes the directory rows; stopped, then the crashing one
    gateway.stop(timeout=5)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.gateway.slow_index_gateway",
            migrated_url,
            str(storage),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        run = storescu(port, *files)
        assert store_statuses(run) == ["Success"] * len(files), run.stderr
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # right after the last answer
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert indexed(session_factory) == {}  # every batch was still held back
    assert len(storage_files(storage)) == len(files)  # yet every file is in place

    restarted = gateway_factory()  # start-up recovery
    rows = indexed(session_factory)
    for path in files:
        uid = dcmread(path, stop_before_pixels=True).SOPInstanceUID
        assert uid in rows, f"acknowledged {path.name} is not indexed"
        assert (storage / rows[uid].path).is_file()
    assert {r.calling_ae for r in rows.values()} == {"NORD_CT"}
    assert not [f for f in storage_files(storage) if f.name.endswith(".tmp")]
    assert restarted.service.recover() == 0  # once is enough
