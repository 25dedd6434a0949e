"""Serve's re-plan job survives CP-SAT aborting its process: the re-plan is skipped, logged,
the queues stay as routed, and the next re-plan runs in a new child."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift
from garde.scheduling import jobs
from garde.services.solver_process import IsolatedReplanner
from tests.integration.dispatch_opt import solver_targets
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

    import pytest

POLYTRAUMA = "TDM corps entier polytraumatisme"


def test_a_solver_abort_skips_one_replan_and_serve_goes_on(
    migrated_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = timedelta(hours=1)
    shifts = [
        Shift("r01", T0 - h, T0 + 9 * h),
        Shift("r05", T0 + timedelta(minutes=10), T0 + 9 * h),
    ]
    rt = start_night(settings_for(migrated_url, tmp_path, replan_time_limit_s=1.0), shifts)
    try:
        uids = [receive(rt, tmp_path, "h02", T0, description=POLYTRAUMA) for _ in range(3)]
        rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
        advance_to(rt, T0 + timedelta(minutes=10))
        rt.replanner.close()
        rt.replanner = IsolatedReplanner(solver_targets.always_aborts)
        with caplog.at_level(logging.ERROR, logger="garde"):
            assert jobs.replan(rt) == 0
        assert "re-plan skipped: the CP-SAT process died again without presolve" in caplog.text
        assert {record(rt, u).assignee for u in uids} == {"r01"}  # as the router placed them
        rt.replanner.close()
        rt.replanner = IsolatedReplanner()
        assert jobs.replan(rt) >= 1  # the next re-plan runs (a late study goes to r05)
        assert "r05" in {record(rt, u).assignee for u in uids}
    finally:
        rt.close()
