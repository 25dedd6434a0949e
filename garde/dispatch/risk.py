"""When a study is at risk of missing its deadline, in the two views that show it.

A reader's worklist flags a study by its clock alone (`window_risk`): ``late`` past its
deadline, ``at_risk`` with less than `AT_RISK_FRACTION` of its SLA window left, ``ok``
otherwise. The operators' night status (`garde status`) lists a study with the first
reason that holds (`status_reason`): nobody holds it, its deadline passed, its reader's
queue is predicted to finish it late, or the SLA watch escalated it. Pure: the caller
passes ``now`` and, for the status, the board's predicted finish.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

AT_RISK_FRACTION = 0.25
"""A study is at risk when less than this share of its SLA window is left."""


class WindowRisk(StrEnum):
    """A worklist line's risk (``garde worklist --filter risk=...``)."""

    LATE = "late"
    AT_RISK = "at_risk"
    OK = "ok"


class StatusReason(StrEnum):
    """Why the night status lists a study as at risk."""

    NO_READER = "no reader"
    BREACHED = "breached"
    PREDICTED_LATE = "predicted late"
    ESCALATED = "escalated"


def window_risk(deadline: datetime | None, arrived: datetime, now: datetime) -> WindowRisk:
    """A study's risk by its clock: late, at risk (under `AT_RISK_FRACTION` of the window
    from ``arrived`` to ``deadline`` left), or ok (also when it has no deadline yet)."""
    if deadline is None:
        return WindowRisk.OK
    left = (deadline - now).total_seconds()
    if left <= 0:
        return WindowRisk.LATE
    window = (deadline - arrived).total_seconds()
    return WindowRisk.AT_RISK if left < AT_RISK_FRACTION * window else WindowRisk.OK


def status_reason(
    *,
    holder: str | None,
    deadline: datetime,
    predicted_finish: datetime | None,
    escalation_level: int,
    now: datetime,
) -> StatusReason | None:
    """Why the night status lists a triaged study (the first reason that holds), or None
    when it is on course: nobody holds it, ``now`` is past its deadline, the board
    predicts it finished after its deadline, or it reached an escalation tier."""
    if holder is None:
        return StatusReason.NO_READER
    if now > deadline:
        return StatusReason.BREACHED
    if predicted_finish is not None and predicted_finish > deadline:
        return StatusReason.PREDICTED_LATE
    if escalation_level > 0:
        return StatusReason.ESCALATED
    return None
