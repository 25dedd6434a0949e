"""The watch's rules: which escalation tier is new for a study, who supervises now, and
who may silence a study's alerts (issue 16 item 1: the services decide nothing).

The SLA watch (`garde.services.escalation`) stores the highest tier a study reached as
a level (0: none), so a restart resumes where it was; it escalates only when
`new_tier` names a tier above it. The supervisors on shift receive a breached study
(`garde.services.escalation`) and an unanswered alert (`garde.services.night_watch`).
An acknowledgement stops a study's alerts from escalating, so only those the alerts
are for may give it: an operator, the study's reader, a supervisor or the medical
director (the tiers an unanswered alert climbs to, `garde.dispatch.reach.next_tier`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.sla import EscalationTier, due_tier

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Radiologist, SlaPolicy, Study

TIER_LEVEL = {EscalationTier.ALERT: 1, EscalationTier.REASSIGN: 2, EscalationTier.SUPERVISOR: 3}
"""The stored ``escalation_tier`` of each tier (0: none reached)."""


def new_tier(policy: SlaPolicy, study: Study, now: datetime, reached: int) -> EscalationTier | None:
    """The tier ``study`` has reached at ``now`` if it is above ``reached`` (the stored
    level); None when there is nothing new to escalate. A study that crossed two tiers
    between two runs escalates once, to the higher."""
    tier = due_tier(policy, study, now)
    if tier is None or TIER_LEVEL[tier] <= reached:
        return None
    return tier


def supervisors_on_shift(board: Board, now: datetime) -> tuple[str, ...]:
    """The supervisors on shift at ``now``, in the board's radiologist order."""
    on_shift = set(board.on_shift(now))
    return tuple(r.id for r in board.radiologists() if r.supervisor and r.id in on_shift)


def may_acknowledge(
    subject: str, holder: str | None, *, operator: bool, reader: Radiologist | None
) -> bool:
    """Whether ``subject`` may acknowledge the alerts of a study ``holder`` has:
    an operator, the holder, or (``reader``, the subject's radiologist entry, None if
    they have none) a supervisor or the medical director."""
    if operator or subject == holder:
        return True
    return reader is not None and (reader.supervisor or reader.medical_director)
