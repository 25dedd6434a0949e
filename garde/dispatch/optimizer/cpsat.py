"""CP-SAT re-planning of every unstarted study over every on-shift radiologist.

The model: each study goes to exactly one eligible reader, and each reader reads their
studies in the board's queue order (priority, then deadline), because the board re-sorts
every queue it is given: a plan that counted on another order would be scored on a
sequence nobody runs (an earlier model did, and its applied plans were sometimes worse
than the input). It minimises the plan cost of `plan.py` (weighted lateness, shift
overrun, workload imbalance, moves away from the reader a study is shown to). It is
warm-started with the current plan (completed greedily) as a full hint, and its answer
is re-scored with the same exact cost function: a result is returned only if it is
strictly better than the input.

Traps measured on this machine: presolve probing can eat a short time limit so that even
a complete hint returns nothing (``cp_model_probing_level = 0`` fixes it), and two
workers prove far less than eight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.optimizer.plan import (
    CostWeights,
    Instance,
    ReaderCapacity,
    Sequences,
    build_instance,
    evaluate,
    greedy_sequences,
    in_board_order,
    plan_from_sequences,
    sequences_from_plan,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from ortools.sat.python import cp_model

    from garde.dispatch.explanation import PlanCost
    from garde.dispatch.model import SlaPolicy, Study


@dataclass(frozen=True, slots=True)
class Move:
    """One study planned to a different reader (or placed for the first time).

    ``position`` is its 0-based place in the new reader's queue (queue order).
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
    # Off only for the retry after a native abort in presolve (services.solver_process).
    presolve: bool = True

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


@dataclass(frozen=True, slots=True)
class ReplanResult:
    """What a re-plan decided.

    ``plan`` is the full plan to apply, each queue in queue order (the input plan,
    completed, when nothing better was found); ``moves`` the studies whose reader
    changed against the input plan: applying them and letting the board sort its queues
    gives ``plan``. ``objective`` <= ``input_objective`` always, both scored in queue
    order. ``optimal`` is True when the solver
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


class _Model:
    """The CP-SAT model of one instance: which reader reads each study.

    The order within a reader is not a decision: the board runs each queue in queue
    order, so the model chains each reader's eligible studies in that order. ``end[s, r]``
    is when reader ``r`` would be done with everything up to ``s`` in that order that
    is assigned to them: ``end[s, r] = end[previous, r] + duration * assign[s, r]``,
    which is ``s``'s finish when ``assign[s, r]``. The objective is then exactly
    `plan.evaluate` of the plan as the board runs it.
    """

    def __init__(self, instance: Instance) -> None:
        from ortools.sat.python import cp_model  # noqa: PLC0415 - see `_solve`

        self.instance = instance
        self.model = cp_model.CpModel()
        self.assign: dict[tuple[int, int], cp_model.IntVar] = {}
        self.end: dict[tuple[int, int], cp_model.IntVar] = {}
        self.late: dict[int, cp_model.IntVar] = {}
        self.over: dict[int, cp_model.IntVar] = {}
        self.loads: list[cp_model.IntVar] = []
        self.spread: tuple[cp_model.IntVar, cp_model.IntVar] | None = None
        self.eligible = {s: instance.eligible(s) for s in instance.order}
        # The latest each link of each chain can end (every eligible study taken).
        self.top: dict[tuple[int, int], int] = {}
        reach = list(instance.free_at)
        for s in instance.order:
            for r in self.eligible[s]:
                reach[r] += instance.duration[s, r]
                self.top[s, r] = reach[r]
        terms = self._lateness()
        ends = self._chains(terms)
        self._balance(ends, reach, terms)
        self.model.minimize(sum(terms))

    def _lateness(self) -> list[cp_model.LinearExprT]:
        """Per study, its lateness and shift overrun (only where they can be positive)."""
        instance, m, top = self.instance, self.model, self.top
        terms: list[cp_model.LinearExprT] = []
        for s in instance.order:
            late_top = max(top[s, r] for r in self.eligible[s]) - instance.deadline[s]
            if late_top > 0:
                self.late[s] = m.new_int_var(0, late_top, f"late(s={s})")
                terms.append(instance.weight[s] * self.late[s])
            over_top = max(top[s, r] - instance.shift_end[r] for r in self.eligible[s])
            if over_top > 0:
                self.over[s] = m.new_int_var(0, over_top, f"overrun(s={s})")
                terms.append(instance.weights.overrun_weight * self.over[s])
        return terms

    def _chains(self, terms: list[cp_model.LinearExprT]) -> list[cp_model.IntVar | int]:
        """Each reader's chain in queue order; returns where each chain ends."""
        instance, m, top = self.instance, self.model, self.top
        previous: list[cp_model.IntVar | int] = list(instance.free_at)
        for s in instance.order:
            literals = []
            for r in self.eligible[s]:
                x = m.new_bool_var(f"assign(s={s}, r={r})")
                end = m.new_int_var(instance.free_at[r], top[s, r], f"end(s={s}, r={r})")
                m.add(end == previous[r] + instance.duration[s, r] * x)
                previous[r] = end
                if s in self.late and top[s, r] > instance.deadline[s]:
                    m.add(self.late[s] >= end - instance.deadline[s]).only_enforce_if(x)
                if s in self.over and top[s, r] > instance.shift_end[r]:
                    m.add(self.over[s] >= end - instance.shift_end[r]).only_enforce_if(x)
                if instance.shown_to[s] is not None and instance.shown_to[s] != r:
                    terms.append(instance.weights.move_penalty * x)
                self.assign[s, r] = x
                self.end[s, r] = end
                literals.append(x)
            m.add_exactly_one(literals)
        return previous

    def _balance(
        self, ends: list[cp_model.IntVar | int], reach: list[int], terms: list[cp_model.LinearExprT]
    ) -> None:
        """The imbalance term: max - min of the readers' loads."""
        instance, m = self.instance, self.model
        n_readers = len(instance.readers)
        if n_readers < 2 or not instance.weights.imbalance_weight:
            return
        # A reader's load: read before, plus their chain's end less when they are free.
        shift = [instance.base_load[r] - instance.free_at[r] for r in range(n_readers)]
        for r in range(n_readers):
            load = m.new_int_var(instance.base_load[r], shift[r] + reach[r], f"load(r={r})")
            m.add(load == shift[r] + ends[r])
            self.loads.append(load)
        bottom = min(instance.base_load)
        ceiling = max(shift[r] + reach[r] for r in range(n_readers))
        high = m.new_int_var(bottom, ceiling, "load_max")
        low = m.new_int_var(bottom, ceiling, "load_min")
        m.add_max_equality(high, self.loads)
        m.add_min_equality(low, self.loads)
        self.spread = (high, low)
        terms.append(instance.weights.imbalance_weight * (high - low))

    def hint(self, sequences: Sequences) -> None:
        """A complete hint: every variable's value in the plan ``sequences``."""
        instance = self.instance
        owner = {s: r for r, seq in enumerate(sequences) for s in seq}
        t = list(instance.free_at)
        for s in instance.order:
            for r in self.eligible[s]:
                picked = owner[s] == r
                if picked:
                    t[r] += instance.duration[s, r]
                self.model.add_hint(self.assign[s, r], picked)
                self.model.add_hint(self.end[s, r], t[r])
            finish = t[owner[s]]
            if s in self.late:
                self.model.add_hint(self.late[s], max(0, finish - instance.deadline[s]))
            if s in self.over:
                over = max(0, finish - instance.shift_end[owner[s]])
                self.model.add_hint(self.over[s], over)
        loads = [instance.base_load[r] + t[r] - instance.free_at[r] for r in range(len(t))]
        for r, load in enumerate(self.loads):
            self.model.add_hint(load, loads[r])
        if self.spread is not None:
            self.model.add_hint(self.spread[0], max(loads))
            self.model.add_hint(self.spread[1], min(loads))

    def sequences(self, solver: cp_model.CpSolver) -> Sequences:
        """Reader sequences (in queue order) of the solver's assignment."""
        found: Sequences = [[] for _ in self.instance.readers]
        for s in self.instance.order:
            for r in self.eligible[s]:
                if solver.boolean_value(self.assign[s, r]):
                    found[r].append(s)
        return found


def _moves(instance: Instance, after: Sequences) -> tuple[Move, ...]:
    """Every study whose planned reader differs from the one it is shown to now."""
    moves = []
    for r, seq in enumerate(in_board_order(instance, after)):
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
    pinned: Mapping[str, str] | None = None,
    barred: Mapping[str, str] | None = None,
) -> ReplanResult:
    """Re-plan every unstarted study over the on-shift radiologists with CP-SAT.

    Plans are assignments; each reader's studies are scored in queue order, as the
    board will run them once the moves are applied.

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
    pinned
        Study UID -> radiologist id: studies that stay where they are (not the
        re-planner's to move, e.g. the fallback pool's) but whose reading time counts.
    barred
        Study UID -> the radiologist who released it: never moved back to them.

    Returns
    -------
    ReplanResult
        The better plan and its moves, or the input plan with no moves; never worse.
    """
    settings = settings or SolverSettings()
    weights = weights or CostWeights()
    instance = build_instance(
        studies,
        radiologists,
        current_plan,
        now,
        policy,
        weights=weights,
        pinned=pinned,
        barred=barred,
    )
    base = greedy_sequences(instance, sequences_from_plan(instance, current_plan))
    input_cost = evaluate(instance, base)
    best, best_cost, status, optimal, wall = base, input_cost, "NOT_RUN", False, 0.0
    if instance.studies and input_cost.total > 0:
        # OR-Tools (and the pandas it pulls in) costs about half a second to import:
        # imported here, the CLI commands that only read queues (`next`, `status`) skip it.
        from ortools.sat.python import cp_model  # noqa: PLC0415

        model = _Model(instance)
        model.hint(base)
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.max_time_in_seconds = settings.time_limit_s
        params.num_workers = settings.workers
        params.random_seed = settings.seed
        params.cp_model_probing_level = settings.probing_level
        params.cp_model_presolve = settings.presolve
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
