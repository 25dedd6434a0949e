"""A running `garde serve` sees a roster edit and a `garde reload` made elsewhere, without
a signal: a shift added by another process routes the next stroke to its reader within
30 s, a reload run from another node's data directory (same store) reaches it, and so
does an edit saved in its own settings file."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydicom import dcmread
from sqlalchemy import select

from garde.dicom_gateway.scu import push
from garde.store.engine import make_engine, make_session_factory
from garde.store.models import StudyRow
from tests.e2e.runtime.serving import garde, serve, wait_for_log, wait_for_port
from tests.helpers import free_port, write_series

pytestmark = [pytest.mark.slow]

CONFIG = """
environment = "test"
data_dir = "{data}"
database_url = "sqlite:///{db}"

[gateway]
port = {port}
workers = 1
storage_dir = "{shared}/storage"

[previews]
dir = "{shared}/previews"

[scheduler]
store_watch_s = 2
handover_s = 600              # not the handover's own roster refresh: the watch's

[region]
medical_director = "director@example.org"

[rosters]
timezone = "Europe/Paris"

[[sites]]
id = "h01"
name = "CH Test One"
ae_titles = ["TEST_CT1"]

[[radiologists]]
id = "r01"
name = "Dr One"
skills = ["neuro", "body"]
sites = ["h01"]
"""


def _write(path: Path, data: Path, shared: Path, port: int) -> Path:
    path.write_text(
        CONFIG.format(data=data, db=shared / "garde.sqlite", shared=shared, port=port), "utf-8"
    )
    return path


def _assignee(db: Path, uid: str) -> str | None:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with make_session_factory(engine)() as session:
            row = session.scalar(select(StudyRow).where(StudyRow.study_uid == uid))
            return None if row is None else row.assignee
    finally:
        engine.dispose()


def test_a_running_serve_follows_a_roster_edit_and_a_reload_from_elsewhere(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    port = free_port()
    config = _write(tmp_path / "node.toml", tmp_path / "node", shared, port)
    # Another node's view of the same store (its own data dir): where the operator types.
    other = _write(tmp_path / "other.toml", tmp_path / "other", shared, free_port())
    garde(config, "db", "upgrade")
    log = tmp_path / "serve.log"
    server = serve(config, log)
    try:
        wait_for_port(port, server, log)
        wait_for_log(log, "garde serving")
        # Nobody on shift yet. Another process adds r01's shift, now, in local time.
        paris = datetime.now(tz=ZoneInfo("Europe/Paris"))
        start, end = (paris - timedelta(hours=1), paris + timedelta(hours=8))
        fmt = "%Y-%m-%d %H:%M"
        garde(other, "roster", "add", "r01", start.strftime(fmt), end.strftime(fmt))
        added = time.monotonic()

        files = write_series(
            tmp_path / "stroke", 2, rows=8, columns=8, description="AVC alerte thrombolyse"
        )
        report = push(files, host="127.0.0.1", port=port, calling_ae="TEST_CT1", called_ae="GARDE")
        assert report.stored == 2
        uid = _study_uid(files[0])
        while time.monotonic() - added < 30 and _assignee(shared / "garde.sqlite", uid) != "r01":
            time.sleep(0.2)
        assert _assignee(shared / "garde.sqlite", uid) == "r01", log.read_text()

        # `garde reload` from the other node's data dir: no local server to signal there,
        # the store's generation reaches this one.
        answer = garde(other, "reload").stdout
        assert "reloads within 2 s" in answer
        assert "pid" not in answer
        wait_for_log(log, "configuration reloaded")
        # An edit saved in the node's own settings file, no command at all: applied too.
        config.write_text(
            config.read_text("utf-8").replace("store_watch_s = 2", "store_watch_s = 1")
        )
        deadline = time.monotonic() + 30
        while log.read_text().count("configuration reloaded") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log.read_text().count("configuration reloaded") == 2, log.read_text()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def _study_uid(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True).StudyInstanceUID)
