"""Where the gap to the offline reference comes from (issue 16 item 4).

The offline reference (`garde.simulation.offline`) knows every arrival and every read's
true minutes. `garde.simulation.rolling` decides the same nights online with the
reference's own CP-SAT model, re-solved at every decision on what is known then, in
four variants: the true minutes of the studies routable so far (no product can know
them) or the triage's estimates (what Garde knows), with the strokes' work or without
it (a relaxation in the online policy's favour). Same nights, same seeds and the same
release rule as `benchmarks/sla_bench.py`.

    .venv/bin/python benchmarks/online_reference.py --nights 100

Prints JSON: ``misses.<variant>.<priority>`` (not reported within 15 / 60 / 60 min of
arrival, unread counts; summed over the nights), ``urgent_ratio_to_offline.<variant>``,
``weighted_lateness_per_night.<variant>`` (minutes past deadline times the priority's
weight; unread studies left out), and ``seconds``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from garde.dispatch.model import Priority
from garde.simulation.offline import Release, misses, solve_night
from garde.simulation.offline_figures import WITHIN_MIN
from garde.simulation.rolling import rolling_night
from garde.simulation.scenario import default_night, generate_arrivals
from garde.simulation.simulator import example_config

VARIANTS = {
    "offline": None,
    "online_true_minutes_no_strokes": ("true", False),
    "online_estimates_no_strokes": ("estimated", False),
    "online_true_minutes": ("true", True),
    "online_estimates": ("estimated", True),
}


def _night(task: tuple[int, str, float, float]) -> tuple[str, dict[str, float]]:
    seed, variant, offline_work, work = task
    scenario = replace(default_night(), sla=example_config().sla)
    arrivals = generate_arrivals(scenario, seed)
    release = Release.of(example_config())
    how = VARIANTS[variant]
    if how is None:
        night = solve_night(scenario, arrivals, work=offline_work, release=release)
    else:
        night = rolling_night(
            scenario, arrivals, durations=how[0], strokes=how[1], work=work, release=release
        )
    weights = scenario.sla.weights
    out: dict[str, float] = {
        p.value: misses(night.reads, night.unread_priorities, p, m) for p, m in WITHIN_MIN.items()
    }
    out["weighted_lateness"] = sum(weights[Priority(r.priority)] * r.lateness for r in night.reads)
    return variant, out


def run(nights: int, processes: int, offline_work: float, work: float) -> dict[str, object]:
    """Every variant on nights ``0 .. nights - 1``."""
    began = time.perf_counter()
    tasks = [(seed, v, offline_work, work) for seed in range(nights) for v in VARIANTS]
    totals: dict[str, dict[str, float]] = {v: {} for v in VARIANTS}
    with ProcessPoolExecutor(processes) as pool:
        for variant, figures in pool.map(_night, tasks):
            for key, value in figures.items():
                totals[variant][key] = totals[variant].get(key, 0) + value
    offline_urgent = totals["offline"][Priority.URGENT.value]
    return {
        "nights": nights,
        "offline_work_per_night": offline_work,
        "online_work_per_decision": work,
        "misses": {v: {p.value: int(t[p.value]) for p in WITHIN_MIN} for v, t in totals.items()},
        "urgent_ratio_to_offline": {
            v: round(t[Priority.URGENT.value] / offline_urgent, 3) if offline_urgent else None
            for v, t in totals.items()
        },
        "weighted_lateness_per_night": {
            v: round(t["weighted_lateness"] / nights, 1) for v, t in totals.items()
        },
        "seconds": round(time.perf_counter() - began, 1),
        "processes": processes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--offline-work", type=float, default=0.3)
    parser.add_argument("--work", type=float, default=0.05, help="CP-SAT per online decision")
    parser.add_argument("--smoke", action="store_true", help="1 night, little search: not judged")
    args = parser.parse_args()
    if args.smoke:
        out = run(1, 1, 0.02, 0.01)
    else:
        out = run(args.nights, args.processes, args.offline_work, args.work)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
