"""CP-SAT re-planning of every unstarted study over every on-shift radiologist.

The model: each study goes to exactly one eligible reader (an optional interval per
eligible pair, no overlap per reader, starting once the reader is free); it minimises
the plan cost of `plan.py` (weighted lateness, shift overrun, workload imbalance, moves
away from the reader a study is shown to). It is warm-started with the current plan
(completed greedily) as a full hint, and its answer is re-scored with the same exact
cost function: a result is returned only if it is strictly better than the input.

Traps measured on this machine: presolve probing can eat a short time limit so that even
a complete hint returns nothing (``cp_model_probing_level = 0`` fixes it), and two
workers prove far less than eight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from garde.dispatch.optimizer.plan import (
    CostWeights,
    Instance,
    PlanCost,
    ReaderCapacity,
    Sequences,
    build_instance,
    evaluate,
    greedy_sequences,
    plan_from_sequences,
    sequences_from_plan,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from garde.dispatch.model import SlaPolicy, Study


@dataclass(frozen=True, slots=True)
class Move:
    """One study planned to a different reader (or placed for the first time).

    ``position`` is its 0-based place in the new reader's planned order.
    """

    study_uid: str
    from_radiologist: str | None
    to_radiologist: str
    position: int


@dataclass(frozen=True, slots=True)
class SolverSettings:
    """CP-SAT search parameters (from config: scheduler.replan_time_limit_s and friends)."""

    time_limit_s: float = 2.0
    workers: int = 8
    seed: int = 0
    probing_level: int = 0  # presolve probing eats short time limits (measured)

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


@dataclass(frozen=True, slots=True)
class ReplanResult:
    """What a re-plan decided.

    ``plan`` is the full plan to apply (the input plan, completed, when nothing better
    was found); ``moves`` the studies whose reader changed against the input plan;
    ``objective`` <= ``input_objective`` always. ``optimal`` is True when the solver
    proved no plan is better. ``unplaceable`` lists studies no on-shift reader may read
    (for the fallback pool).
    """

    plan: dict[str, tuple[str, ...]]
    moves: tuple[Move, ...]
    objective: int
    input_objective: int
    optimal: bool
    status: str
    wall_s: float  # the solver's own wall time (the core reads no clock)
    cost: PlanCost
    unplaceable: tuple[str, ...] = ()

    @property
    def improved(self) -> bool:
        """True if the re-plan beats the input plan."""
        return self.objective < self.input_objective


def _horizon(instance: Instance) -> int:
    longest = sum(
        max(instance.duration[s, r] for r in instance.eligible(s))
        for s in range(len(instance.studies))
    )
    return max(instance.free_at) + longest + 1


class _Model:
    """The CP-SAT model of one instance."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        m = self.model = cp_model.CpModel()
        w = instance.weights
        horizon = _horizon(instance)
        n_readers = len(instance.readers)
        self.assign: dict[tuple[int, int], cp_model.IntVar] = {}
        self.start: dict[tuple[int, int], cp_model.IntVar] = {}
        intervals: list[list[cp_model.IntervalVar]] = [[] for _ in range(n_readers)]
        terms: list[cp_model.LinearExprT] = []
        load_terms: list[list[cp_model.LinearExprT]] = [[] for _ in range(n_readers)]
        for s in range(len(instance.studies)):
            late = m.new_int_var(0, horizon, f"late(s={s})")
            literals = []
            over: cp_model.IntVar | None = None
            for r in instance.eligible(s):
                d = instance.duration[s, r]
                x = m.new_bool_var(f"assign(s={s}, r={r})")
                start = m.new_int_var(instance.free_at[r], horizon, f"start(s={s}, r={r})")
                intervals[r].append(
                    m.new_optional_fixed_size_interval_var(start, d, x, f"read(s={s}, r={r})")
                )
                m.add(late >= start + d - instance.deadline[s]).only_enforce_if(x)
                if instance.shift_end[r] < horizon:
                    if over is None:
                        over = m.new_int_var(0, horizon, f"overrun(s={s})")
                        terms.append(w.overrun_weight * over)
                    m.add(over >= start + d - instance.shift_end[r]).only_enforce_if(x)
                if instance.shown_to[s] is not None and instance.shown_to[s] != r:
                    terms.append(w.move_penalty * x)
                load_terms[r].append(d * x)
                self.assign[s, r] = x
                self.start[s, r] = start
                literals.append(x)
            m.add_exactly_one(literals)
            terms.append(instance.weight[s] * late)
        for r in range(n_readers):
            m.add_no_overlap(intervals[r])
        if n_readers > 1 and w.imbalance_weight:
            top = sum(instance.base_load) + horizon * len(instance.studies)
            loads = []
            for r in range(n_readers):
                load = m.new_int_var(0, top, f"load(r={r})")
                m.add(load == instance.base_load[r] + sum(load_terms[r]))
                loads.append(load)
            high = m.new_int_var(0, top, "load_max")
            low = m.new_int_var(0, top, "load_min")
            m.add_max_equality(high, loads)
            m.add_min_equality(low, loads)
            terms.append(w.imbalance_weight * (high - low))
        m.minimize(sum(terms))

    def hint(self, sequences: Sequences) -> None:
        """A complete hint: the packed schedule of ``sequences``."""
        instance = self.instance
        chosen: dict[int, tuple[int, int]] = {}
        for r, seq in enumerate(sequences):
            t = instance.free_at[r]
            for s in seq:
                chosen[s] = (r, t)
                t += instance.duration[s, r]
        for (s, r), x in self.assign.items():
            picked = chosen[s][0] == r
            self.model.add_hint(x, picked)
            self.model.add_hint(self.start[s, r], chosen[s][1] if picked else instance.free_at[r])

    def sequences(self, solver: cp_model.CpSolver) -> Sequences:
        """Reader sequences ordered by the solver's start times."""
        found: list[list[tuple[int, int]]] = [[] for _ in self.instance.readers]
        for (s, r), x in self.assign.items():
            if solver.boolean_value(x):
                found[r].append((solver.value(self.start[s, r]), s))
        return [[s for _, s in sorted(pairs)] for pairs in found]


def _moves(instance: Instance, after: Sequences) -> tuple[Move, ...]:
    """Every study whose planned reader differs from the one it is shown to now."""
    moves = []
    for r, seq in enumerate(after):
        for position, s in enumerate(seq):
            shown = instance.shown_to[s]
            if shown == r:
                continue
            moves.append(
                Move(
                    study_uid=instance.studies[s].uid,
                    from_radiologist=None if shown is None else instance.readers[shown].id,
                    to_radiologist=instance.readers[r].id,
                    position=position,
                )
            )
    return tuple(moves)


def replan(
    studies: Sequence[Study],
    radiologists: Sequence[ReaderCapacity],
    current_plan: Mapping[str, Sequence[str]],
    now: datetime,
    policy: SlaPolicy,
    *,
    settings: SolverSettings | None = None,
    weights: CostWeights | None = None,
) -> ReplanResult:
    """Re-plan every unstarted study over the on-shift radiologists with CP-SAT.

    Parameters
    ----------
    studies
        Every study not yet started (assigned tentatively or not).
    radiologists
        The on-shift readers with when they are free and their shift end.
    current_plan
        Radiologist id -> ordered study UIDs as shown now; studies missing from it are
        placed greedily to form the input plan.
    now
        The instant of the re-plan (timezone-aware).
    policy
        SLA weights per priority.
    settings
        Time limit, workers, seed.
    weights
        Cost weights (move penalty, imbalance...).

    Returns
    -------
    ReplanResult
        The better plan and its moves, or the input plan with no moves; never worse.
    """
    settings = settings or SolverSettings()
    weights = weights or CostWeights()
    instance = build_instance(studies, radiologists, current_plan, now, policy, weights=weights)
    base = greedy_sequences(instance, sequences_from_plan(instance, current_plan))
    input_cost = evaluate(instance, base)
    best, best_cost, status, optimal, wall = base, input_cost, "NOT_RUN", False, 0.0
    if instance.studies and input_cost.total > 0:
        model = _Model(instance)
        model.hint(base)
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.max_time_in_seconds = settings.time_limit_s
        params.num_workers = settings.workers
        params.random_seed = settings.seed
        params.cp_model_probing_level = settings.probing_level
        code = solver.solve(model.model)
        status = solver.status_name(code)
        wall = solver.wall_time
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = model.sequences(solver)
            cost = evaluate(instance, found)
            if cost.total < input_cost.total:
                best, best_cost = found, cost
            optimal = code == cp_model.OPTIMAL
    elif instance.studies:
        status, optimal = "ZERO_COST", True
    elif not instance.studies:
        status, optimal = "EMPTY", True
    return ReplanResult(
        plan=plan_from_sequences(instance, best),
        moves=_moves(instance, best),
        objective=best_cost.total,
        input_objective=input_cost.total,
        optimal=optimal,
        status=status,
        wall_s=wall,
        cost=best_cost,
        unplaceable=instance.unplaceable,
    )


def greedy_plan(
    studies: Sequence[Study],
    radiologists: Sequence[ReaderCapacity],
    now: datetime,
    policy: SlaPolicy,
    *,
    weights: CostWeights | None = None,
) -> tuple[dict[str, tuple[str, ...]], int]:
    """The fast router's greedy plan from scratch and its exact cost (the baseline)."""
    instance = build_instance(
        studies, radiologists, {}, now, policy, weights=weights or CostWeights()
    )
    sequences = greedy_sequences(instance)
    return plan_from_sequences(instance, sequences), evaluate(instance, sequences).total
