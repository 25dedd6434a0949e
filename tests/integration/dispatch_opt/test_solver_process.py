"""The leader's re-plan solves in a child process: a CP-SAT abort costs a re-plan, not serve.

Each test starts a real child (``spawn``) and kills it for real (SIGABRT, as OR-Tools'
failed checks do).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from garde.dispatch.model import Priority, Radiologist, SlaPolicy, Study
from garde.dispatch.optimizer import ReaderCapacity, SolverSettings, replan
from garde.services.solver_process import IsolatedReplanner, SolverDiedError
from tests.integration.dispatch_opt import solver_targets

NOW = datetime(2025, 1, 15, 21, 0, tzinfo=UTC)
POLICY = SlaPolicy()
FAST = SolverSettings(time_limit_s=2.0, workers=1, seed=1)


def _problem() -> tuple[list[Study], list[ReaderCapacity], dict[str, list[str]]]:
    """A stroke queued behind a long read while a neuro reader is free: one move is better."""

    def reader(rid: str, skills: set[str], free_in: float) -> ReaderCapacity:
        return ReaderCapacity(
            radiologist=Radiologist(rid, rid, frozenset(skills), frozenset({"h1"})),
            free_at=NOW + timedelta(minutes=free_in),
            shift_end=NOW + timedelta(minutes=600),
        )

    def study(uid: str, priority: Priority, minutes: float, due_in: float, skill: str) -> Study:
        return Study(
            uid=uid,
            site_id="h1",
            priority=priority,
            skills=frozenset({skill}),
            reading_minutes=minutes,
            arrived_at=NOW - timedelta(minutes=5),
            deadline=NOW + timedelta(minutes=due_in),
        )

    studies = [
        study("poly", Priority.URGENT, 40, 200, "body"),
        study("stroke", Priority.STROKE, 6, 8, "neuro"),
    ]
    readers = [reader("a", {"neuro", "body"}, 20), reader("b", {"neuro"}, 1)]
    return studies, readers, {"a": ["poly", "stroke"], "b": []}


def _solve(replanner: IsolatedReplanner, settings: SolverSettings = FAST):
    studies, readers, shown = _problem()
    return replanner(studies, readers, shown, NOW, POLICY, settings=settings)


def test_the_child_gives_the_in_process_answer() -> None:
    replanner = IsolatedReplanner()
    try:
        isolated = _solve(replanner)
        again = _solve(replanner)  # the same child serves the next re-plan
    finally:
        replanner.close()
    studies, readers, shown = _problem()
    direct = replan(studies, readers, shown, NOW, POLICY, settings=FAST)
    assert isolated.plan == direct.plan == again.plan
    assert isolated.plan["b"] == ("stroke",)
    assert isolated.objective == direct.objective


def test_an_abort_in_presolve_is_retried_without_it(caplog: pytest.LogCaptureFixture) -> None:
    replanner = IsolatedReplanner(solver_targets.aborts_with_presolve)
    with caplog.at_level(logging.ERROR, logger="garde.services.solver_process"):
        try:
            result = _solve(replanner)
        finally:
            replanner.close()
    assert result.plan["b"] == ("stroke",)  # the retry's real solve
    assert "the CP-SAT process died (ended by SIGABRT)" in caplog.text


def test_a_solver_that_always_dies_skips_the_replan_and_the_next_one_runs() -> None:
    replanner = IsolatedReplanner(solver_targets.always_aborts)
    try:
        with pytest.raises(
            SolverDiedError, match=r"died again without presolve \(ended by SIGABRT\)"
        ):
            _solve(replanner)
        replanner._target = replan
        assert _solve(replanner).plan["b"] == ("stroke",)
    finally:
        replanner.close()


def test_a_silent_child_is_killed_after_its_grace() -> None:
    replanner = IsolatedReplanner(solver_targets.never_answers, grace_s=0.5)
    quick = SolverSettings(time_limit_s=0.5, workers=1)
    try:
        with pytest.raises(SolverDiedError, match="no answer 1 s after asking"):
            _solve(replanner, quick)
        child = replanner._child
        assert child is None
    finally:
        replanner.close()


def test_a_python_error_in_the_child_is_raised_with_its_text() -> None:
    replanner = IsolatedReplanner(solver_targets.raises)
    try:
        with pytest.raises(RuntimeError, match="ValueError: no reader on shift"):
            _solve(replanner)
    finally:
        replanner.close()
