"""CP-SAT re-planning of the unstarted queue (see `cpsat.replan`)."""

from garde.dispatch.explanation import PlanCost
from garde.dispatch.optimizer.application import (
    MIN_BACKLOG,
    Application,
    Applied,
    Step,
    judge_board,
    worth_replanning,
)
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
    "MIN_BACKLOG",
    "Application",
    "Applied",
    "CostWeights",
    "Move",
    "PlanCost",
    "ReaderCapacity",
    "ReplanResult",
    "Snapshot",
    "SolverSettings",
    "Step",
    "StoreMarks",
    "Verdict",
    "board_snapshot",
    "greedy_plan",
    "judge",
    "judge_board",
    "reader_capacity",
    "replan",
    "store_marks",
    "worth_replanning",
]
