"""Routing policies: whom a study goes to, whom a stroke interrupts, what a free reader takes.

The services (dispatch, reading, escalation, handover) make every routing decision
through one `RoutingPolicy`. `GARDE` is the product's: the router (`router.route`), the
stroke alert (`latebinding.preempt`), late binding (`latebinding.next_pull`) and the
queue order (priority, deadline, arrival). The simulator plugs the benchmark's
baselines in behind the same services (`garde.simulation.baselines`), so a figure
measured for either is one of the product's own path (issue 16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from garde.dispatch._time import to_ms
from garde.dispatch.latebinding import next_pull, preempt
from garde.dispatch.router import route

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.latebinding import Pull, StrokeAlert
    from garde.dispatch.model import SlaPolicy, Study
    from garde.dispatch.router import Decision

TakeOrder = tuple[float, ...]
"""A sort key over a reader's candidates (smallest first); see `RoutingPolicy.take_order`."""


class RoutingPolicy(Protocol):
    """The decisions the services delegate (the core's functions, or a baseline's)."""

    name: str

    def route(
        self,
        study: Study,
        board: Board,
        policy: SlaPolicy,
        now: datetime,
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> Decision:
        """Who reads ``study`` (None in the decision: nobody now; it waits, flagged)."""
        ...

    def preempt(
        self, study: Study, decision: Decision, board: Board, policy: SlaPolicy, now: datetime
    ) -> tuple[Decision, StrokeAlert | None]:
        """``decision`` turned toward the reader a stroke interrupts, with the alert."""
        ...

    def next_pull(self, radiologist_id: str, board: Board, now: datetime) -> Pull | None:
        """A colleague's queued study ``radiologist_id`` should take now (late binding)."""
        ...

    def take_order(self, study: Study) -> TakeOrder:
        """Where ``study`` sorts among what a free reader may take (`ReadingService.next`)."""
        ...


class GardeRouting:
    """Garde's own decisions: the core's router, stroke alert, late binding and order."""

    name = "garde"

    def route(
        self,
        study: Study,
        board: Board,
        policy: SlaPolicy,
        now: datetime,
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> Decision:
        """`router.route`."""
        return route(study, board, policy, now, exclude=exclude)

    def preempt(
        self, study: Study, decision: Decision, board: Board, policy: SlaPolicy, now: datetime
    ) -> tuple[Decision, StrokeAlert | None]:
        """`latebinding.preempt`."""
        return preempt(study, decision, board, policy, now)

    def next_pull(self, radiologist_id: str, board: Board, now: datetime) -> Pull | None:
        """`latebinding.next_pull`."""
        return next_pull(radiologist_id, board, now)

    def take_order(self, study: Study) -> TakeOrder:
        """The board's queue order: queue rank, deadline, arrival."""
        return (study.priority.queue_rank, to_ms(study.deadline), to_ms(study.arrived_at))


GARDE = GardeRouting()
"""The product's policy (stateless: one instance serves every service)."""
