"""CP-SAT at regional size, and a night replayed with periodic re-planning."""

from __future__ import annotations

import pytest

from garde.dispatch.optimizer import SolverSettings, greedy_plan, replan
from garde.simulation.backlog import KINDS, make_backlog
from garde.simulation.garde_policy import GardeOptimized
from garde.simulation.scenario import default_night, generate_arrivals
from garde.simulation.simulator import simulate


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


def test_a_night_with_periodic_replanning_reads_every_study_once() -> None:
    scenario = default_night()
    arrivals = generate_arrivals(scenario, 5)
    policy = GardeOptimized(min_backlog=3)
    night = simulate(scenario, arrivals, policy)
    assert policy.replans > 0
    uids = [r.study_uid for r in night.reads]
    assert len(uids) == len(set(uids))
    assert len(uids) + night.unread == len(arrivals)
