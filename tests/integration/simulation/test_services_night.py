"""Nights replayed through the product's services (`garde.simulation.simulator`): every
policy reads each study once, by someone allowed to; the replay is deterministic; the
figures it gives respect the capacity bound; a night's figures are summarised."""

from __future__ import annotations

import logging

import pytest

from garde.dispatch.model import Priority
from garde.simulation import simulator
from garde.simulation.capacity_bound import (
    forced_misses,
    forced_misses_by_group,
    night_capacity,
    night_jobs,
)
from garde.simulation.metrics import summarize
from garde.simulation.policies import POLICIES
from garde.simulation.scenario import default_night, generate_arrivals
from garde.simulation.simulator import simulate

SCENARIO = default_night()


def _evening(seed: int, minutes: float = 150) -> list:  # type: ignore[type-arg]
    """The first ``minutes`` of a night's arrivals (the rest of the night stays quiet)."""
    return [a for a in generate_arrivals(SCENARIO, seed) if a.offset_min < minutes]


@pytest.mark.parametrize("policy", list(POLICIES)[:7])
def test_every_policy_reads_each_study_once_by_someone_allowed(policy: str) -> None:
    arrivals = _evening(11)
    night = simulate(SCENARIO, arrivals, policy)
    assert night.policy == policy
    uids = [r.study_uid for r in night.reads]
    assert len(uids) == len(set(uids))
    assert len(uids) + night.unread == len(arrivals)
    readers = {r.id: r for r in SCENARIO.radiologists}
    by_uid = {a.study_uid: a for a in arrivals}
    for read in night.reads:
        rad = readers[read.reader]
        arrival = by_uid[read.study_uid]
        assert arrival.site_id in rad.sites
        assert arrival.skills <= rad.skills
        assert read.arrived <= read.started < read.finished
        assert read.priority == arrival.priority.value  # the real triage agrees


def test_a_replay_is_deterministic_and_a_stroke_interrupts_a_read() -> None:
    arrivals = _evening(2, 180)
    first = simulate(SCENARIO, arrivals, "garde")
    assert simulate(SCENARIO, arrivals, "garde") == first
    assert first.notifications.get("stroke_alert", 0) >= 1
    assert any(r.preempted for r in first.reads)  # the read put aside for it
    strokes = [r for r in first.reads if r.priority == "stroke"]
    assert strokes and max(r.turnaround for r in strokes) <= 15


def test_the_replan_job_runs_for_garde_optimized_only() -> None:
    arrivals = _evening(5)
    optimized = simulate(SCENARIO, arrivals, "garde_optimized")
    assert optimized.jobs.get("replan", 0) > 0
    assert "replan" not in simulate(SCENARIO, arrivals, "garde").jobs
    assert len(optimized.reads) + optimized.unread == len(arrivals)


def test_no_policy_beats_the_capacity_bound_and_the_night_is_summarised() -> None:
    arrivals = _evening(5, 300)
    nights = [simulate(SCENARIO, arrivals, p) for p in ("garde", "pull_edf")]
    pooled = night_capacity(SCENARIO, arrivals)
    for night in nights:
        for minutes in (20, 30, 45):
            jobs = night_jobs(SCENARIO, arrivals, [Priority.URGENT], minutes)
            bound = forced_misses_by_group(
                jobs, lambda g: night_capacity(SCENARIO, arrivals, g)
            ).misses
            assert bound >= forced_misses(jobs, pooled).misses
            late = sum(1 for r in night.reads if r.priority == "urgent" and r.turnaround > minutes)
            assert late + night.unread_priorities.count("urgent") >= bound, (night.policy, minutes)
    summary = summarize(nights)
    for priority in Priority:
        assert "within_sla_pct" in summary[priority.value]  # type: ignore[operator]
    assert summary["nights"] == 2
    unread = sum(summary[p.value]["unread"] for p in Priority)  # type: ignore[index]
    assert unread == sum(n.unread for n in nights)


def test_a_simulated_night_does_not_log_its_studies_as_serve_would(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`garde forecast` printed hundreds of "reached escalation tier" lines of its replays."""
    arrivals = _evening(11)
    services = logging.getLogger("garde.services")
    level = services.level
    with caplog.at_level(logging.WARNING, logger="garde"):
        simulate(SCENARIO, arrivals, "round_robin")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("garde.")] == []
    assert services.level == level  # given back after the night
    monkeypatch.setattr(simulator, "_MUTED", ())
    with caplog.at_level(logging.WARNING, logger="garde"):
        simulate(SCENARIO, arrivals, "round_robin")
    assert any("escalation tier" in r.getMessage() for r in caplog.records)  # what it hides
