"""Live reload applies a changed config (credentials, scheduler periods) without a restart
and re-dispatches what it affects; `garde status` shows queues, risk and SLA figures."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from garde.bootstrap import build_runtime
from garde.cli import main
from garde.config import ConfigError, load_settings
from garde.config.loader import example_path
from garde.dispatch.model import Shift
from garde.runtime.reload import reload_runtime
from garde.scheduling.scheduler import build_scheduler
from garde.services.clock import FrozenClock
from garde.services.reading import ReadingService
from garde.services.status import night_status
from tests.integration.scheduling.night import T0, advance_to, audit, receive, record

if TYPE_CHECKING:
    from pathlib import Path

    from garde.bootstrap import Runtime

STROKE = "Scanner cerebral alerte thrombolyse"


def _write_config(path: Path, data_dir: Path, url: str, **subs: str) -> Path:
    text = example_path().read_text(encoding="utf-8")
    text = text.replace('data_dir = "data"', f'data_dir = "{data_dir}"', 1)
    text = text.replace('database_url = ""', f'database_url = "{url}"', 1)
    for old, new in subs.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def _start(config: Path, shifts: list[Shift]) -> Runtime:
    rt = build_runtime(load_settings(config), clock=FrozenClock(T0))
    rt.dispatch.previews = None
    rt.sync_directory()
    with rt.uow() as uow:
        uow.roster.replace_shifts(T0 - timedelta(days=1), T0 + timedelta(days=1), shifts)
        uow.commit()
    rt.dispatch.restore(T0)
    return rt


def test_reload_moves_work_from_a_reader_who_lost_the_credential(
    migrated_url: str, tmp_path: Path
) -> None:
    config = _write_config(tmp_path / "garde.toml", tmp_path, migrated_url)
    h = timedelta(hours=1)
    rt = _start(config, [Shift("r03", T0 - h, T0 + 9 * h), Shift("r06", T0 - h, T0 + 9 * h)])
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)  # only its jobs' periods are looked at
    try:
        stroke = receive(rt, tmp_path, "h01", T0, description=STROKE)
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        assert record(rt, stroke).assignee == "r06"  # the faster neuro reader
        _write_config(
            config,
            tmp_path,
            migrated_url,
            **{
                'sites = ["h01", "h02", "h04"]': 'sites = ["h02", "h04"]',  # r06 loses h01
                "sla_watch_s = 30": "sla_watch_s = 7",
            },
        )
        report = reload_runtime(rt, scheduler=scheduler)
        assert report.rerouted == 1
        assert record(rt, stroke).assignee == "r03"
        assert rt.dispatch.board.owner(stroke) == "r03"
        assert [e.action for e in audit(rt, stroke)] == ["assign", "reroute"]
        job = scheduler.get_job("watch_sla")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=7)
        # A broken file is refused whole; the running configuration stays.
        config.write_text("environment = 'nope'\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="environment"):
            reload_runtime(rt, scheduler=scheduler)
        assert rt.settings.scheduler.sla_watch_s == 7
    finally:
        scheduler.shutdown(wait=False)
        rt.close()


def test_status_shows_queues_risk_and_the_nights_figures(migrated_url: str, tmp_path: Path) -> None:
    config = _write_config(tmp_path / "garde.toml", tmp_path, migrated_url)
    h = timedelta(hours=1)
    rt = _start(config, [Shift("r01", T0 - h, T0 + 9 * h)])
    try:
        uids = [receive(rt, tmp_path, "h01", T0, description=STROKE) for _ in range(3)]
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=1, seconds=1)))
        reading = ReadingService(rt.uow, rt.dispatch.board)
        reading.start(uids[0], "r01", T0 + timedelta(minutes=2))
        reading.finish(uids[0], "r01", T0 + timedelta(minutes=7), "RPT")
        reading.start(uids[1], "r01", T0 + timedelta(minutes=8))
        with rt.uow() as uow:  # one notification the receiver has not taken, one given up
            uow.outbox.add("assigned", "{}", T0 + timedelta(minutes=3))
            lost = uow.outbox.add("escalation_alert", "{}", T0 + timedelta(minutes=4))
            uow.outbox.failed(lost, "HTTP 503", T0 + timedelta(minutes=9), retry_at=None)
            uow.commit()
        status = night_status(rt, T0 + timedelta(minutes=19))
    finally:
        rt.close()
    [queue] = status.queues
    assert (queue.radiologist_id, queue.on_shift, queue.in_progress, queue.queued) == (
        "r01",
        True,
        1,
        1,
    )
    # In hand since minute 8 and past its estimate (so another third of it is due): it
    # ends after its 20-minute SLA; the queued one behind it, later still.
    assert {r.study_uid for r in status.at_risk} == {uids[1], uids[2]}
    [stroke] = status.figures
    assert (stroke.priority, stroke.received, stroke.read, stroke.open) == ("stroke", 3, 1, 2)
    assert (stroke.within_sla, stroke.breached, stroke.within_sla_pct) == (1, 0, 100.0)
    assert stroke.mean_minutes_to_read == 7.0
    assert status.since < T0 < status.now
    assert (status.webhook.waiting, status.webhook.given_up) == (1, 1)
    assert status.webhook.oldest_waiting_since == T0 + timedelta(minutes=3)

    runner = CliRunner()
    out = runner.invoke(main, ["--config", str(config), "status", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert set(payload) == {
        "now",
        "since",
        "queues",
        "at_risk",
        "figures",
        "waiting",
        "webhook",
        "reports",
    }
    assert payload["webhook"]["waiting"] == 1
    table = runner.invoke(main, ["--config", str(config), "status"], catch_exceptions=False)
    assert table.exit_code == 0
    assert "PRIORITY" in table.stdout
    assert "webhook: 1 notifications waiting" in table.stdout
