"""The smallest addition that brings a night at risk to its targets: one extra reader,
which hours, which skill.

Lengths of 2, 4, 6 and 8 hours and the whole night are tried, each placed over the
night's worst stretch (where the expected reading load most exceeds the reading
capacity on shift). The shortest length that works is found first with a reader who
holds every skill of the case mix (a binary search: more hours never hurt); then, at that
length, whether a reader with a single skill is enough (the skills the night's late work
needs, most needed first). Each try replays the night's first replications on the same
arrivals as the forecast, so a difference is the addition's and not the draw's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Radiologist, Shift
from garde.simulation.forecast.model import Addition
from garde.simulation.forecast.replay import _run, hourly_load, job, outlooks

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date, datetime

    from garde.dispatch.model import Priority
    from garde.simulation.forecast.model import ArrivalModel, Forecast, Outlook, Region
    from garde.simulation.scenario import NightScenario

LENGTHS_H = (2.0, 4.0, 6.0, 8.0)
"""Hours of extra reading tried before the whole night."""

SEARCH_REPLICATIONS = 10
"""Replications per try (the forecast's first ones): a search tries several additions."""

EXTRA_ID = "extra"
SINGLE_SKILLS_TRIED = 3


@dataclass(frozen=True, slots=True)
class Search:
    """One night at risk, sent to a worker process."""

    region: Region
    model: ArrivalModel
    night: date
    scenario: NightScenario
    seeds: tuple[int, ...]
    required: dict[Priority, float]
    at_risk: tuple[Priority, ...]


def _window(search: Search, hours: float) -> tuple[datetime, datetime]:
    """The ``hours``-long stretch of the night where load most exceeds capacity."""
    scenario = search.scenario
    loads = hourly_load(scenario, search.model, search.region.timezone)
    span = min(len(loads), max(1, round(hours)))
    if span >= len(loads):
        return scenario.start, scenario.end
    deficits = [h.load_min - h.capacity_min for h in loads]
    best = max(range(len(loads) - span + 1), key=lambda k: sum(deficits[k : k + span]))
    start = loads[best].start
    return start, min(scenario.end, start + timedelta(hours=hours))


def _skills_needed(search: Search) -> list[str]:
    """Skills of the at-risk priorities' work, the most needed first."""
    weight: dict[str, float] = {}
    for exam in search.model.mix:
        if exam.priority in search.at_risk and exam.share > 0:
            for skill in exam.skills:
                weight[skill] = weight.get(skill, 0.0) + exam.share * exam.mean_minutes
    return sorted(weight, key=lambda s: (-weight[s], s))[:SINGLE_SKILLS_TRIED]


def _try(
    search: Search, window: tuple[datetime, datetime], skills: frozenset[str]
) -> tuple[Outlook, ...]:
    sites = frozenset(site.id for site in search.region.sites)
    extra = Radiologist(EXTRA_ID, "extra reader", skills, sites)
    scenario = replace(
        search.scenario,
        radiologists=(*search.scenario.radiologists, extra),
        shifts=(*search.scenario.shifts, Shift(EXTRA_ID, window[0], window[1])),
    )
    unit = job(search.region, search.model, search.night, scenario, search.seeds)
    return outlooks(_run(unit)[1], search.required)


def smallest_addition(search: Search) -> tuple[date, Addition]:
    """The shortest extra reader (then the narrowest skill) that clears the night."""
    every = frozenset(s for e in search.model.mix for s in e.skills)
    lengths = [*LENGTHS_H, search.scenario.duration_min / 60]
    found: tuple[float, tuple[Outlook, ...]] | None = None
    low, high = 0, len(lengths) - 1
    while low <= high:  # the shortest length that clears it, with every skill
        middle = (low + high) // 2
        result = _try(search, _window(search, lengths[middle]), every)
        if any(o.at_risk for o in result):
            low = middle + 1
        else:
            found = (lengths[middle], result)
            high = middle - 1
    if found is None:
        return search.night, Addition(None, None, "")
    hours, best = found
    window = _window(search, hours)
    for skill in _skills_needed(search):
        result = _try(search, window, frozenset({skill}))
        if not any(o.at_risk for o in result):
            return search.night, Addition(window[0], window[1], skill, result)
    return search.night, Addition(window[0], window[1], "", best)


def searches(
    region: Region,
    model: ArrivalModel,
    nights: Sequence[tuple[date, NightScenario, Sequence[int], tuple[Outlook, ...]]],
    required: dict[Priority, float],
) -> list[Search]:
    """A search per night at risk that has someone on the roster (a night with nobody
    is not made safe by one more reader: the planner must roster it)."""
    return [
        Search(
            region,
            model,
            night,
            scenario,
            tuple(seeds[:SEARCH_REPLICATIONS]),
            required,
            tuple(o.priority for o in looks if o.at_risk),
        )
        for night, scenario, seeds, looks in nights
        if any(o.at_risk for o in looks) and scenario.radiologists
    ]


def staffing_needs(result: Forecast, night_staff: int) -> list[tuple[date, int, str]]:
    """Per night at risk, the staff a generated roster should give it: the config's
    ``night_staff`` plus the extra reader (``roster generate --demands``)."""
    needs = []
    for night in result.at_risk:
        addition = night.addition
        if night.readers == 0:
            needs.append((night.night, night_staff, "nobody on the roster"))
            continue
        if addition is None:
            reason = "at risk (no addition searched)"
        elif addition.hours is None:
            reason = "at risk; one more reader all night was not enough on its own"
        else:
            reason = f"+{addition.hours:g} h {addition.skill or 'every skill'}"
        needs.append((night.night, night_staff + 1, reason))
    return needs
