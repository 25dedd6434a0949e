"""CP-SAT re-planning of the unstarted queue (see `cpsat.replan`)."""

from garde.dispatch.explanation import PlanCost
from garde.dispatch.optimizer.cpsat import (
    Move,
    ReplanResult,
    SolverSettings,
    greedy_plan,
    replan,
)
from garde.dispatch.optimizer.plan import CostWeights, ReaderCapacity
from garde.dispatch.optimizer.snapshot import (
    Snapshot,
    StoreMarks,
    board_snapshot,
    reader_capacity,
    store_marks,
)
from garde.dispatch.optimizer.verdict import Verdict, judge

__all__ = [
    "CostWeights",
    "Move",
    "PlanCost",
    "ReaderCapacity",
    "ReplanResult",
    "Snapshot",
    "SolverSettings",
    "StoreMarks",
    "Verdict",
    "board_snapshot",
    "greedy_plan",
    "judge",
    "reader_capacity",
    "replan",
    "store_marks",
]
