"""Why a generation request has no solution: named sites and nights, and the reasons.

Two stages. A direct check names every slot that cannot be staffed or covered with
the people available that day (who is credentialed, and why each one cannot come).
If that finds nothing, the model is solved again with every hard constraint group
guarded by a named assumption, and CP-SAT's infeasible subset of assumptions is
translated into sentences ("h05 must be covered on the night of ...", "r03 may work at
most 3 nights in a row"): requirements that cannot all hold together.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from garde.rosters._localtime import zone
from garde.rosters.generation.slots import NIGHT, STROKE, can_read_stroke, staff_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dispatch.model import Radiologist
    from garde.rosters.generation.constraints import Guards
    from garde.rosters.generation.request import GenerationRequest
    from garde.rosters.generation.slots import Slot

MAX_LINES = 25


def direct_check(
    request: GenerationRequest, slots: list[Slot], blocked: dict[str, set[int]]
) -> list[str]:
    """Slots that cannot be staffed or covered by whoever is available on them."""
    tz = zone(request.timezone)
    problems: list[str] = []
    for slot in slots:
        when = (
            f"the {slot.label} ({slot.start.astimezone(tz):%H:%M}-{slot.end.astimezone(tz):%H:%M})"
        )
        present = [r for r in request.radiologists if _can_take(request, r, slot, blocked)]
        staff = staff_of(slot, request.hard)
        if slot.kind == STROKE:
            problems.extend(_stroke_slot(request, slot, blocked, present, when))
            continue
        if len(present) < staff:
            problems.append(
                f"{when} needs {staff} radiologists but only {len(present)} can take it"
                f"{_absentees(request, slot, blocked, lambda _r: True)}"
            )
        for site in request.sites:
            if not any(site.id in r.sites for r in present):
                credentialed = _credentialed_for(site.id)
                problems.append(
                    f"{site.id} ({site.name}) cannot be covered on {when}: "
                    + _why(request, slot, blocked, credentialed)
                )
        if not any(can_read_stroke(r, request) for r in present):
            problems.append(
                f"stroke cannot be covered on {when}: "
                + _why(request, slot, blocked, lambda r: can_read_stroke(r, request))
            )
    return problems


def _stroke_slot(
    request: GenerationRequest,
    slot: Slot,
    blocked: dict[str, set[int]],
    present: list[Radiologist],
    when: str,
) -> list[str]:
    """A weekday's stroke slot: enough stroke readers available, or why not."""
    staff = staff_of(slot, request.hard)
    readers = [r for r in present if can_read_stroke(r, request)]
    if len(readers) >= staff:
        return []
    if not readers:
        why = _why(request, slot, blocked, lambda r: can_read_stroke(r, request))
        return [f"stroke cannot be covered on {when}: {why}"]
    absent = _absentees(request, slot, blocked, lambda r: can_read_stroke(r, request))
    short = f"{staff} stroke readers are needed but only {len(readers)} can take it"
    return [f"stroke cannot be covered on {when}: {short}{absent}"]


def _credentialed_for(site_id: str) -> Callable[[Radiologist], bool]:
    def credentialed(radiologist: Radiologist) -> bool:
        return site_id in radiologist.sites

    return credentialed


def _can_take(
    request: GenerationRequest, radiologist: Radiologist, slot: Slot, blocked: dict[str, set[int]]
) -> bool:
    if slot.index in blocked[radiologist.id]:
        return False
    return not (slot.kind == NIGHT and request.availability_of(radiologist.id).max_nights == 0)


def _why(
    request: GenerationRequest,
    slot: Slot,
    blocked: dict[str, set[int]],
    qualifies: Callable[[Radiologist], bool],
) -> str:
    qualified = [r for r in request.radiologists if qualifies(r)]
    if not qualified:
        return "nobody in the roster is credentialed (or skilled) for it"
    return "every one who could is unavailable" + _absentees(request, slot, blocked, qualifies)


def _absentees(
    request: GenerationRequest,
    slot: Slot,
    blocked: dict[str, set[int]],
    qualifies: Callable[[Radiologist], bool],
) -> str:
    reasons = [
        f"{r.id} {'is on leave' if slot.index in blocked[r.id] else 'takes no nights'}"
        for r in request.radiologists
        if qualifies(r) and not _can_take(request, r, slot, blocked)
    ]
    return f" ({', '.join(reasons)})" if reasons else ""


def core_explanation(
    model: cp_model.CpModel, guards: Guards, *, time_limit_s: float, seed: int
) -> list[str] | None:
    """Sentences of a small infeasible subset of the guarded requirements.

    The first core CP-SAT reports is shrunk by deletion (drop one requirement, keep it
    out if the rest is still infeasible) within the time budget, so the explanation
    names what conflicts rather than everything near it. None if not proved infeasible.
    """
    deadline = time.monotonic() + time_limit_s
    core = _core(model, list(guards.literals.values()), time_limit_s, seed)
    if core is None:
        return None
    kept: list[cp_model.IntVar] = []
    candidates = list(core)
    while candidates:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kept += candidates
            break
        lit = candidates.pop(0)
        smaller = _core(model, kept + candidates, min(remaining, 2.0), seed)
        if smaller is None:
            kept.append(lit)  # needed (or undecided in time): keep it
        else:
            still = {v.index for v in smaller}
            candidates = [v for v in candidates if v.index in still]
            kept = [v for v in kept if v.index in still]
    return _sentences([guards.sentences[v.index] for v in kept])


def _core(
    model: cp_model.CpModel, assumptions: list[cp_model.IntVar], limit: float, seed: int
) -> list[cp_model.IntVar] | None:
    """An infeasible subset of ``assumptions``, or None if feasible or undecided."""
    model.clear_assumptions()
    model.add_assumptions(assumptions)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 1  # the assumption core is reported by a single worker
    solver.parameters.random_seed = seed
    if solver.solve(model) != cp_model.INFEASIBLE:
        return None
    by_index = {v.index: v for v in assumptions}
    return [by_index[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in by_index]


def _sentences(pairs: list[tuple[str, str]]) -> list[str]:
    """One line per subject, its details joined: "h05 must be covered on the night of ..."."""
    grouped: dict[str, list[str]] = {}
    for subject, detail in pairs:
        grouped.setdefault(subject, [])
        if detail:
            grouped[subject].append(detail)
    lines = [
        f"{subject} {', '.join(details)}" if details else subject
        for subject, details in sorted(grouped.items())
    ]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more"]
    return lines
