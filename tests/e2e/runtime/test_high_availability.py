"""Two `garde serve` nodes on one PostgreSQL and one shared storage path, as the README's
high-availability section describes (the failover benchmark's scenario, short phases):
a push to the standby's port is previewed and dispatched by the leader; kill -9 of the
leader: the standby takes over within 10 s; SIGSTOP of the new leader: the other takes
over within 15 s, and after SIGCONT the frozen one runs no job (audit and outbox)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from benchmarks.failover import run

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_nodes_share_the_night_and_fail_over_without_doubles(tmp_path: Path) -> None:
    url = os.environ.get("GARDE_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("needs the PostgreSQL named by GARDE_TEST_DATABASE_URL")
    result = run(tmp_path, url, hold_s=2.0)

    pushed = result["standby_push"]
    assert pushed["dispatched"]
    assert pushed["previews"] > 0  # the leader read the pixels the standby received
    assert pushed["dispatched_by_leader"]
    assert not pushed["dispatched_by_standby"]

    assert result["kill9_takeover_s"] <= 10
    assert result["sigstop_takeover_s"] <= 15
    assert result["undispatched"] == 0
    assert result["double_dispatch"] == 0
    assert result["double_assigned_notification"] == 0
    assert result["double_escalation"] == 0
    assert result["escalations"] > 0  # the watch ran on both leaders in turn
    assert result["old_leader_jobs_after_sigcont"] == 0
    assert result["old_leader_saw_lease_lost"]
