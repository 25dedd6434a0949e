"""`forecast`: the SLA a roster will give, night by night, before the nights come."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.simulation.forecast.model import Forecast, NightForecast
from garde.simulation.forecast.replay import (
    hourly_load,
    job,
    night_scenario,
    outlooks,
    replay_nights,
    seeds_for,
)
from garde.simulation.forecast.staffing import Search, searches, smallest_addition

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    from garde.simulation.forecast.model import Addition, ArrivalModel, Region, Request


def forecast(
    region: Region,
    model: ArrivalModel,
    request: Request,
    *,
    on_night: Callable[[date], None] | None = None,
    on_search: Callable[[int], None] | None = None,
) -> Forecast:
    """Replay every night of ``request`` ``request.replications`` times.

    Parameters
    ----------
    region
        Hospitals, readers, the SLA policy and the night's hours.
    model
        Arrivals per hospital and hour of the week, the case mix, readers' speeds.
    request
        The nights, the roster's shifts, replications, the share each priority needs.
    on_night
        Called as each night's replications are done (a progress bar).
    on_search
        Called once with the number of nights at risk, then with 0 as each search ends.

    Returns
    -------
    Forecast
        Per night and priority, the median share within SLA and its 90 % interval, the
        hourly load against capacity, and for a night at risk the smallest addition.
    """
    began = time.perf_counter()
    nights = [request.first_night + timedelta(days=k) for k in range(request.nights)]
    scenarios = {n: night_scenario(region, model, n, request.shifts) for n in nights}
    seeds = {n: seeds_for(n, request.replications, request.seed) for n in nights}
    jobs = [job(region, model, n, scenarios[n], seeds[n]) for n in nights]
    counts = replay_nights(jobs, request.workers, on_night)
    looks = {n: outlooks(counts[n], request.required) for n in nights}
    additions: dict[date, Addition] = {}
    if request.staffing:
        todo = searches(
            region,
            model,
            [(n, scenarios[n], seeds[n], looks[n]) for n in nights],
            request.required,
        )
        if on_search is not None:
            on_search(len(todo))
        additions = _search(todo, request.workers, on_search)
    return Forecast(
        nights=tuple(
            NightForecast(
                night=n,
                start=scenarios[n].start,
                outlooks=looks[n],
                hours=hourly_load(scenarios[n], model, region.timezone),
                readers=len(scenarios[n].radiologists),
                addition=additions.get(n),
            )
            for n in nights
        ),
        replications=request.replications,
        source=model.source,
        seconds=time.perf_counter() - began,
    )


def _search(
    todo: list[Search], workers: int, on_search: Callable[[int], None] | None
) -> dict[date, Addition]:
    found: dict[date, Addition] = {}
    if not todo:
        return found
    if workers <= 1 or len(todo) == 1:
        results = map(smallest_addition, todo)
        for night, addition in results:
            found[night] = addition
            if on_search is not None:
                on_search(0)
        return found
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for night, addition in pool.map(smallest_addition, todo):
            found[night] = addition
            if on_search is not None:
                on_search(0)
    return found
