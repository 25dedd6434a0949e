"""What a board holds of the stored studies (issue 16 item 1).

The store is the truth and a board its snapshot: the live one of `garde serve`
(`DispatchService.reconcile` folds in what other processes changed) and the one a CLI
command loads to route (`garde.services.snapshot.load_board`). Both place a study by
the same rule: a board holds a study that is queued with a reader or being read
(`holds`), and shows it started from when its reading began (`reading_since`). A
study nobody holds yet waits for a reader (`waits_for_a_reader`): the coverage sweep
and the SLA watch route it, and only while it still waits. A study a board holds moves
to another reader (handover, escalation, re-plan, reload) only while it is queued
(`may_move`): a read in hand is never taken from its reader by a router's move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.dispatch.model import StudyState

if TYPE_CHECKING:
    from datetime import datetime

HELD_STATES = frozenset({StudyState.ASSIGNED, StudyState.IN_PROGRESS})
"""The states in which a study is on its reader's queue (queued or being read)."""


def holds(state: StudyState, assignee: str | None) -> bool:
    """Whether a board holds a stored study: someone has it, queued or reading."""
    return assignee is not None and state in HELD_STATES


def reading_since(state: StudyState, started_at: datetime | None) -> datetime | None:
    """When the board shows the study started (None: not being read, or the store does
    not know when its reading began)."""
    return started_at if state is StudyState.IN_PROGRESS else None


def waits_for_a_reader(state: StudyState, assignee: str | None) -> bool:
    """Whether a stored study waits for someone to route it to: dispatched, nobody's."""
    return state is StudyState.PENDING and assignee is None


def may_move(owner: str | None, to: str, *, started: bool) -> bool:
    """Whether a router's move may take a study from ``owner`` (its holder on the
    board, None if it holds none) to ``to``: held, not started, and to someone else."""
    return owner is not None and owner != to and not started
