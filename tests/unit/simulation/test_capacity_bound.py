"""The capacity lower bound: exact on hand-made nights, never above what a policy does."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from garde.simulation.capacity_bound import (
    Job,
    PooledCapacity,
    forced_misses,
    forced_misses_by_group,
    scenario_capacity,
)
from garde.simulation.scenario import default_night

SCENARIO = default_night()


def test_pooled_capacity_integrates_speeds_over_shifts() -> None:
    capacity = PooledCapacity([(0, 60, 1.0), (30, 90, 1.5)])
    assert capacity.at(-5) == 0
    assert capacity.at(30) == pytest.approx(30)
    assert capacity.at(60) == pytest.approx(30 + 30 * 2.5)
    assert capacity.between(60, 90) == pytest.approx(45)
    assert capacity.between(90, 200) == pytest.approx(0)


def test_the_default_roster_has_a_gap_at_two_in_the_morning() -> None:
    capacity = scenario_capacity(SCENARIO)
    # 02:00-03:00: r01 (1.2), r02 (1.0), r03 (1.1); r04 is on its break.
    assert capacity.between(480, 540) == pytest.approx(60 * 3.3)


def test_a_shift_extends_by_the_longest_read_but_not_into_the_next_shift() -> None:
    capacity = scenario_capacity(SCENARIO, overrun_min=30.0)
    # r04 reads on after 02:00 for 30 min (speed 1.0) and no one is back before 03:00.
    assert capacity.between(480, 540) == pytest.approx(60 * 3.3 + 30)
    long = scenario_capacity(SCENARIO, overrun_min=200.0)
    assert long.between(480, 540) == pytest.approx(60 * 4.3)


def test_nothing_is_forced_when_capacity_suffices() -> None:
    capacity = PooledCapacity([(0, 100, 1.0)])
    jobs = [Job(0, 30, 10, counted=True), Job(5, 35, 10, counted=True)]
    assert forced_misses(jobs, capacity).misses == 0


def test_overflow_forces_the_fewest_misses_the_largest_first() -> None:
    capacity = PooledCapacity([(0, 100, 1.0)])
    # 45 minutes of work due within 30 minutes: 15 too many; dropping the 20-minute job
    # alone covers it, so one miss is forced (not two).
    jobs = [
        Job(0, 30, 20, counted=True),
        Job(0, 30, 15, counted=True),
        Job(0, 30, 10, counted=True),
    ]
    bound = forced_misses(jobs, capacity)
    assert (bound.misses, bound.counted) == (1, 3)


def test_disjoint_windows_add_up() -> None:
    capacity = PooledCapacity([(0, 200, 1.0)])
    jobs = [Job(0, 10, 15, counted=True), Job(100, 110, 15, counted=True)]
    assert forced_misses(jobs, capacity).misses == 2


def test_protected_work_must_be_on_time_and_pushes_counted_work_out() -> None:
    capacity = PooledCapacity([(0, 100, 1.0)])
    jobs = [Job(0, 20, 15, counted=False), Job(0, 20, 10, counted=True)]
    assert forced_misses(jobs, capacity).misses == 1
    # Protected work alone beyond capacity proves nothing about counted work.
    alone = [Job(0, 10, 30, counted=False), Job(0, 10, 1, counted=True)]
    bound = forced_misses(alone, capacity)
    assert bound.misses == 0
    assert bound.infeasible_windows > 0


def _brute_force_misses(jobs: list[Job], speed: float) -> int:
    """Fewest misses on one fluid reader: drop subsets, check EDF feasibility of the rest."""
    for k in range(len(jobs) + 1):
        for dropped in itertools.combinations(range(len(jobs)), k):
            kept = [j for i, j in enumerate(jobs) if i not in dropped]
            if _edf_feasible(kept, speed):
                return k
    return len(jobs)


def _edf_feasible(jobs: list[Job], speed: float) -> bool:
    # Preemptive EDF on one fluid machine is feasible iff every window's demand fits.
    for a in jobs:
        for b in jobs:
            t1, t2 = a.release, b.due
            if t2 <= t1:
                continue
            demand = sum(j.work for j in jobs if j.release >= t1 and j.due <= t2)
            if demand > speed * (t2 - t1) + 1e-9:
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(1, 20), st.integers(1, 15)),
        min_size=1,
        max_size=6,
    )
)
def test_bound_never_exceeds_the_true_minimum(specs: list[tuple[int, int, int]]) -> None:
    jobs = [Job(r, r + d, w, counted=True) for r, d, w in specs]
    capacity = PooledCapacity([(0, 1000, 1.0)])
    assert forced_misses(jobs, capacity).misses <= _brute_force_misses(jobs, 1.0)


def test_eligibility_groups_tighten_the_bound() -> None:
    # Two readers; a's jobs fit the pooled capacity but not a's own.
    capacities = {
        frozenset({"a"}): PooledCapacity([(0, 100, 1.0)]),
        frozenset({"a", "b"}): PooledCapacity([(0, 100, 1.0), (0, 100, 1.0)]),
    }
    only_a = [Job(0, 20, 15, counted=True, readers=frozenset({"a"})) for _ in range(2)]
    assert forced_misses(only_a, capacities[frozenset({"a", "b"})]).misses == 0
    assert forced_misses_by_group(only_a, capacities.__getitem__).misses == 1
