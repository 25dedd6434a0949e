"""Roster generation benchmark: one month of nights and weekend/holiday days.

Cases: 12 radiologists x 6 sites and 40 radiologists x 20 sites, on a seeded synthetic
region (credentials, neuro skills, leave weeks, part-time fractions, wished nights).
Prints JSON: ``cases[].{radiologists, sites, days, seconds, objective, bound, gap_pct,
feasible, hours}`` plus, as baselines measured in the same run, the time and objective of
the first solution found and the same month generated without the hours balance
(``hours_fairness = 0``, the generator before issue 17); the generated roster is checked
by the validator. ``hours`` is per full-time equivalent (hours / (part-time fraction x
share of the month not on leave)): ``min``, ``max`` and ``spread``.

    .venv/bin/python benchmarks/roster.py                      # both cases, 60 s each
    .venv/bin/python benchmarks/roster.py --cases small --time-limit 5
    .venv/bin/python benchmarks/roster.py --smoke              # seconds; figures not judged
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace
from datetime import date, timedelta

from garde.dispatch.model import Radiologist, Site
from garde.rosters.generation import (
    Availability,
    GenerationRequest,
    HardRules,
    Progress,
    RosterSolution,
    SoftWeights,
    SolverSettings,
    generate,
)
from garde.rosters.generation.slots import build_slots
from garde.rosters.validation import ValidationRules, validate

CASES = {
    # name: (radiologists, sites, night staff, day staff)
    "small": (12, 6, 3, 2),
    "large": (40, 20, 6, 5),
}
FIRST_DAY = date(2025, 11, 1)  # November 2025: two French holidays (1st, 11th)
DAYS = 30


def synthetic_region(
    n_rads: int, n_sites: int, seed: int
) -> tuple[tuple[Radiologist, ...], tuple[Site, ...], tuple[Availability, ...]]:
    """A seeded region: a sixth of the radiologists credentialed everywhere, the others
    for about half the sites; a third with the neuro skill; some leave and part time."""
    rng = random.Random(seed)
    sites = tuple(
        Site(id=f"h{n:02d}", name=f"CH {n:02d}", ae_titles=frozenset({f"CT{n:02d}"}))
        for n in range(1, n_sites + 1)
    )
    site_ids = [s.id for s in sites]
    radiologists = []
    availability = []
    for n in range(1, n_rads + 1):
        rid = f"r{n:02d}"
        everywhere = n % 6 == 1
        chosen = site_ids if everywhere else rng.sample(site_ids, k=max(1, n_sites // 2))
        skills = {"body"} | ({"neuro"} if n % 3 == 1 or rng.random() < 0.1 else set())
        radiologists.append(
            Radiologist(id=rid, name=f"Dr {rid}", skills=frozenset(skills), sites=frozenset(chosen))
        )
        leave: frozenset[date] = frozenset()
        if rng.random() < 0.25:
            start = FIRST_DAY + timedelta(days=rng.randrange(DAYS - 7))
            leave = frozenset(start + timedelta(days=d) for d in range(7))
        fraction = rng.choice((1.0, 1.0, 1.0, 0.8, 0.5))
        wished = frozenset(
            FIRST_DAY + timedelta(days=rng.randrange(DAYS)) for _ in range(rng.choice((0, 0, 2)))
        )
        max_nights = rng.choice((None, None, None, 6))
        availability.append(Availability(rid, leave, max_nights, fraction, wished - leave))
    return tuple(radiologists), sites, tuple(availability)


def hours_per_fte(solution: RosterSolution, request: GenerationRequest) -> dict[str, float]:
    """Min, max and spread of each radiologist's hours per full-time equivalent."""
    per_fte = []
    for load in solution.loads:
        own = request.availability_of(load.radiologist_id)
        equivalent = own.fraction * (1 - len(own.unavailable) / request.days)
        if equivalent > 0:
            per_fte.append(load.hours / equivalent)
    if not per_fte:
        return {"min": 0.0, "max": 0.0, "spread": 0.0}
    low, high = min(per_fte), max(per_fte)
    return {"min": round(low, 1), "max": round(high, 1), "spread": round(high - low, 1)}


def run_case(
    name: str, time_limit: float, workers: int, seed: int, days: int = 0
) -> dict[str, object]:
    n_rads, n_sites, night_staff, day_staff = CASES[name]
    days = days or DAYS
    radiologists, sites, availability = synthetic_region(n_rads, n_sites, seed)
    first: list[Progress] = []

    def remember_first(progress: Progress) -> None:
        if not first:
            first.append(progress)

    request = GenerationRequest(
        radiologists=radiologists,
        sites=sites,
        first_day=FIRST_DAY,
        days=days,
        availability=availability,
        hard=HardRules(night_staff=night_staff, day_staff=day_staff),
        solver=SolverSettings(time_limit_s=time_limit, workers=workers, seed=seed),
        progress=remember_first,
    )
    solution = generate(request)
    without = replace(request, soft=SoftWeights(hours_fairness=0), progress=None)
    baseline = generate(without)
    slots = build_slots(request)
    report = validate(
        solution.shifts,
        radiologists=radiologists,
        sites=sites,
        start=slots[0].start,
        end=slots[-1].end,
        rules=ValidationRules(stroke_skill=request.hard.stroke_skill),
    )
    return {
        "name": name,
        "radiologists": n_rads,
        "sites": n_sites,
        "days": days,
        "slots": len(slots),
        "shifts": len(solution.shifts),
        "status": solution.status,
        "feasible": solution.feasible,
        "seconds": round(solution.seconds, 3),
        "objective": solution.to_dict()["objective"],
        "bound": solution.to_dict()["bound"],
        "gap_pct": solution.to_dict()["gap_pct"],
        "time_limit_s": time_limit,
        "workers": workers,
        "validator_ok": solution.feasible and report.ok,
        "hours": hours_per_fte(solution, request),
        "baseline_first_solution": {
            "seconds": round(first[0].seconds, 3) if first else None,
            "objective": first[0].objective if first else None,
        },
        "baseline_without_hours_balance": {
            "status": baseline.status,
            "seconds": round(baseline.seconds, 3),
            "hours": hours_per_fte(baseline, request),
        },
        "explanation": list(solution.explanation),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="small,large", help="comma-separated: small,large")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="one small week, 2 s: CI")
    args = parser.parse_args()
    if args.smoke:
        cases = [run_case("small", 2.0, args.workers, args.seed, days=7)]
    else:
        names = args.cases.split(",")
        cases = [run_case(c, args.time_limit, args.workers, args.seed) for c in names]
    print(json.dumps({"benchmark": "roster", "cases": cases}, indent=2))


if __name__ == "__main__":
    main()
