"""`garde forecast` speed: a month of nights, 20 replications each (issue 16 item 5).

    .venv/bin/python -m benchmarks.forecast              # 30 nights x 20 replications, 3 runs
    .venv/bin/python -m benchmarks.forecast --smoke      # 1 night x 1 replication, for CI

The same code the command runs (`garde.simulation.forecast.forecast`: every replication
replays the services on a simulated clock, `garde.simulation.simulator`) on the benchmark
region of `garde.simulation.scenario.default_night` (6 hospitals, 4 readers),
its roster repeated every night, arrivals from the shipped scenario
``garde/simulation/forecast/regional.toml`` (about 160 exams a night).

Prints JSON: ``forecast.seconds`` (median of the runs; target <= 60 s on 2 cores, the
search for additions off), ``forecast.runs_s``; the baseline measured in the same run:
``baseline.replication_ms``, one replication replayed in this process, and
``baseline.sequential_s``, what the month would take replayed one by one
(replications x nights x that), with ``speedup`` = sequential / forecast;
``with_staffing``: the same month with the search for additions on (its seconds, the
nights at risk and the additions found).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from garde.dispatch.model import Shift
from garde.simulation.forecast import Region, Request, forecast
from garde.simulation.forecast.replay import _run, job, night_scenario, seeds_for
from garde.simulation.forecast.scenario_file import load_scenario
from garde.simulation.scenario import default_night
from garde.simulation.simulator import example_config

ZONE = "Europe/Paris"
SCENARIO = Path(__file__).resolve().parent.parent / "garde/simulation/forecast/regional.toml"
FIRST = date(2026, 1, 5)


def setting(nights: int) -> tuple[Region, list[Shift]]:
    """The benchmark region and its roster: the default night's shifts, every night."""
    night = default_night()
    # The example region's targets (urgent 60 min), as `serve` and the router see them.
    region = Region(night.sites, night.radiologists, example_config().sla, ZONE)
    zone = ZoneInfo(ZONE)
    shifts = []
    for k in range(nights):
        evening = datetime.combine(FIRST + timedelta(days=k), region.night_start, tzinfo=zone)
        offset = evening.astimezone(UTC) - night.start
        shifts.extend(
            Shift(s.radiologist_id, s.start + offset, s.end + offset) for s in night.shifts
        )
    return region, shifts


def run(nights: int, replications: int, repeats: int, workers: int) -> dict[str, object]:
    region, shifts = setting(nights)
    model = load_scenario(SCENARIO, region.sites)
    # Baseline: replications of one night replayed one by one in this process.
    scenario = night_scenario(region, model, FIRST, shifts)
    sample = min(replications, 10)
    began = time.perf_counter()
    _run(job(region, model, FIRST, scenario, seeds_for(FIRST, sample, 0)))
    replication_s = (time.perf_counter() - began) / sample
    sequential = replication_s * replications * nights
    request = Request(FIRST, nights, tuple(shifts), replications, workers=workers, staffing=False)
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = forecast(region, model, request)
        runs.append(time.perf_counter() - began)
    seconds = statistics.median(runs)
    began = time.perf_counter()
    staffed = forecast(
        region, model, Request(FIRST, nights, tuple(shifts), replications, workers=workers)
    )
    staffed_s = time.perf_counter() - began
    return {
        "nights": nights,
        "replications": replications,
        "workers": workers,
        "exams_per_night": round(
            sum(o.reads for n in result.nights for o in n.outlooks) / nights, 1
        ),
        "forecast": {"seconds": round(seconds, 2), "runs_s": [round(r, 2) for r in runs]},
        "baseline": {
            "replication_ms": round(1000 * replication_s, 1),
            "sequential_s": round(sequential, 2),
        },
        "speedup": round(sequential / seconds, 2),
        "target_le_60_s": seconds <= 60,
        "with_staffing": {
            "seconds": round(staffed_s, 2),
            "nights_at_risk": len(staffed.at_risk),
            "additions": [
                {"night": n.night.isoformat(), **n.addition.to_dict()}
                for n in staffed.at_risk
                if n.addition is not None
            ],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="1 night x 1 replication")
    args = parser.parse_args()
    if args.smoke:
        print(json.dumps(run(1, 1, 1, 1), indent=2))
        return
    print(json.dumps(run(args.nights, args.replications, args.repeats, args.workers), indent=2))


if __name__ == "__main__":
    main()
