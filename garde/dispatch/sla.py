"""Service-level deadlines and escalation tiers.

A priority with a target in the `SlaPolicy` is due ``target`` after arrival. One
without (routine work) is due at the next morning handover in the sending site's local
time, computed with `zoneinfo` so that the nights when clocks change are right. Routine
work arriving within ``routine_cutoff`` of that handover belongs to the day team that
starts then: it is due at the handover plus ``day_routine_target``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from garde.dispatch.model import Priority

if TYPE_CHECKING:
    from garde.dispatch.model import SlaPolicy, Study


class EscalationTier(StrEnum):
    """How far past its target share of the SLA a study is; members in escalation order."""

    ALERT = "alert"
    REASSIGN = "reassign"
    SUPERVISOR = "supervisor"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def next_handover(policy: SlaPolicy, after: datetime, timezone: str) -> datetime:
    """The first morning handover strictly after ``after``, in UTC.

    The handover is a wall-clock time of the site (``policy.morning_handover``); on a
    day when it does not exist (clocks jump past it) it lands just after the jump.
    """
    _require_aware("after", after)
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    day = local.date()
    while True:
        # Combining on the calendar day (not adding 24 h) keeps the wall-clock time
        # across a DST change; a round trip through UTC normalises a skipped time.
        candidate = datetime.combine(day, policy.morning_handover, tzinfo=zone).astimezone(UTC)
        if candidate > after:
            return candidate
        day += timedelta(days=1)


def deadline(
    policy: SlaPolicy, priority: Priority | str, arrived_at: datetime, timezone: str
) -> datetime:
    """When a study of ``priority`` arriving at ``arrived_at`` must be read (UTC).

    Parameters
    ----------
    policy
        Targets per priority and the morning handover.
    priority
        The triaged priority (a `Priority` or its value).
    arrived_at
        Arrival of the study's first instance, timezone-aware.
    timezone
        IANA name of the sending site's time zone (for the handover).

    Returns
    -------
    datetime
        ``arrived_at + target``, or the next morning handover if the priority has no
        target (routine work is due by morning); if that handover is less than
        ``policy.routine_cutoff`` away, the handover plus ``policy.day_routine_target``
        (the day team's start plus its SLA).
    """
    _require_aware("arrived_at", arrived_at)
    target = policy.targets.get(Priority(priority))
    if target is not None:
        return (arrived_at + target).astimezone(UTC)
    handover = next_handover(policy, arrived_at, timezone)
    if handover - arrived_at < policy.routine_cutoff:
        return handover + policy.day_routine_target
    return handover


def limit_of(policy: SlaPolicy, study: Study) -> datetime:
    """The contractual limit of ``study`` (UTC): its arrival plus its priority's limit.

    A priority whose limit is its target (or that has none: routine, due by morning)
    has its deadline as its limit.
    """
    limit = policy.limits.get(study.priority)
    if limit is None:
        return study.deadline
    return max(study.deadline, (study.arrived_at + limit).astimezone(UTC))


def tier_times(policy: SlaPolicy, study: Study) -> dict[EscalationTier, datetime]:
    """When each escalation tier falls due for ``study``.

    The alert and reassign tiers are fractions of the span to the target the router aims
    at (its deadline): a study drifting from the target is moved while there is time.
    The supervisor tier is a fraction of the span to the contractual limit: a supervisor
    is called for a contract about to break, not for a missed aim.
    """
    span = study.deadline - study.arrived_at
    limit_span = limit_of(policy, study) - study.arrived_at
    tiers = policy.tiers
    return {
        EscalationTier.ALERT: study.arrived_at + span * tiers.alert,
        EscalationTier.REASSIGN: study.arrived_at + span * tiers.reassign,
        EscalationTier.SUPERVISOR: study.arrived_at + limit_span * tiers.supervisor,
    }


def due_tier(policy: SlaPolicy, study: Study, now: datetime) -> EscalationTier | None:
    """The highest escalation tier ``study`` has reached at ``now`` (None: none yet).

    Tiers are fractions of the study's SLA span (arrival to deadline), so a routine
    study due at the handover escalates in proportion to the time it had.
    """
    _require_aware("now", now)
    reached = None
    for tier, at in tier_times(policy, study).items():
        if now >= at:
            reached = tier
    return reached


def next_escalation(policy: SlaPolicy, study: Study, now: datetime) -> datetime | None:
    """When the next tier not yet reached falls due (None: every tier is reached)."""
    upcoming = [at for at in tier_times(policy, study).values() if at > now]
    return min(upcoming, default=None)
