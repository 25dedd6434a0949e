"""Routing a study again: whom it must not go back to, and whether it moves at all.

Every service path that routes a study which already had a place goes through here:
the coverage sweep gives studies waiting for a reader another chance
(`DispatchService.broaden`, and the SLA watch for one nobody holds), a reader leaves the
roster (`reroute_orphans`), a shift ends (`hand_over`), a reader may no longer read what
they hold after a config reload (`redispatch_ineligible`), a reader releases it
(`ReadingService.release`), and the SLA watch looks for a reader who would finish a
late study sooner or, at breach, for a supervisor. Each is one call of `reroute` with
its `Cause`: the same exclusions (`barred`) and the rule of its cause decide, here,
whether the study moves and to whom; the services only load the facts, call it and
store the answer.

The rules of uncovered work (`must_wait`, `takes_from_gone_reader`): a study nobody on
shift may read goes to the fallback pool, at once unless it is routine work that has
waited less than the region's ``uncovered_routine_delay`` for a credentialed reader to
come on shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from garde.dispatch.lifecycle import StudyEvent, allowed_events
from garde.dispatch.model import Priority, StudyState
from garde.dispatch.router import may_read
from garde.dispatch.routing import GARDE
from garde.dispatch.sla import EscalationTier

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Placed, Radiologist, Shift, SlaPolicy, Study
    from garde.dispatch.router import Decision
    from garde.dispatch.routing import RoutingPolicy


class Cause(StrEnum):
    """Why a study is routed again (each has its own rule of whether it moves)."""

    WAITING = "waiting"  # pending, nobody holds it: anyone who may take it now
    LEFT_ROSTER = "left_roster"  # its reader is gone from the roster: wherever it goes
    RELEASED = "released"  # its reader handed it back: wherever it goes, never to them
    SHIFT_OVER = "shift_over"  # its reader's shift ended: the coverage rule of a gone reader
    NO_LONGER_ELIGIBLE = "no_longer_eligible"  # a reload took a credential or skill away
    RUNNING_LATE = "running_late"  # the SLA watch: a reader who would finish it sooner
    BREACHED = "breached"  # the SLA watch at breach: a supervisor, the fallback pool...


@dataclass(frozen=True, slots=True)
class Rerouting:
    """The facts of one re-route, as the store has them.

    ``holder`` is whoever has the study now (None: nobody), ``released_by`` who last
    handed it back; ``waiting_since`` is when it started waiting for coverage (None: it
    waits for nothing, e.g. at breach); ``routine_delay`` the region's
    ``uncovered_routine_delay``.
    """

    cause: Cause
    holder: str | None = None
    released_by: str | None = None
    waiting_since: datetime | None = None
    routine_delay: timedelta = timedelta(0)


class Stay(StrEnum):
    """Why the router's move of a queued study does not happen (it stays)."""

    MOVED_ON = "moved_on"  # the store no longer has it queued with the board's owner
    RELEASED_BY_TARGET = "released_by_target"  # a release is never undone by a move
    PINNED = "pinned"  # an operator's assignment sticks until released or unpinned


def stays(placed: Placed, owner: str, to: str) -> Stay | None:
    """Why a move of a study the board has queued with ``owner`` to ``to`` (handover,
    re-plan, escalation, reload) must not happen, or None when it may: the store must
    still have it queued with ``owner`` (another process may have claimed or started
    it), ``to`` must not be who released it, and no operator may have pinned it."""
    if placed.assignee != owner or StudyEvent.REASSIGNED not in allowed_events(placed.state):
        return Stay.MOVED_ON
    if placed.released_by == to:
        return Stay.RELEASED_BY_TARGET
    if placed.pinned_by is not None:
        return Stay.PINNED
    return None


class Unmoved(StrEnum):
    """What an escalation tier does to a study it does not route again (its outcome)."""

    IN_PROGRESS = "in_progress"  # being read: it stays with its reader at every tier
    NOTIFIED = "notified"  # the alert tier only tells
    PINNED = "pinned"  # an operator's decision: its reader and the supervisors are told
    KEPT = "kept"  # its reader is not on the board (left the roster): reload moves it


def escalation(tier: EscalationTier, placed: Placed, owner: str | None) -> Cause | Unmoved:
    """What reaching ``tier`` does to a study the store has as ``placed`` and the board
    queues with ``owner`` (None: not on the board): routed again for a `Cause`, or left
    where it is (`Unmoved`). A study nobody holds is routed to whoever may take it now,
    from the reassign tier on; a queued one to a reader who would finish it sooner, and
    at breach (the supervisor tier) up the breach ladder."""
    if placed.state is StudyState.IN_PROGRESS:
        return Unmoved.IN_PROGRESS
    if tier is EscalationTier.ALERT:
        return Unmoved.NOTIFIED
    if placed.pinned_by is not None:
        return Unmoved.PINNED
    if owner is None:
        return Unmoved.KEPT if placed.assignee is not None else Cause.WAITING
    return Cause.BREACHED if tier is EscalationTier.SUPERVISOR else Cause.RUNNING_LATE


def barred(released_by: str | None, *others: str | None) -> frozenset[str]:
    """The radiologists a re-route must not choose: who released the study (a release
    is never given straight back) and ``others`` (e.g. the reader it moves away from)."""
    return frozenset(r for r in (released_by, *others) if r is not None)


def reroute(
    study: Study,
    board: Board,
    policy: SlaPolicy,
    now: datetime,
    facts: Rerouting,
    *,
    routing: RoutingPolicy = GARDE,
) -> Decision | None:
    """Where ``study`` goes now, or None when it stays where it is.

    It is routed without whoever released it and without its holder, then its cause's
    rule decides: a study waiting for a reader (`Cause.WAITING`) moves to anyone who
    may take it now (routine work waits for coverage before the fallback pool); one
    whose reader left the roster or released it always moves (to nobody, flagged, if
    need be); one whose
    reader's shift ended moves under `takes_from_gone_reader`; one its reader may no
    longer read moves unless nobody eligible is there and its reader may read it as the
    fallback pool; a late one (`Cause.RUNNING_LATE`) moves only to an eligible reader
    predicted to finish it sooner than its holder; a breached one (`Cause.BREACHED`) to
    a supervisor on shift, else the fallback pool on shift, else, if its holder has gone
    off shift, where the coverage rule of a gone reader sends it (no waiting at breach).
    """
    exclude = barred(facts.released_by, facts.holder)
    cause = facts.cause
    if cause is Cause.BREACHED:
        return _at_breach(study, board, policy, now, facts, routing=routing)
    decision = routing.route(study, board, policy, now, exclude=exclude)
    if cause in {Cause.LEFT_ROSTER, Cause.RELEASED}:
        return decision
    if decision.radiologist_id is None:
        return None
    moves = True
    if cause is Cause.WAITING:
        since = facts.waiting_since
        moves = since is None or not must_wait(study, decision, since, now, facts.routine_delay)
    elif cause is Cause.SHIFT_OVER:
        moves = takes_from_gone_reader(
            study, decision, now, waiting_since=facts.waiting_since, delay=facts.routine_delay
        )
    elif cause is Cause.NO_LONGER_ELIGIBLE and facts.holder is not None:
        holder = board.radiologist(facts.holder)
        moves = not (decision.fallback and may_read_as_fallback(holder, study))
    elif cause is Cause.RUNNING_LATE:
        moves = _sooner(study, decision, board, now)
    return decision if moves else None


def must_wait(
    study: Study, decision: Decision, waiting_since: datetime, now: datetime, delay: timedelta
) -> bool:
    """Routine work nobody on shift may read waits ``delay`` from ``waiting_since`` for
    coverage before the fallback pool takes it."""
    return decision.fallback and study.priority is Priority.ROUTINE and now < waiting_since + delay


def takes_from_gone_reader(
    study: Study,
    decision: Decision,
    now: datetime,
    *,
    waiting_since: datetime | None,
    delay: timedelta,
) -> bool:
    """Whether ``decision`` should take a queued study from a reader gone off shift.

    An eligible reader on shift always; otherwise whom the router chose (a fallback
    reader the roster has on call now, else the medical director: never someone off
    shift, who may be asleep), at once unless the work is routine and has waited less
    than ``delay`` since ``waiting_since`` (None: no waiting, e.g. at breach).
    """
    if decision.radiologist_id is None:
        return False
    if not decision.fallback:
        return True
    return waiting_since is None or not must_wait(study, decision, waiting_since, now, delay)


def may_read_as_fallback(reader: Radiologist, study: Study) -> bool:
    """A study nobody eligible may read is readable by a credentialed fallback reader."""
    return may_read(reader, study.site_id, study.skills, flagged=True) is None


def shift_ended(shifts: Iterable[Shift], now: datetime) -> datetime:
    """When the last of ``shifts`` that ended by ``now`` ended (``now`` if none did)."""
    return max((s.end for s in shifts if s.end <= now), default=now)


def _sooner(study: Study, decision: Decision, board: Board, now: datetime) -> bool:
    """An eligible reader (not the fallback pool) predicted to finish ``study`` before
    its holder is."""
    if decision.fallback or not decision.explanation.candidates:
        return False
    best = decision.explanation.candidates[0]
    return best.predicted_finish < board.predicted_finish(study.uid, now)


def _at_breach(
    study: Study,
    board: Board,
    policy: SlaPolicy,
    now: datetime,
    facts: Rerouting,
    *,
    routing: RoutingPolicy,
) -> Decision | None:
    """Who takes a breached queued study (None: it stays with its holder)."""
    exclude = barred(facts.released_by, facts.holder)
    on_shift = set(board.on_shift(now))
    # A supervisor on shift first (even one who would read it as fallback), then the
    # fallback pool on shift.
    for member in (
        {r.id for r in board.radiologists() if r.supervisor},
        {r.id for r in board.radiologists() if r.fallback},
    ):
        others = frozenset(board.ids) - (member & on_shift)
        decision = routing.route(study, board, policy, now, exclude=others | exclude)
        if decision.radiologist_id is not None and decision.radiologist_id in on_shift:
            return decision
    if facts.holder in on_shift:
        return None
    # Its reader is gone: whoever the coverage rule gives it to (the fallback pool on
    # call, else the medical director) rather than nobody; a breach waits for nothing.
    decision = routing.route(study, board, policy, now, exclude=exclude)
    if takes_from_gone_reader(study, decision, now, waiting_since=None, delay=timedelta(0)):
        return decision
    return None
