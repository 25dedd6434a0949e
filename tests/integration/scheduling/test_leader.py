"""Several servers on one store: only the holder of the job lease runs the jobs.

The lease is a row with a holder and an expiry, taken by a conditional UPDATE and renewed;
a standby takes it when it is released, expired, or its holder's PostgreSQL session is
gone (killed). A job whose node lost the lease commits nothing. The lease's SQL runs on
both dialects; in production only PostgreSQL competes (SQLite: one server per file).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text, update

from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.store.engine import make_engine, make_session_factory
from garde.store.errors import LeaseLostError
from garde.store.leader import JobLeadership
from garde.store.models import LeaderLeaseRow
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    audit,
    receive,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from pathlib import Path


def _on_postgresql(url: str) -> bool:
    return url.startswith("postgresql")


class Clocks:
    """A wall clock and a monotonic one that move together, by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return datetime(2026, 12, 6, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t


def test_one_holder_at_a_time_a_released_lease_passes_at_once(migrated_url: str) -> None:
    engines = [make_engine(migrated_url) for _ in range(2)]
    first = JobLeadership(engines[0], compete=True, holder="a")
    second = JobLeadership(engines[1], compete=True, holder="b")
    try:
        assert first.held()
        assert not second.held()
        assert first.held()  # renewing keeps it
        epoch = first.epoch
        first.release()
        assert second.held()
        assert second.epoch == (epoch or 0) + 1  # a new holder, a new fencing token
        assert not first.held()
    finally:
        first.release()
        second.release()
        for engine in engines:
            engine.dispose()


def test_an_unrenewed_lease_expires_and_its_old_holder_commits_nothing(
    migrated_url: str,
) -> None:
    clocks = Clocks()
    engines = [make_engine(migrated_url) for _ in range(2)]
    kwargs = {"compete": True, "lease_s": 6.0, "wall": clocks.wall, "monotonic": clocks.monotonic}
    frozen = JobLeadership(engines[0], holder="frozen", **kwargs)  # type: ignore[arg-type]
    standby = JobLeadership(engines[1], holder="standby", **kwargs)  # type: ignore[arg-type]
    try:
        assert frozen.held()
        clocks.t = 5.5  # not expired for the others yet...
        assert not standby.held()
        assert not frozen.valid()  # ...but its holder already stopped counting on it
        clocks.t = 6.5  # expired: the standby takes it
        assert standby.held()
        # The frozen leader wakes up: a job's commit is refused, its renewal fails.
        session = make_session_factory(engines[0])()
        try:
            with pytest.raises(LeaseLostError, match="no longer holds"):
                frozen.check(session)
        finally:
            session.close()
        assert not frozen.held()
        assert standby.held()
    finally:
        frozen.release()
        standby.release()
        for engine in engines:
            engine.dispose()


def test_a_killed_leaders_lease_is_taken_before_it_expires(migrated_url: str) -> None:
    if not _on_postgresql(migrated_url):
        pytest.skip("a holder's database session is a PostgreSQL notion")
    engines = [make_engine(migrated_url) for _ in range(3)]
    leader = JobLeadership(engines[0], compete=True, holder="leader", lease_s=60)
    standby = JobLeadership(engines[1], compete=True, holder="standby", lease_s=60)
    try:
        assert leader.held()
        assert not standby.held()
        # The leader's process dies (kill -9): its session ends with it.
        with engines[2].connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            pid = admin.scalar(text("SELECT backend_pid FROM leader_lease WHERE name = 'jobs'"))
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            deadline = time.monotonic() + 10
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
            while admin.scalar(alive, {"p": pid}) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert standby.held()  # 60 s before the expiry
        assert not leader.held()
    finally:
        leader.release()
        standby.release()
        for engine in engines:
            engine.dispose()


def test_a_job_whose_lease_is_lost_mid_run_stops_and_applies_nothing(
    migrated_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = timedelta(hours=1)
    rt = start_night(settings_for(migrated_url, tmp_path), [Shift("r01", T0 - h, T0 + 8 * h)])
    rt.leadership = JobLeadership(rt.engine, compete=True, holder="node-1")
    try:
        uid = receive(rt, tmp_path, "h01", T0, description="TDM abdomen", body_part="ABDOMEN")
        advance_to(rt, T0 + timedelta(minutes=2))
        assert rt.leadership.held()  # the job starts: its node leads...
        with rt.uow() as uow:  # ...and another node takes the lease meanwhile
            uow.session.execute(
                update(LeaderLeaseRow).values(holder="node-2", epoch=LeaderLeaseRow.epoch + 1)
            )
            uow.commit()
        token = rt.leadership.fence()  # as `jobs` fences the job's commits
        try:
            with caplog.at_level(logging.ERROR, logger="garde.scheduling.jobs"):
                assert jobs.dispatch_stable_studies.__wrapped__(rt) == 0  # type: ignore[attr-defined]
        finally:
            rt.leadership.unfence(token)
        assert "stability sweep stopped: another node took the job lease" in caplog.text
        assert record(rt, uid).state is StudyState.RECEIVING  # nothing half-applied
        assert record(rt, uid).assignee is None
        assert audit(rt, uid) == []
        assert rt.dispatch.board.owner(uid) is None
        assert jobs.dispatch_stable_studies(rt) == 0  # and it no longer runs the jobs
    finally:
        rt.close()


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
