"""The services route through their `RoutingPolicy`: another policy behind the same
dispatch and reading services changes whom a study goes to and what `next` takes first
(the seam the simulator plugs the benchmark's baselines into, issue 16)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift
from garde.dispatch.router import route
from garde.dispatch.routing import GARDE, GardeRouting
from garde.scheduling import jobs
from garde.services.reading import ReadingService
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    receive,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from garde.dispatch.board import Board
    from garde.dispatch.model import SlaPolicy, Study
    from garde.dispatch.router import Decision
    from garde.dispatch.routing import TakeOrder

minute = timedelta(minutes=1)
HEAD = "TDM CEREBRALE SANS INJECTION"  # urgent, 16 min
SPINE = "TDM RACHIS CERVICAL"  # urgent, 9 min


class OnlyR03ShortestFirst(GardeRouting):
    """Everything to r03 if r03 may take it; the shortest study read first."""

    name = "only_r03"

    def route(
        self,
        study: Study,
        board: Board,
        policy: SlaPolicy,
        now: datetime,
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> Decision:
        others = frozenset(board.ids) - {"r03"}
        return route(study, board, policy, now, exclude=exclude | others)

    def take_order(self, study: Study) -> TakeOrder:
        return (study.reading_minutes,)


def test_dispatch_and_next_follow_the_routing_policy(migrated_url: str, tmp_path: Path) -> None:
    h = timedelta(hours=1)
    shifts = [Shift("r01", T0 - h, T0 + 8 * h), Shift("r03", T0 - h, T0 + 8 * h)]
    rt = start_night(settings_for(migrated_url, tmp_path), shifts, T0)
    assert rt.dispatch.routing is GARDE  # serve's default
    policy = OnlyR03ShortestFirst()
    rt.dispatch.routing = policy
    reading = ReadingService(rt.uow, rt.dispatch.board, routing=policy)
    try:
        head = receive(rt, tmp_path, "h01", T0, description=HEAD)
        spine = receive(rt, tmp_path, "h01", T0 + minute, description=SPINE, body_part="SPINE")
        advance_to(rt, T0 + 3 * minute)
        assert jobs.dispatch_stable_studies(rt) == 2
        # Garde's router would give the second study to r01 (free, faster): the policy decides.
        assert record(rt, head).assignee == "r03"
        assert record(rt, spine).assignee == "r03"
        # Garde's order reads the earlier deadline first; this policy the shorter read.
        assert reading.next("r03", T0 + 3 * minute).study_uid == spine
    finally:
        rt.close()
