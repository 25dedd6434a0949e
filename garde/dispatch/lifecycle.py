"""The study lifecycle: one transition table, (state, event) -> (action, next state).

Like pynetdicom's association state machine, every legal step is a row of
`TRANSITIONS`; anything else raises `IllegalTransition`. Services look the step up
before they change anything, then perform its action.

::

    RECEIVING --became_stable / first_series_stroke--> PENDING --assigned--> ASSIGNED
    ASSIGNED --started--> IN_PROGRESS --finished--> DONE
    ASSIGNED / IN_PROGRESS --released--> PENDING        (handover, pre-empted plan...)
    ASSIGNED --reassigned--> ASSIGNED                    (late binding, re-plan)
    PENDING --unassigned--> PENDING                      (routed to nobody: flagged)
    PENDING / ASSIGNED / IN_PROGRESS --hand_assigned--> ASSIGNED   (an operator)
    ASSIGNED / IN_PROGRESS --pinned--> unchanged         (an operator pins it in place)

The store's moves take events, never states (`StudyRepository.move`,
`ClaimRepository.move`): this table is the only place a next state is decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from garde.dispatch.errors import IllegalTransition
from garde.dispatch.model import StudyState

if TYPE_CHECKING:
    from collections.abc import Iterable


class StudyEvent(StrEnum):
    """What can happen to a study."""

    INSTANCE_RECEIVED = "instance_received"  # another instance arrived
    BECAME_STABLE = "became_stable"  # no new instance for the stable age
    FIRST_SERIES_STROKE = "first_series_stroke"  # stroke protocol: dispatch at once
    ASSIGNED = "assigned"  # routed into a radiologist's tentative queue
    UNASSIGNED = "unassigned"  # routed, but nobody may read it (flagged, kept)
    REASSIGNED = "reassigned"  # moved to another queue (late binding, re-plan, escalation)
    STARTED = "started"  # a radiologist opened it
    FINISHED = "finished"  # read and reported
    RELEASED = "released"  # handed back (shift over, reader unavailable)
    HAND_ASSIGNED = "hand_assigned"  # an operator gives it to someone, a read in hand too
    PINNED = "pinned"  # an operator pins it to the reader who has it


class Action(StrEnum):
    """What a service does when it applies a transition."""

    NONE = "none"  # only record the instance / the fact
    ROUTE = "route"  # triage, set the deadline and route
    NOTIFY_READER = "notify_reader"  # the plan changed for a reader
    FLAG = "flag"  # no reader: alert the operators and the supervisor
    LOCK = "lock"  # leaves the tentative plan; nobody else may take it
    CLOSE = "close"  # record the report, stop the SLA clock
    REROUTE = "reroute"  # route it again


@dataclass(frozen=True, slots=True)
class Step:
    """One row of the table: the action to perform and the state reached."""

    action: Action
    next: StudyState


_S = StudyState
_E = StudyEvent

TRANSITIONS: dict[tuple[StudyState, StudyEvent], Step] = {
    (_S.RECEIVING, _E.INSTANCE_RECEIVED): Step(Action.NONE, _S.RECEIVING),
    (_S.RECEIVING, _E.BECAME_STABLE): Step(Action.ROUTE, _S.PENDING),
    (_S.RECEIVING, _E.FIRST_SERIES_STROKE): Step(Action.ROUTE, _S.PENDING),
    # Late instances of a study already dispatched are stored, the plan stands.
    (_S.PENDING, _E.INSTANCE_RECEIVED): Step(Action.NONE, _S.PENDING),
    (_S.PENDING, _E.ASSIGNED): Step(Action.NOTIFY_READER, _S.ASSIGNED),
    (_S.PENDING, _E.UNASSIGNED): Step(Action.FLAG, _S.PENDING),
    (_S.PENDING, _E.HAND_ASSIGNED): Step(Action.NOTIFY_READER, _S.ASSIGNED),
    (_S.ASSIGNED, _E.INSTANCE_RECEIVED): Step(Action.NONE, _S.ASSIGNED),
    (_S.ASSIGNED, _E.REASSIGNED): Step(Action.NOTIFY_READER, _S.ASSIGNED),
    (_S.ASSIGNED, _E.STARTED): Step(Action.LOCK, _S.IN_PROGRESS),
    (_S.ASSIGNED, _E.RELEASED): Step(Action.REROUTE, _S.PENDING),
    (_S.ASSIGNED, _E.HAND_ASSIGNED): Step(Action.NOTIFY_READER, _S.ASSIGNED),
    (_S.ASSIGNED, _E.PINNED): Step(Action.NONE, _S.ASSIGNED),
    (_S.IN_PROGRESS, _E.INSTANCE_RECEIVED): Step(Action.NONE, _S.IN_PROGRESS),
    (_S.IN_PROGRESS, _E.FINISHED): Step(Action.CLOSE, _S.DONE),
    (_S.IN_PROGRESS, _E.RELEASED): Step(Action.REROUTE, _S.PENDING),
    # An operator may take a read in hand from its reader (it goes back to a queue)...
    (_S.IN_PROGRESS, _E.HAND_ASSIGNED): Step(Action.NOTIFY_READER, _S.ASSIGNED),
    # ... or pin it where it is, still being read.
    (_S.IN_PROGRESS, _E.PINNED): Step(Action.NONE, _S.IN_PROGRESS),
    (_S.DONE, _E.INSTANCE_RECEIVED): Step(Action.NONE, _S.DONE),
}
"""Every legal (state, event) pair; anything absent is illegal."""


def step(state: StudyState | str, event: StudyEvent | str) -> Step:
    """The table row for ``(state, event)``.

    Raises
    ------
    IllegalTransition
        If the pair is not in `TRANSITIONS`.
    """
    key = (StudyState(state), StudyEvent(event))
    found = TRANSITIONS.get(key)
    if found is None:
        raise IllegalTransition(f"event {key[1].value!r} is not allowed in state {key[0].value!r}")
    return found


def transition(state: StudyState | str, event: StudyEvent | str) -> StudyState:
    """The state a study in ``state`` reaches on ``event`` (raises `IllegalTransition`)."""
    return step(state, event).next


def walk(
    state: StudyState | str, events: Iterable[StudyEvent | str], *, study_uid: str = ""
) -> tuple[StudyState, ...]:
    """The states reached from ``state`` through ``events``, one per event, in order (one
    store move may take several steps: `next` assigns and starts at once, a release
    re-routes). ``study_uid`` names the study in the error.

    Raises
    ------
    IllegalTransition
        If any step is not in `TRANSITIONS` (naming the study, the event and the state).
    ValueError
        If ``events`` is empty (a move with no event changes nothing).
    """
    current = StudyState(state)
    reached = []
    for event in events:
        try:
            current = transition(current, event)
        except IllegalTransition as exc:
            if not study_uid:
                raise
            raise IllegalTransition(f"study {study_uid}: {exc}") from exc
        reached.append(current)
    if not reached:
        raise ValueError("a move needs at least one event")
    return tuple(reached)


def path(
    state: StudyState | str, events: Iterable[StudyEvent | str], *, study_uid: str = ""
) -> StudyState:
    """The state reached from ``state`` through ``events`` (see `walk`)."""
    return walk(state, events, study_uid=study_uid)[-1]


def allowed_events(state: StudyState | str) -> frozenset[StudyEvent]:
    """The events a study in ``state`` accepts."""
    current = StudyState(state)
    return frozenset(event for (s, event) in TRANSITIONS if s is current)
