"""Roster generation with OR-Tools CP-SAT: `generate(request) -> RosterSolution`."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from garde.dispatch.model import Shift
from garde.rosters.generation.constraints import (
    Assignments,
    Guards,
    Penalties,
    add_assignments,
    add_fairness,
    add_hours_fairness,
    add_isolated_nights,
    add_night_limits,
    add_partial_staffing,
    add_rest,
    add_staffing_and_cover,
    add_weekly_hours,
    add_wished_nights,
    fair_hours,
    fair_shares,
    weighted_hours,
)
from garde.rosters.generation.explain import core_explanation, direct_check
from garde.rosters.generation.request import (
    GenerationRequest,
    PenaltyHit,
    Progress,
    RadiologistLoad,
    RosterSolution,
    SolverSettings,
)
from garde.rosters.generation.slots import NIGHT, STROKE, Slot, blocked_by_leave, build_slots

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid",
    cp_model.UNKNOWN: "unknown",
}


class _ProgressCallback(cp_model.CpSolverSolutionCallback):
    """Forwards each improving solution to the request's progress callable (if any) and
    remembers when the last one came, for the patience watch."""

    def __init__(self, report: Callable[[Progress], None] | None) -> None:
        super().__init__()
        self._report = report
        self._count = 0
        self.last_improvement = time.monotonic()

    @property
    def solutions(self) -> int:
        """How many improving solutions were found so far."""
        return self._count

    def on_solution_callback(self) -> None:
        self._count += 1
        self.last_improvement = time.monotonic()
        if self._report is not None:
            self._report(
                Progress(
                    solutions=self._count,
                    objective=self.objective_value,
                    bound=self.best_objective_bound,
                    seconds=self.wall_time,
                )
            )


def _solve(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    settings: SolverSettings,
    report: Callable[[Progress], None] | None = None,
) -> cp_model.CpSolverStatus:
    """Solve with the settings' limits; stop early once no better roster has come for
    ``patience_s`` seconds (the balance of hours is rarely proved optimal in time, and
    a planner should not wait the whole limit for nothing better)."""
    solver.parameters.max_time_in_seconds = settings.time_limit_s
    solver.parameters.num_workers = settings.workers
    solver.parameters.random_seed = settings.seed
    solver.parameters.relative_gap_limit = settings.relative_gap
    callback = _ProgressCallback(report)
    done = threading.Event()

    def watch() -> None:
        patience = settings.patience_s
        while patience is not None and not done.wait(0.1):
            quiet = time.monotonic() - callback.last_improvement
            if callback.solutions and quiet >= patience:
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="roster-patience", daemon=True)
    watcher.start()
    try:
        return solver.solve(model, callback)
    finally:
        done.set()
        watcher.join()


def generate(request: GenerationRequest) -> RosterSolution:
    """Staff every night and weekend/holiday day of the request, and stroke cover on
    weekday daytime, as fairly as possible.

    Hard rules: exact staff per slot, every site covered by a credentialed radiologist
    on nights and weekend/holiday days and stroke covered on every slot, leave, repos de
    sécurité, consecutive nights, weekly hours, personal caps on nights. Soft goals
    (`SoftWeights`): fair split of nights, weekend, holiday and stroke-day shifts (by
    part-time fraction and availability), of the hours (nights and weekends weighted),
    wished nights, no isolated nights.

    When the rules cannot all hold, the answer is still a roster: the best partial one,
    every other rule kept, with its unfilled seats and uncovered sites listed in
    ``unfilled`` beside the explanation of why.

    Parameters
    ----------
    request
        Radiologists, sites, days, availability, rules, weights and solver limits
        (time limit, workers, seed); ``request.progress`` is called on each improving
        solution (from the solver's thread).

    Returns
    -------
    RosterSolution
        The shifts (role ``night``, ``day`` or ``stroke``, all credentialed sites), objective, bound
        and gap; when infeasible, an explanation naming the sites, slots and rules.
    """
    started = time.monotonic()
    slots = build_slots(request)
    blocked = blocked_by_leave(request, slots)
    problems = direct_check(request, slots, blocked)
    if problems:
        logger.info("roster request infeasible before solving: %d problem(s)", len(problems))
        return _partial(request, slots, blocked, started, tuple(problems))

    model = cp_model.CpModel()
    assign = _build(model, request, slots, blocked, guards=None)
    variables, coefficients = _soft_goals(model, assign, request, slots)
    model.minimize(sum(c * v for v, c in zip(variables, coefficients, strict=True)))

    solver = cp_model.CpSolver()
    params = request.solver
    status = _solve(solver, model, params, request.progress)
    name = _STATUS.get(status, "unknown")
    logger.info(
        "roster generation %s in %.1fs: objective %s bound %s",
        name,
        solver.wall_time,
        solver.objective_value if name in {"optimal", "feasible"} else "-",
        solver.best_objective_bound,
    )
    if name == "infeasible":
        return _partial(request, slots, blocked, started, tuple(_explain(request, slots, blocked)))
    if name not in {"optimal", "feasible"}:
        return _failed(
            name,
            started,
            (
                (
                    f"no roster found within {params.time_limit_s:g} s "
                    "(neither found nor proved impossible): allow more time"
                ),
            ),
        )
    return _solution(
        name,
        solver=solver,
        assign=assign,
        request=request,
        slots=slots,
        penalties=(variables, coefficients),
        started=started,
    )


def _build(
    model: cp_model.CpModel,
    request: GenerationRequest,
    slots: list[Slot],
    blocked: dict[str, set[int]],
    guards: Guards | None,
) -> Assignments:
    assign = add_assignments(model, request, slots, blocked)
    add_staffing_and_cover(model, assign, request, slots, guards)
    add_rest(model, assign, request, slots, guards)
    add_night_limits(model, assign, request, slots, guards)
    add_weekly_hours(model, assign, request, slots, guards)
    return assign


def _soft_goals(
    model: cp_model.CpModel, assign: Assignments, request: GenerationRequest, slots: list[Slot]
) -> Penalties:
    soft = request.soft
    variables: list[cp_model.IntVar] = []
    coefficients: list[int] = []
    categories = (
        ("nights", [s for s in slots if s.kind == NIGHT], soft.night_fairness),
        ("weekends", [s for s in slots if s.weekend], soft.weekend_fairness),
        ("holidays", [s for s in slots if s.holiday], soft.holiday_fairness),
        ("stroke_days", [s for s in slots if s.kind == STROKE], soft.stroke_day_fairness),
    )
    for name, category, weight in categories:
        v, c = add_fairness(model, assign, request, category, name=name, weight=weight)
        variables += v
        coefficients += c
    for helper in (add_wished_nights, add_isolated_nights, add_hours_fairness):
        v, c = helper(model, assign, request, slots)
        variables += v
        coefficients += c
    return variables, coefficients


def _explain(
    request: GenerationRequest, slots: list[Slot], blocked: dict[str, set[int]]
) -> list[str]:
    model = cp_model.CpModel()
    guards = Guards(model)
    _build(model, request, slots, blocked, guards)
    limit = max(1.0, min(10.0, request.solver.time_limit_s))
    sentences = core_explanation(model, guards, time_limit_s=limit, seed=request.solver.seed)
    if not sentences:
        return ["the rules cannot all hold together, but no smaller reason was found in time"]
    return ["these requirements cannot all hold together:", *sentences]


def _partial(
    request: GenerationRequest,
    slots: list[Slot],
    blocked: dict[str, set[int]],
    started: float,
    explanation: tuple[str, ...],
) -> RosterSolution:
    """The best roster under every rule but staffing and cover, which become costly
    goals: what can be filled is, and the rest is listed."""
    model = cp_model.CpModel()
    assign = add_assignments(model, request, slots, blocked)
    missing, missing_costs = add_partial_staffing(model, assign, request, slots)
    add_rest(model, assign, request, slots)
    add_night_limits(model, assign, request, slots)
    add_weekly_hours(model, assign, request, slots)
    variables, coefficients = _soft_goals(model, assign, request, slots)
    terms = zip([*missing, *variables], [*missing_costs, *coefficients], strict=True)
    model.minimize(sum(c * v for v, c in terms))
    solver = cp_model.CpSolver()
    status = _STATUS.get(_solve(solver, model, request.solver), "unknown")
    if status not in {"optimal", "feasible"}:  # pragma: no cover - always feasible (empty)
        return _failed("infeasible", started, explanation)
    solution = _solution(
        "infeasible",
        solver=solver,
        assign=assign,
        request=request,
        slots=slots,
        penalties=(variables, coefficients),
        started=started,
    )
    unfilled = tuple(
        _unfilled_line(v.name, value) for v in missing if (value := solver.value(v)) > 0
    )
    logger.info("partial roster: %d shifts, %d unfilled", len(solution.shifts), len(unfilled))
    return replace(solution, unfilled=unfilled, explanation=explanation)


_UNFILLED = re.compile(r"^unfilled\(slot=(?P<slot>.*)\)$")
_UNCOVERED = re.compile(r"^uncovered\(site=(?P<site>.*), slot=(?P<slot>[^,]*)\)$")


def _unfilled_line(name: str, value: int) -> str:
    """``unfilled(slot=night of Sat 2025-11-01)`` -> a sentence for the planner."""
    if match := _UNFILLED.match(name):
        return f"{match['slot']}: {value} radiologist(s) missing"
    if match := _UNCOVERED.match(name):
        return f"{match['slot']}: {match['site']} not covered"
    return name  # pragma: no cover - every partial-staffing literal is named above


def _failed(status: str, started: float, explanation: tuple[str, ...]) -> RosterSolution:
    return RosterSolution(
        status=status,
        shifts=(),
        objective=float("nan"),
        bound=float("nan"),
        gap_pct=float("nan"),
        seconds=time.monotonic() - started,
        explanation=explanation,
    )


def _solution(
    status: str,
    *,
    solver: cp_model.CpSolver,
    assign: Assignments,
    request: GenerationRequest,
    slots: list[Slot],
    penalties: Penalties,
    started: float,
) -> RosterSolution:
    shifts = tuple(
        Shift(radiologist_id=rid, start=slots[i].start, end=slots[i].end, role=slots[i].kind)
        for (rid, i), x in sorted(assign.x.items(), key=lambda item: (item[0][1], item[0][0]))
        if solver.boolean_value(x)
    )
    hits = tuple(
        PenaltyHit(v.name, c * value)
        for v, c in zip(*penalties, strict=True)
        if (value := solver.value(v)) > 0
    )
    objective = float(solver.objective_value)
    bound = float(solver.best_objective_bound)
    gap = 100.0 * (objective - bound) / max(1.0, abs(objective))
    return RosterSolution(
        status=status,
        shifts=shifts,
        objective=objective,
        bound=bound,
        gap_pct=max(0.0, gap),
        seconds=time.monotonic() - started,
        penalties=hits,
        loads=_loads(request, assign, slots, shifts),
    )


def _loads(
    request: GenerationRequest, assign: Assignments, slots: list[Slot], shifts: tuple[Shift, ...]
) -> tuple[RadiologistLoad, ...]:
    fair = fair_shares(request, assign, [s for s in slots if s.kind == NIGHT])
    fair_h = fair_hours(request, assign, slots)
    by_start = {(s.start, s.kind): s for s in slots}
    loads = []
    for r in request.radiologists:
        own = [by_start[s.start, s.role] for s in shifts if s.radiologist_id == r.id]
        loads.append(
            RadiologistLoad(
                radiologist_id=r.id,
                nights=sum(1 for s in own if s.kind == NIGHT),
                weekend_shifts=sum(1 for s in own if s.weekend),
                holiday_shifts=sum(1 for s in own if s.holiday),
                hours=sum(s.hours for s in own),
                fair_nights=fair.get(r.id, 0.0),
                stroke_days=sum(1 for s in own if s.kind == STROKE),
                weighted_hours=float(sum(weighted_hours(s, request) for s in own)),
                fair_weighted_hours=fair_h.get(r.id, 0.0),
            )
        )
    return tuple(loads)
