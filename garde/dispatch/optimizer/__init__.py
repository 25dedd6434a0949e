"""CP-SAT re-planning of the unstarted queue (see `cpsat.replan`)."""

from garde.dispatch.optimizer.cpsat import (
    Move,
    ReplanResult,
    SolverSettings,
    greedy_plan,
    replan,
)
from garde.dispatch.optimizer.plan import CostWeights, PlanCost, ReaderCapacity

__all__ = [
    "CostWeights",
    "Move",
    "PlanCost",
    "ReaderCapacity",
    "ReplanResult",
    "SolverSettings",
    "greedy_plan",
    "replan",
]
