"""Coded values the store persists that the core does not define."""

from __future__ import annotations

from enum import StrEnum

PURGE_ACTION = "purge_pixels"
"""The audit action that marks a study's pixel data as purged (retention)."""


class AssignedBy(StrEnum):
    """Who made an assignment (kept in the assignment history)."""

    ROUTER = "router"  # the greedy router, at dispatch
    OPTIMIZER = "optimizer"  # the CP-SAT re-plan
    OPERATOR = "operator"  # a human (claim, manual reassignment)
    HANDOVER = "handover"  # the radiologist went off shift
    ESCALATION = "escalation"  # the SLA watch reassigned it


class PreviewKind(StrEnum):
    """Kinds of rendered previews; free text is accepted too, these are the known ones."""

    THUMBNAIL = "thumbnail"
    MID_SLICE = "mid_slice"
    MONTAGE = "montage"
    MIP = "mip"
    PAGE = "page"


class GenerationKind(StrEnum):
    """What changed, for the generation counters every `garde serve` node watches."""

    ROSTER = "roster"  # the stored shifts
    CONFIG = "config"  # a `garde reload`: every node re-reads its settings file
