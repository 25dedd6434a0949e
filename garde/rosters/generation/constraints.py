"""CP-SAT constraint helpers for roster generation.

Hard helpers add constraints to the passed-in `CpModel`; soft helpers also return
``(variables, coefficients)`` of their penalties, each variable with a structured name
(``isolated_night(rad=r07, day=2025-11-12)``) so the solution can say which goals it
missed. When ``guards`` is given (to explain an infeasible request), each hard
constraint group is enforced by a named assumption literal instead of unconditionally.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from garde.rosters._localtime import zone
from garde.rosters.generation.slots import NIGHT, STROKE, can_read_stroke, staff_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from garde.rosters.generation.request import GenerationRequest
    from garde.rosters.generation.slots import Slot

Penalties = tuple[list[cp_model.IntVar], list[int]]


@dataclass(slots=True)
class Assignments:
    """x[(radiologist id, slot index)]: 1 if the radiologist takes the slot.

    Only eligible pairs have a variable (a radiologist on leave has none that day).
    """

    x: dict[tuple[str, int], cp_model.IntVar] = field(default_factory=dict)

    def of_slot(self, index: int, ids: Iterable[str]) -> list[cp_model.IntVar]:
        """The variables of ``ids`` for one slot (the ineligible ones are skipped)."""
        return [self.x[rid, index] for rid in ids if (rid, index) in self.x]

    def get(self, rid: str, index: int) -> cp_model.IntVar | None:
        """The variable of one pair, or None if the pair is not eligible."""
        return self.x.get((rid, index))


@dataclass(slots=True)
class Guards:
    """Named assumption literals, one per hard constraint group, each explained by a
    (subject, detail) pair: details of one subject are listed together in explanations."""

    model: cp_model.CpModel
    literals: dict[str, cp_model.IntVar] = field(default_factory=dict)
    sentences: dict[int, tuple[str, str]] = field(default_factory=dict)

    def literal(self, name: str, sentence: tuple[str, str]) -> cp_model.IntVar:
        """The (new or existing) literal named ``name``, explained by ``sentence``."""
        if name not in self.literals:
            lit = self.model.new_bool_var(name)
            self.literals[name] = lit
            self.sentences[lit.index] = sentence
        return self.literals[name]


def _enforce(
    constraint: cp_model.Constraint,
    guards: Guards | None,
    name: str,
    subject: str,
    detail: str = "",
) -> None:
    if guards is not None:
        constraint.only_enforce_if(guards.literal(name, (subject, detail)))


def add_assignments(
    model: cp_model.CpModel,
    request: GenerationRequest,
    slots: list[Slot],
    blocked: dict[str, set[int]],
) -> Assignments:
    """One boolean per eligible (radiologist, slot); only stroke readers take stroke slots."""
    assign = Assignments()
    for radiologist in request.radiologists:
        cap = request.availability_of(radiologist.id).max_nights
        stroke = can_read_stroke(radiologist, request)
        for slot in slots:
            if slot.index in blocked[radiologist.id] or (slot.kind == NIGHT and cap == 0):
                continue
            if slot.kind == STROKE and not stroke:
                continue
            name = f"x(rad={radiologist.id}, slot={slot.kind}:{slot.day.isoformat()})"
            assign.x[radiologist.id, slot.index] = model.new_bool_var(name)
    return assign


def add_staffing_and_cover(
    model: cp_model.CpModel,
    assign: Assignments,
    request: GenerationRequest,
    slots: list[Slot],
    guards: Guards | None = None,
) -> None:
    """Exactly the staff per slot; stroke on each slot, and every site credentialed on each
    night and weekend/holiday day. A weekday's stroke slot need not cover every site:
    the hospitals read their own daytime work. (The router does not restrict a shift by
    its role: whatever a hospital sends by day goes to that slot's reader if they may
    read it.)"""
    hard = request.hard
    everyone = [r.id for r in request.radiologists]
    stroke_ids = [r.id for r in request.radiologists if can_read_stroke(r, request)]
    for slot in slots:
        staff = staff_of(slot, hard)
        _enforce(
            model.add(sum(assign.of_slot(slot.index, everyone)) == staff),
            guards,
            f"staff(slot={slot.label})",
            f"exactly {staff} radiologists are needed on",
            f"the {slot.label}",
        )
        for site in request.sites if slot.kind != STROKE else ():
            ids = [r.id for r in request.radiologists if site.id in r.sites]
            _enforce(
                model.add_bool_or(assign.of_slot(slot.index, ids)),
                guards,
                f"cover(site={site.id}, slot={slot.label})",
                f"{site.id} ({site.name}) must be covered on",
                f"the {slot.label}",
            )
        _enforce(
            model.add_bool_or(assign.of_slot(slot.index, stroke_ids)),
            guards,
            f"stroke(slot={slot.label})",
            "stroke must be covered on",
            f"the {slot.label}",
        )


UNFILLED_COST = 1000  # per missing radiologist or uncovered site: before any soft goal


def add_partial_staffing(
    model: cp_model.CpModel, assign: Assignments, request: GenerationRequest, slots: list[Slot]
) -> Penalties:
    """Staffing and cover as goals, for the best partial roster of an infeasible request.

    At most the staff per slot; each seat left empty is ``unfilled(slot=...)``, each site
    or stroke left without a credentialed reader ``uncovered(site=..., slot=...)``, both
    at `UNFILLED_COST` so the solver fills all it can before any fairness goal.
    """
    variables: list[cp_model.IntVar] = []
    everyone = [r.id for r in request.radiologists]
    stroke_ids = [r.id for r in request.radiologists if can_read_stroke(r, request)]
    for slot in slots:
        staff = staff_of(slot, request.hard)
        missing = model.new_int_var(0, staff, f"unfilled(slot={slot.label})")
        model.add(sum(assign.of_slot(slot.index, everyone)) + missing == staff)
        variables.append(missing)
        needs = [
            (f"{site.id} ({site.name})", [r.id for r in request.radiologists if site.id in r.sites])
            for site in (request.sites if slot.kind != STROKE else ())
        ]
        for what, ids in [*needs, ("stroke", stroke_ids)]:
            uncovered = model.new_bool_var(f"uncovered(site={what}, slot={slot.label})")
            model.add_bool_or([*assign.of_slot(slot.index, ids), uncovered])
            variables.append(uncovered)
    return variables, [UNFILLED_COST] * len(variables)


def add_rest(
    model: cp_model.CpModel,
    assign: Assignments,
    request: GenerationRequest,
    slots: list[Slot],
    guards: Guards | None = None,
) -> None:
    """Repos de sécurité: no slot starting within the rest after a night (nor overlapping)."""
    rest = request.hard.rest_after_night
    for rid in (r.id for r in request.radiologists):
        for night in (s for s in slots if s.kind == NIGHT):
            x_night = assign.get(rid, night.index)
            if x_night is None:
                continue
            for other in slots:
                x_other = assign.get(rid, other.index)
                if other.index == night.index or x_other is None:
                    continue
                overlaps = other.start < night.end and other.end > night.start
                too_soon = night.end <= other.start < night.end + rest
                if overlaps or too_soon:
                    _enforce(
                        model.add_bool_or([~x_night, ~x_other]),
                        guards,
                        f"rest(rad={rid})",
                        f"{rid} is owed {rest / timedelta(hours=1):g} h rest after each night",
                    )


def add_night_limits(
    model: cp_model.CpModel,
    assign: Assignments,
    request: GenerationRequest,
    slots: list[Slot],
    guards: Guards | None = None,
) -> None:
    """At most K consecutive nights, and each radiologist's own cap on nights."""
    k = request.hard.max_consecutive_nights
    nights = [s for s in slots if s.kind == NIGHT]
    for rid in (r.id for r in request.radiologists):
        for first in range(len(nights) - k):
            window = [assign.get(rid, s.index) for s in nights[first : first + k + 1]]
            present = [v for v in window if v is not None]
            if len(present) == k + 1:
                _enforce(
                    model.add(sum(present) <= k),
                    guards,
                    f"consecutive(rad={rid})",
                    f"{rid} may work at most {k} nights in a row",
                )
        cap = request.availability_of(rid).max_nights
        own = [v for s in nights if (v := assign.get(rid, s.index)) is not None]
        if cap is not None and len(own) > cap:
            _enforce(
                model.add(sum(own) <= cap),
                guards,
                f"max_nights(rad={rid})",
                f"{rid} asked for at most {cap} nights",
            )


def add_weekly_hours(
    model: cp_model.CpModel,
    assign: Assignments,
    request: GenerationRequest,
    slots: list[Slot],
    guards: Guards | None = None,
) -> None:
    """At most ``max_weekly_hours`` per local calendar week (Monday 00:00 to Monday)."""
    tz = zone(request.timezone)
    limit = round(request.hard.max_weekly_hours * 60)
    weeks: dict[datetime, list[tuple[int, int]]] = {}  # week start -> (slot, minutes in it)
    for slot in slots:
        local = slot.start.astimezone(tz)
        monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(), tz)
        while monday < slot.end:
            following = datetime.combine(monday.date() + timedelta(days=7), time(), tz)
            minutes = (min(slot.end, following) - max(slot.start, monday)) // timedelta(minutes=1)
            if minutes > 0:
                weeks.setdefault(monday, []).append((slot.index, minutes))
            monday = following
    for rid in (r.id for r in request.radiologists):
        for monday, parts in sorted(weeks.items()):
            terms = [(v, m) for i, m in parts if (v := assign.get(rid, i)) is not None]
            if sum(m for _, m in terms) <= limit:
                continue  # cannot be exceeded: no constraint needed
            _enforce(
                model.add(sum(m * v for v, m in terms) <= limit),
                guards,
                f"weekly_hours(rad={rid}, week={monday:%Y-%m-%d})",
                f"{rid} may work at most {request.hard.max_weekly_hours:g} h in the week of",
                f"{monday:%Y-%m-%d}",
            )


def fair_shares(
    request: GenerationRequest, assign: Assignments, category: list[Slot]
) -> dict[str, float]:
    """Each radiologist's fair number of ``category`` slots.

    Demand (staff per slot) is split in proportion to part-time fraction times the share
    of the category's slots the radiologist can take, capped by what they can take
    (and by their own night cap), the excess going to the others (water-filling).
    """
    hard = request.hard
    demand = float(sum(staff_of(s, hard) for s in category))
    caps: dict[str, float] = {}
    weights: dict[str, float] = {}
    for r in request.radiologists:
        eligible = sum(1 for s in category if (r.id, s.index) in assign.x)
        cap = float(eligible)
        own = request.availability_of(r.id).max_nights
        if own is not None and all(s.kind == NIGHT for s in category):
            cap = min(cap, float(own))
        caps[r.id] = cap
        weights[r.id] = request.availability_of(r.id).fraction * eligible / max(len(category), 1)
    return _water_fill(demand, caps, weights)


def _water_fill(
    demand: float, caps: dict[str, float], weights: dict[str, float]
) -> dict[str, float]:
    """Split ``demand`` in proportion to ``weights``, none above its cap (the excess of
    the capped goes to the others)."""
    shares = dict.fromkeys(caps, 0.0)
    free = {rid for rid in caps if weights[rid] > 0 and caps[rid] > 0}
    remaining = demand
    while remaining > 1e-9 and free:
        total = sum(weights[rid] for rid in free)
        capped = {rid for rid in free if remaining * weights[rid] / total >= caps[rid] - 1e-9}
        if not capped:
            for rid in free:
                shares[rid] = remaining * weights[rid] / total
            break
        for rid in capped:
            shares[rid] = caps[rid]
            remaining -= caps[rid]
        free -= capped
    return shares


def weighted_hours(slot: Slot, request: GenerationRequest) -> int:
    """A slot's hours as they weigh in the hours balance, rounded: an hour of night or of
    a weekend or holiday day counts ``night_hours_weight`` / ``weekend_hours_weight``
    (the larger of the two for a weekend night: the burden is not counted twice)."""
    soft = request.soft
    factor = 1.0
    if slot.kind == NIGHT:
        factor = max(factor, soft.night_hours_weight)
    if slot.weekend or slot.holiday:
        factor = max(factor, soft.weekend_hours_weight)
    return round(slot.hours * factor)


def fair_hours(
    request: GenerationRequest, assign: Assignments, slots: list[Slot]
) -> dict[str, float]:
    """Each radiologist's fair share of the weighted hours of every slot.

    Unlike the per-category shares, the split does not follow what each one may take: a
    stroke reader who takes weekday stroke days should take fewer nights, so that the
    hours even out. It follows the part-time fraction and the days not on leave, capped
    by the hours each one can take.
    """
    demand = float(sum(staff_of(s, request.hard) * weighted_hours(s, request) for s in slots))
    caps: dict[str, float] = {}
    weights: dict[str, float] = {}
    for r in request.radiologists:
        caps[r.id] = float(
            sum(weighted_hours(s, request) for s in slots if (r.id, s.index) in assign.x)
        )
        own = request.availability_of(r.id)
        present = 1.0 - len(own.unavailable) / max(request.days, 1)
        weights[r.id] = own.fraction * max(present, 0.0)
    return _water_fill(demand, caps, weights)


def add_hours_fairness(
    model: cp_model.CpModel, assign: Assignments, request: GenerationRequest, slots: list[Slot]
) -> Penalties:
    """Balance weighted hours: per radiologist, the hours outside their fair band
    (``unfair_hours(rad=r03)``), and the spread between the most and the least loaded
    per full-time equivalent (``hours_spread``).

    The band is the fair share (`fair_hours`) give or take half the longest weighted
    shift: whole shifts cannot split hours finer. The band alone is not enough: when
    only some can take a kind of shift (stroke days need neuro readers), a whole group
    sits outside its band and a linear cost does not care how hours spread within it;
    the spread does, pushing the top down and the bottom up.
    """
    variables: list[cp_model.IntVar] = []
    weight = request.soft.hours_fairness
    if weight == 0 or not slots:
        return variables, []
    sizes = {s.index: weighted_hours(s, request) for s in slots}
    slack = max(sizes.values()) / 2
    total = sum(sizes.values())
    peak = model.new_int_var(0, 100 * total, "hours_peak")
    trough = model.new_int_var(0, 100 * total, "hours_trough")
    for rid, share in fair_hours(request, assign, slots).items():
        terms = [(v, sizes[s.index]) for s in slots if (v := assign.get(rid, s.index)) is not None]
        if not terms:
            continue
        load = sum(h * v for v, h in terms)
        low, high = math.floor(share - slack), math.ceil(share + slack)
        most = sum(h for _, h in terms) + max(high, 0)
        deviation = model.new_int_var(0, most, f"unfair_hours(rad={rid})")
        model.add(deviation >= load - high)
        model.add(deviation >= low - load)
        variables.append(deviation)
        own = request.availability_of(rid)
        present = 1.0 - len(own.unavailable) / max(request.days, 1)
        percent = round(100 * own.fraction * present)
        if percent > 0:  # hours per full-time equivalent, in hundredths
            model.add(100 * load <= peak * percent)
            model.add(100 * load >= trough * percent)
    spread = model.new_int_var(0, 100 * total, "hours_spread")
    model.add(spread == peak - trough)
    return [*variables, spread], [weight] * (len(variables) + 1)


def add_fairness(
    model: cp_model.CpModel,
    assign: Assignments,
    request: GenerationRequest,
    category: list[Slot],
    *,
    name: str,
    weight: int,
) -> Penalties:
    """Per radiologist, the shifts outside their fair band [floor(share), ceil(share)]."""
    variables: list[cp_model.IntVar] = []
    coefficients: list[int] = []
    if weight == 0 or not category:
        return variables, coefficients
    for rid, share in fair_shares(request, assign, category).items():
        own = [v for s in category if (v := assign.get(rid, s.index)) is not None]
        if not own:
            continue
        low, high = math.floor(share + 1e-9), math.ceil(share - 1e-9)
        deviation = model.new_int_var(0, len(own), f"unfair_{name}(rad={rid})")
        model.add(deviation >= sum(own) - high)
        model.add(deviation >= low - sum(own))
        variables.append(deviation)
        coefficients.append(weight)
    return variables, coefficients


def add_wished_nights(
    model: cp_model.CpModel, assign: Assignments, request: GenerationRequest, slots: list[Slot]
) -> Penalties:
    """A penalty literal per wished night not given."""
    variables: list[cp_model.IntVar] = []
    weight = request.soft.wished_night
    if weight == 0:
        return variables, []
    nights = {s.day: s for s in slots if s.kind == NIGHT}
    for entry in request.availability:
        for day in sorted(entry.wished_nights):
            slot = nights.get(day)
            x = assign.get(entry.radiologist_id, slot.index) if slot else None
            if x is None:
                continue
            unmet = model.new_bool_var(f"wish_unmet(rad={entry.radiologist_id}, day={day})")
            model.add_bool_or([x, unmet])
            variables.append(unmet)
    return variables, [weight] * len(variables)


def add_isolated_nights(
    model: cp_model.CpModel, assign: Assignments, request: GenerationRequest, slots: list[Slot]
) -> Penalties:
    """A penalty literal per night worked with no night before or after it.

    Only where a run of nights is allowed at all (two nights in a row fit the rules), and
    for radiologists whose fair share is at least two nights.
    """
    variables: list[cp_model.IntVar] = []
    weight = request.soft.isolated_night
    nights = [s for s in slots if s.kind == NIGHT]
    runs_allowed = request.hard.max_consecutive_nights >= 2 and all(
        b.start >= a.end + request.hard.rest_after_night for a, b in itertools.pairwise(nights)
    )
    if weight == 0 or not runs_allowed:
        return variables, []
    shares = fair_shares(request, assign, nights)
    for rid in (r.id for r in request.radiologists):
        if math.ceil(shares[rid] - 1e-9) < 2:
            continue  # a fair share of one night is isolated by nature: no penalty
        for i, night in enumerate(nights):
            x = assign.get(rid, night.index)
            if x is None:
                continue
            before = assign.get(rid, nights[i - 1].index) if i > 0 else None
            after = assign.get(rid, nights[i + 1].index) if i + 1 < len(nights) else None
            if before is None and after is None:
                continue  # leave or the month's edge isolates it, not the planning
            lonely = model.new_bool_var(f"isolated_night(rad={rid}, day={night.day})")
            # lonely >= x - before - after: a night with neither neighbour costs.
            model.add_bool_or([~x, lonely, *(v for v in (before, after) if v is not None)])
            variables.append(lonely)
    return variables, [weight] * len(variables)
