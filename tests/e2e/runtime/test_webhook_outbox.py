"""A stroke assignment whose webhook receiver is down survives a `kill -9` of `garde
serve`: the restarted server posts it once the receiver is back, with the outbox id as
its idempotency key."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from garde.store.engine import make_engine, make_session_factory
from garde.store.models import WebhookOutboxRow
from tests.e2e.runtime.serving import garde, push_with_storescu, serve, wait_for_port
from tests.helpers import free_port, require_executable, write_on_call_roster, write_series
from tests.integration.services.webhook_receiver import Receiver

pytestmark = [pytest.mark.dcmtk, pytest.mark.slow]

CONFIG = """
environment = "test"
data_dir = "{data}"
roster_file = "{roster}"

[gateway]
port = {port}
workers = 1
stable_age_s = 1

[scheduler]
stability_sweep_s = 0.3

[notify]
webhook_url = "http://127.0.0.1:{hook}/hook"
webhook_timeout_s = 1
webhook_attempts = 100
webhook_backoff_s = 0.2

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
"""


def _outbox(data: Path) -> list[tuple[str, int, datetime | None]]:
    engine = make_engine(f"sqlite:///{data / 'garde.sqlite'}")
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(
                    WebhookOutboxRow.kind, WebhookOutboxRow.attempts, WebhookOutboxRow.delivered_at
                ).order_by(WebhookOutboxRow.id)
            ).all()
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


def test_a_notification_pending_at_a_crash_is_posted_after_the_restart(tmp_path: Path) -> None:
    scu = require_executable("storescu")
    roster = write_on_call_roster(tmp_path / "roster.csv", "r01")
    port, hook = free_port(), free_port()
    data = tmp_path / "data"
    config = tmp_path / "garde.toml"
    config.write_text(
        CONFIG.format(data=data, roster=roster, port=port, hook=hook), encoding="utf-8"
    )
    garde(config, "db", "upgrade")
    files = write_series(
        tmp_path / "stroke", 3, rows=8, columns=8, description="AVC alerte thrombolyse"
    )
    log = tmp_path / "serve.log"
    first = serve(config, log)
    second = None
    try:
        wait_for_port(port, first, log)
        push = push_with_storescu(scu, port, files)
        output, _ = push.communicate(timeout=60)
        assert push.returncode == 0, output
        deadline = time.monotonic() + 30  # dispatched, tried at least twice, receiver down
        while time.monotonic() < deadline:
            rows = _outbox(data)
            if rows and rows[0][1] >= 2:
                break
            time.sleep(0.1)
        [(kind, attempts, delivered)] = _outbox(data)
        assert (kind, delivered) == ("assigned", None)
        assert attempts >= 2
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

        with Receiver(port=hook) as receiver:
            second = serve(config, log)
            wait_for_port(port, second, log)
            deadline = time.monotonic() + 30
            while not receiver.accepted and time.monotonic() < deadline:
                time.sleep(0.1)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log.read_text()
        [body] = receiver.accepted
        assert body["kind"] == "assigned"
        assert body["payload"]["priority"] == "stroke"
        assert body["payload"]["radiologist_id"] == "r01"
        assert receiver.keys == ["1"]
        [(_, _, delivered)] = _outbox(data)
        assert delivered is not None
    finally:
        for proc in (first, second):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
