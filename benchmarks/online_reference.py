"""Where the gap to the offline reference comes from (issue 16 item 4).

The offline reference (`garde.simulation.offline`) knows every arrival and every read's
true minutes. `garde.simulation.rolling` decides the same nights online with the
reference's own CP-SAT model, re-solved at every decision on what is known then, in
four variants: the true minutes of the studies routable so far (no product can know
them) or the triage's estimates (what Garde knows), with the strokes' work or without
it (a relaxation in the online policy's favour). Same nights, same seeds and the same
release rule as `benchmarks/sla_bench.py`. For the comparison at equal footing, Garde
itself (``garde``: the product's services on the simulator, as in `sla_bench`) and Garde
and the reference on the same nights with the strokes taken out (``garde_no_strokes``,
``offline_no_strokes``); a variant ending ``_no_strokes`` is compared with the latter.

    .venv/bin/python benchmarks/online_reference.py --nights 300
    .venv/bin/python benchmarks/online_reference.py --nights 40 --variants garde,offline

Prints JSON: ``misses.<variant>.<priority>`` (not reported within 15 / 60 / 60 min of
arrival, unread counts; summed over the nights), ``urgent_ratio_to_offline.<variant>``
(urgent misses over the reference's on the same nights, with or without the strokes),
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
from garde.simulation.offline import OfflineNight, Release, misses, solve_night
from garde.simulation.offline_figures import WITHIN_MIN
from garde.simulation.rolling import Durations, rolling_night
from garde.simulation.scenario import default_night, generate_arrivals
from garde.simulation.simulator import NightResult, example_config, simulate

VARIANTS: dict[str, tuple[Durations, bool] | None] = {
    "offline": None,
    "online_true_minutes_no_strokes": ("true", False),
    "online_estimates_no_strokes": ("estimated", False),
    "online_true_minutes": ("true", True),
    "online_estimates": ("estimated", True),
}
# The same nights through the product's services (`simulate`, policy "garde") and the
# offline reference, each also without the strokes: which part of Garde's gap to the
# reference the strokes make.
PAIRS = {
    "garde": ("garde", True),
    "garde_no_strokes": ("garde", False),
    "offline_no_strokes": ("offline", False),
}


def _night(task: tuple[int, str, float, float]) -> tuple[str, dict[str, float]]:
    seed, variant, offline_work, work = task
    scenario = replace(default_night(), sla=example_config().sla)
    arrivals = generate_arrivals(scenario, seed)
    release = Release.of(example_config())
    how = VARIANTS.get(variant)
    night: OfflineNight | NightResult
    if variant in PAIRS:
        policy, strokes = PAIRS[variant]
        if not strokes:
            arrivals = [a for a in arrivals if a.priority is not Priority.STROKE]
        if policy == "offline":
            night = solve_night(scenario, arrivals, work=offline_work, release=release)
        else:
            night = simulate(scenario, arrivals, policy, example_config())
    elif how is None:
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


def run(
    nights: int,
    processes: int,
    offline_work: float,
    work: float,
    variants: tuple[str, ...] = (*VARIANTS, *PAIRS),
) -> dict[str, object]:
    """Every variant on nights ``0 .. nights - 1``."""
    began = time.perf_counter()
    tasks = [(seed, v, offline_work, work) for seed in range(nights) for v in variants]
    totals: dict[str, dict[str, float]] = {v: {} for v in variants}
    with ProcessPoolExecutor(processes) as pool:
        for variant, figures in pool.map(_night, tasks):
            for key, value in figures.items():
                totals[variant][key] = totals[variant].get(key, 0) + value

    def ratio(variant: str) -> float | None:
        # Against the reference of the same nights: with the strokes, or without them.
        base = "offline_no_strokes" if variant.endswith("_no_strokes") else "offline"
        if base not in totals or not totals[base][Priority.URGENT.value]:
            return None
        return round(
            totals[variant][Priority.URGENT.value] / totals[base][Priority.URGENT.value], 3
        )

    return {
        "nights": nights,
        "offline_work_per_night": offline_work,
        "online_work_per_decision": work,
        "misses": {v: {p.value: int(t[p.value]) for p in WITHIN_MIN} for v, t in totals.items()},
        "urgent_ratio_to_offline": {v: ratio(v) for v in totals},
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
    parser.add_argument(
        "--variants",
        default=",".join((*VARIANTS, *PAIRS)),
        help=f"comma-separated, some of {', '.join((*VARIANTS, *PAIRS))}",
    )
    parser.add_argument("--smoke", action="store_true", help="1 night, little search: not judged")
    args = parser.parse_args()
    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = sorted(set(variants) - {*VARIANTS, *PAIRS})
    if unknown:
        parser.error(f"unknown variants {unknown}")
    if args.smoke:
        out = run(1, 1, 0.02, 0.01, variants)
    else:
        out = run(args.nights, args.processes, args.offline_work, args.work, variants)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
