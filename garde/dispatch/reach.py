"""Who must hear of a study nobody has taken, or of a notification nobody answered.

Pure rules (issue 12, "nobody unreachable"): the tiers a notification climbs when it is
not acknowledged, skipping any tier that resolves to nobody (a region with no
supervisor on shift goes straight to its medical director, never "kept" in silence),
which studies wait for a taker (their ``unassigned`` notice repeats), and which moves
are told at all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from garde.dispatch.explanation import Basis
from garde.dispatch.model import Priority, StudyState

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from datetime import datetime, timedelta

    from garde.dispatch.router import Decision

ACK_PRIORITIES = frozenset({Priority.STROKE, Priority.EMERGENCY})
"""Notifications of these priorities must be acknowledged, or they escalate."""

SILENT_KINDS = frozenset({"withdrawn"})
"""Notification kinds that inform and ask nothing of anyone: never escalated."""


class Tier(StrEnum):
    """Who a notification is addressed to, in the order it escalates."""

    READER = "reader"
    SUPERVISORS = "supervisors"
    MEDICAL_DIRECTOR = "medical_director"


def next_tier(
    after: Tier | str, supervisors: Sequence[str], medical_director: str
) -> tuple[Tier, tuple[str, ...]]:
    """The first tier above ``after`` that resolves to someone, and who they are.

    ``supervisors`` are those on shift now; ``medical_director`` the region's (a
    radiologist id or a contact). A tier with nobody falls through to the next; the
    medical director is the last, and is told again if it is already there.
    """
    order = list(Tier)
    start = order.index(Tier(after)) + 1
    for tier in order[start:]:
        members = tuple(supervisors) if tier is Tier.SUPERVISORS else (medical_director,)
        members = tuple(m for m in members if m)
        if members:
            return tier, members
    return Tier.MEDICAL_DIRECTOR, tuple(m for m in (medical_director,) if m)


def waits_for_a_taker(
    state: StudyState, assignee: str | None, *, flagged: bool, directors: Collection[str]
) -> bool:
    """Whether a study is one nobody on shift or on call may take: pending with nobody
    (flagged by the router), or queued with the medical director, not yet started."""
    if state is StudyState.PENDING:
        return assignee is None and flagged
    return state is StudyState.ASSIGNED and assignee is not None and assignee in directors


def notice_due(last: datetime | None, now: datetime, every: timedelta) -> bool:
    """Whether an ``unassigned`` notice is due: never sent, or sent ``every`` ago."""
    return last is None or now - last >= every


def alert_moot(state: StudyState) -> bool:
    """Whether an unanswered alert of a study in ``state`` needs no escalation: someone
    is reading it or has read it."""
    return state in {StudyState.IN_PROGRESS, StudyState.DONE}


def must_acknowledge(kind: str, priority: str | None) -> bool:
    """Whether a notification escalates when nobody acknowledges it."""
    return kind not in SILENT_KINDS and priority in {p.value for p in ACK_PRIORITIES}


def tells_assignment(
    priority: Priority, radiologist_id: str | None, priorities: Collection[Priority]
) -> bool:
    """Whether a move sends the "assigned" notification: to the new reader of a study
    of ``priorities`` (``[notify] assigned_priorities``), and to everyone for any study
    left with nobody."""
    return priority in priorities or radiologist_id is None


def nobody_may_take(decision: Decision) -> bool:
    """A routing that found nobody on shift or on call: no one at all, or the medical
    director (the ``unassigned`` notice goes out, `waits_for_a_taker`)."""
    return decision.radiologist_id is None or decision.explanation.basis is Basis.MEDICAL_DIRECTOR
