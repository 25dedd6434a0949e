"""The policies a simulated night can run: Garde's routing, with or without the re-plan
job, and the benchmark's baselines (`garde.simulation.baselines`), each behind the same
services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.routing import GardeRouting
from garde.simulation.baselines import CherryPick, LeastLoaded, PullEdf, PushGreedy, RoundRobin

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dispatch.routing import RoutingPolicy


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A named policy: a fresh routing policy per night, and whether the re-plan runs."""

    name: str
    routing: Callable[[], RoutingPolicy]
    replan: bool = False


POLICIES: dict[str, PolicySpec] = {
    spec.name: spec
    for spec in (
        PolicySpec("garde", GardeRouting),
        PolicySpec("garde_optimized", GardeRouting, replan=True),
        PolicySpec("round_robin", RoundRobin),
        PolicySpec("least_loaded", LeastLoaded),
        PolicySpec("push_greedy", PushGreedy),
        PolicySpec("pull_edf", PullEdf),
        PolicySpec("cherry_pick", CherryPick),
        PolicySpec("push_greedy_no_preempt", lambda: PushGreedy(preempt_stroke=False)),
        PolicySpec("pull_edf_no_preempt", lambda: PullEdf(preempt_stroke=False)),
    )
}


def policy_spec(name: str) -> PolicySpec:
    """The policy called ``name`` (raises `KeyError` naming the known ones)."""
    try:
        return POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}") from None
