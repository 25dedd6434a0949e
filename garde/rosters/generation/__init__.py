"""Roster generation (OR-Tools CP-SAT): request, constraint helpers, solver, explanations."""

from __future__ import annotations

from garde.rosters.generation.request import (
    Availability,
    GenerationRequest,
    HardRules,
    PenaltyHit,
    Progress,
    RadiologistLoad,
    RosterSolution,
    SoftWeights,
    SolverSettings,
)
from garde.rosters.generation.solver import generate

__all__ = [
    "Availability",
    "GenerationRequest",
    "HardRules",
    "PenaltyHit",
    "Progress",
    "RadiologistLoad",
    "RosterSolution",
    "SoftWeights",
    "SolverSettings",
    "generate",
]
