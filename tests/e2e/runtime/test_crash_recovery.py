"""Restart recovery, for real: `kill -9` of a `garde serve` subprocess in the middle of a
500-instance push by dcmtk's storescu, a restart, and a re-send of what storescu did not
see acknowledged. Every acknowledged instance is on disk and indexed, every study is
dispatched exactly once. The restarted server then takes a `garde reload`, answers
`garde status`, and stops with exit 0 on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread
from sqlalchemy import func, select

from garde.cli import main
from garde.dispatch.model import StudyState
from garde.store.engine import make_engine, make_session_factory
from garde.store.models import AssignmentRow, AuditEventRow, InstanceRow, StudyRow
from tests.e2e.runtime.serving import (
    acknowledged,
    garde,
    push_with_storescu,
    serve,
    wait_for_log,
    wait_for_port,
)
from tests.helpers import free_port, require_executable, write_on_call_roster, write_series

pytestmark = [pytest.mark.dcmtk, pytest.mark.slow]

STUDIES = 10
PER_STUDY = 50
KILL_AFTER = 150  # instances on disk when the server is killed

CONFIG = """
environment = "test"
data_dir = "{data}"
roster_file = "{roster}"

[gateway]
port = {port}
workers = 2
stable_age_s = 1
acse_timeout_s = 5

[scheduler]
stability_sweep_s = 0.3
sla_watch_s = 1

[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH Test One"
ae_titles = ["TEST_CT1"]

[[radiologists]]
id = "r01"
name = "Dr One"
skills = ["neuro", "body"]
sites = ["h01"]
max_parallel = 50

[[radiologists]]
id = "r02"
name = "Dr Two"
skills = ["neuro", "body"]
sites = ["h01"]
max_parallel = 50
"""


@pytest.fixture
def region(tmp_path: Path) -> tuple[Path, int, Path]:
    roster = write_on_call_roster(tmp_path / "roster.csv", "r01", "r02")
    port = free_port()
    data = tmp_path / "data"
    config = tmp_path / "garde.toml"
    config.write_text(CONFIG.format(data=data, roster=roster, port=port), encoding="utf-8")
    return config, port, data


def test_kill_9_during_a_push_loses_nothing_acknowledged_and_dispatches_once(
    region: tuple[Path, int, Path], tmp_path: Path
) -> None:
    storescu = require_executable("storescu")
    config, port, data = region
    garde(config, "db", "upgrade")
    files: list[Path] = []
    for n in range(STUDIES):
        files += write_series(
            tmp_path / "push" / f"s{n:02d}",
            PER_STUDY,
            rows=8,
            columns=8,
            description="TDM abdomen",
            body_part="ABDOMEN",
        )
    log = tmp_path / "serve.log"
    server = serve(config, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for_port(port, server, log)
        push = push_with_storescu(storescu, port, files)
        storage = data / "storage"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and push.poll() is None:
            if sum(1 for _ in storage.rglob("*.dcm")) >= KILL_AFTER:
                break
            time.sleep(0.01)
        # kill -9 of the server and its gateway worker processes, as a crash of the
        # machine's service would (systemd kills the whole control group).
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        first_output, _ = push.communicate(timeout=60)
        acked = acknowledged(first_output)
        assert KILL_AFTER - 5 <= len(acked) < len(files), "the kill must land mid-push"
        assert push.returncode != 0

        second = serve(config, log)
        wait_for_port(port, second, log)
        resend = push_with_storescu(storescu, port, [f for f in files if f not in acked])
        resend_output, _ = resend.communicate(timeout=120)
        assert resend.returncode == 0, resend_output
        assert len(acknowledged(resend_output)) == len(files) - len(acked)

        engine = make_engine(f"sqlite:///{data / 'garde.sqlite'}")
        sessions = make_session_factory(engine)
        try:
            _wait_for_dispatch(sessions, STUDIES)
            with sessions() as session:
                indexed: dict[str, str] = dict(
                    tuple(row)
                    for row in session.execute(
                        select(InstanceRow.sop_instance_uid, InstanceRow.path)
                    )
                )
                studies = list(session.scalars(select(StudyRow)))
                assigns = dict(
                    tuple(row)
                    for row in session.execute(
                        select(AuditEventRow.study_uid, func.count())
                        .where(AuditEventRow.action == "assign")
                        .group_by(AuditEventRow.study_uid)
                    ).all()
                )
                history = dict(
                    tuple(row)
                    for row in session.execute(
                        select(AssignmentRow.study_id, func.count()).group_by(
                            AssignmentRow.study_id
                        )
                    ).all()
                )
        finally:
            engine.dispose()
        for path in acked:
            sop = dcmread(path, stop_before_pixels=True).SOPInstanceUID
            assert sop in indexed, f"acknowledged {path.name} is not indexed"
            assert (storage / indexed[sop]).is_file(), f"acknowledged {path.name} is not on disk"
        assert len(indexed) == len(files)
        assert len(studies) == STUDIES
        for study in studies:
            assert study.state is StudyState.ASSIGNED
            assert study.instance_count == PER_STUDY
            assert assigns.get(study.study_uid) == 1, f"study {study.study_uid} dispatched twice"
            assert history.get(study.id) == 1

        # The restarted server reloads on request and reports the night.
        runner = CliRunner()
        reloaded = runner.invoke(main, ["--config", str(config), "reload"], catch_exceptions=False)
        assert f"pid {second.pid}" in reloaded.stdout
        wait_for_log(log, "configuration reloaded")
        status = json.loads(
            runner.invoke(main, ["--config", str(config), "status", "--json"]).stdout
        )
        assert sum(q["queued"] for q in status["queues"]) == STUDIES
        [figures] = status["figures"]
        assert (figures["priority"], figures["received"], figures["open"]) == ("urgent", 10, 10)
    finally:
        for proc in (server, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
    assert second is not None
    try:
        assert second.wait(timeout=30) == 0, log.read_text()
    finally:
        for proc in (server, second):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # nothing of ours outlives the test
    assert not (data / "garde.pid").exists()
    text = log.read_text()
    assert "PAT-0001" not in text and "SYNTHETIC" not in text


def _wait_for_dispatch(sessions: object, expected: int) -> None:
    deadline = time.monotonic() + 60
    assigned = 0
    while time.monotonic() < deadline:
        with sessions() as session:  # type: ignore[operator]
            assigned = session.scalar(
                select(func.count())
                .select_from(StudyRow)
                .where(StudyRow.state == StudyState.ASSIGNED)
            )
        if assigned == expected:
            return
        time.sleep(0.2)
    pytest.fail(f"{assigned} of {expected} studies dispatched after 60 s")
