"""CP-SAT at regional size (a night with the re-plan job: tests/integration/simulation)."""

from __future__ import annotations

import pytest

from garde.dispatch.optimizer import SolverSettings, greedy_plan, replan
from garde.simulation.backlog import KINDS, make_backlog


@pytest.mark.parametrize("kind", KINDS)
def test_regional_backlog_replan_never_loses_to_greedy(kind: str) -> None:
    backlog = make_backlog(kind, 60, 8, 3)
    plan, greedy_objective = greedy_plan(
        backlog.studies, backlog.readers, backlog.now, backlog.policy
    )
    result = replan(
        backlog.studies,
        backlog.readers,
        plan,
        backlog.now,
        backlog.policy,
        settings=SolverSettings(time_limit_s=1.0, workers=2),
    )
    assert result.status in {"OPTIMAL", "FEASIBLE", "UNKNOWN"}
    assert result.objective <= greedy_objective
    assert sorted(u for uids in result.plan.values() for u in uids) == sorted(
        s.uid for s in backlog.studies
    )
    moved = {m.study_uid for m in result.moves}
    for rid, uids in result.plan.items():
        for uid in uids:
            if uid not in moved:
                assert uid in plan[rid]
