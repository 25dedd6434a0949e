"""Several servers on one store: only the one holding the job lock runs the jobs.

On PostgreSQL the lock is a session advisory lock: a second server stands by, takes
over when the leader stops or loses its connection. On SQLite one server owns the file
and always leads.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text

from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.store.engine import make_engine
from garde.store.leader import JOBS_LOCK_KEY, JobLeadership
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    receive,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from pathlib import Path


def _on_postgresql(url: str) -> bool:
    return url.startswith("postgresql")


def test_one_leader_at_a_time_and_a_standby_takes_over(migrated_url: str) -> None:
    engines = [make_engine(migrated_url) for _ in range(3)]
    first, second = JobLeadership(engines[0]), JobLeadership(engines[1])
    try:
        assert first.held()
        if not _on_postgresql(migrated_url):
            assert second.held()  # one server per SQLite file: each leads
            return
        assert not second.held()
        assert first.held()  # asking again keeps it
        first.release()
        assert second.held()
        assert not first.held()

        # The leader's connection dies (a network cut, a killed backend): the lock goes
        # with its session, and the standby takes it on its next ask.
        lock = (
            " FROM pg_locks WHERE locktype = 'advisory' AND classid = :k"
            " AND objid = hashtext(current_schema())::oid"
        )
        held = text("SELECT count(*)" + lock)
        with engines[2].connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            killed = admin.execute(
                text("SELECT pg_terminate_backend(pid)" + lock), {"k": JOBS_LOCK_KEY}
            ).all()
            assert len(killed) == 1
            # The backend exits (and drops the lock) a moment after the signal.
            deadline = time.monotonic() + 10
            while admin.execute(held, {"k": JOBS_LOCK_KEY}).scalar() and (
                time.monotonic() < deadline
            ):
                time.sleep(0.05)
        assert first.held()
        assert not second.held()
    finally:
        first.release()
        second.release()
        for engine in engines:
            engine.dispose()


def test_a_standby_server_leaves_the_sweep_to_the_leader(migrated_url: str, tmp_path: Path) -> None:
    h = timedelta(hours=1)
    shifts = [Shift("r01", T0 - h, T0 + 8 * h)]
    settings = settings_for(migrated_url, tmp_path)
    leader = start_night(settings, shifts)
    standby = start_night(settings, shifts)
    try:
        assert leader.leadership.held()
        uid = receive(leader, tmp_path, "h01", T0, description="TDM abdomen", body_part="ABDOMEN")
        for rt in (leader, standby):
            advance_to(rt, T0 + timedelta(minutes=2))
        if _on_postgresql(migrated_url):
            assert jobs.dispatch_stable_studies(standby) == 0
            assert record(standby, uid).state is StudyState.RECEIVING
        assert jobs.dispatch_stable_studies(leader) == 1
        assert record(leader, uid).assignee == "r01"
    finally:
        leader.close()
        standby.close()
