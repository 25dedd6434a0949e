"""Taking a study a reader did not get from the router: a claim, or a pull by `next`.

A pending study nobody holds may be claimed by anyone who may read it. Another reader's
queued (not started) study may be taken only when that lowers its predicted lateness,
or when its holder is off shift (it then waits for nobody); never from under an
operator's pin. A colleague's study that late binding (`latebinding.next_pull`) offers
is taken only if the store still has it where the board said, readable by the puller,
not released by them and not pinned. The services word each refusal for the reader;
the decisions are here, pure: the store's facts come in as a `model.Placed` (a
`garde.store.records.StudyRecord` is one), the predictions from the board.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState
from garde.dispatch.router import may_read

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Placed, Radiologist, Study

_ZERO = timedelta(0)


class Verdict(StrEnum):
    """The outcome of the take-over rule for another reader's queued study."""

    HOLDER_OFF_SHIFT = "holder_off_shift"  # it waits for nobody: anyone may take it
    LESS_LATE = "less_late"  # the claimer would read it less late than its holder
    NOT_LESS_LATE = "not_less_late"  # refused
    UNPREDICTABLE = "unpredictable"  # not on the board (or not triaged): refused


@dataclass(frozen=True, slots=True)
class Takeover:
    """The take-over rule's verdict, with the predicted lateness it compared."""

    verdict: Verdict
    holder_late: timedelta | None = None
    claimer_late: timedelta | None = None

    @property
    def allowed(self) -> bool:
        """Whether the claimer may take the study."""
        return self.verdict in {Verdict.HOLDER_OFF_SHIFT, Verdict.LESS_LATE}


def claim_event(state: StudyState) -> StudyEvent:
    """The lifecycle event of a claim: a pending study is assigned, a queued one reassigned."""
    return StudyEvent.ASSIGNED if state is StudyState.PENDING else StudyEvent.REASSIGNED


def already_theirs(placed: Placed, claimer: str) -> bool:
    """The study is queued for ``claimer`` already (nothing to claim)."""
    return placed.assignee == claimer and placed.state is StudyState.ASSIGNED


def pinned_to_another(placed: Placed, claimer: str) -> bool:
    """An operator pinned the study to someone other than ``claimer``: it stays there."""
    return placed.pinned_by is not None and placed.assignee not in {None, claimer}


def takeover(
    study: Study | None, board: Board, holder: str, claimer: str, now: datetime
) -> Takeover:
    """Whether ``claimer`` may take ``study`` from ``holder``'s queue at ``now``.

    Allowed when the holder is off shift (or off the roster), or when the claimer's
    predicted lateness is strictly below the holder's (both predicted on ``board``, each
    reader's queue ahead of it included); refused when the study (None: not triaged) or
    the claimer is not on the board, where nothing can be predicted.
    """
    if study is None or study.uid not in board or claimer not in board.ids:
        return Takeover(Verdict.UNPREDICTABLE)
    if not board.may_read_now(holder, None, now):
        return Takeover(Verdict.HOLDER_OFF_SHIFT)
    theirs = max(board.predicted_finish(study.uid, now) - study.deadline, _ZERO)
    evaluation = board.evaluate(study, now)
    mine = timedelta(milliseconds=int(evaluation.late_ms[board.index_of(claimer)]))
    verdict = Verdict.LESS_LATE if mine < theirs else Verdict.NOT_LESS_LATE
    return Takeover(verdict, holder_late=theirs, claimer_late=mine)


def pull_applies(placed: Placed, reader: Radiologist, holder: str) -> bool:
    """Whether a late-binding pull of a study the board has with ``holder`` still
    stands in the store: still queued with them, readable by ``reader`` (the one
    permission rule, `router.may_read`), not released by ``reader``, not pinned."""
    return (
        placed.state is StudyState.ASSIGNED
        and placed.assignee == holder
        and may_read(reader, placed.site_id, placed.skills, flagged=placed.fallback) is None
        and placed.released_by != reader.id
        and placed.pinned_by is None  # an operator's decision sticks
    )


def may_take(placed: Placed, reader: Radiologist) -> bool:
    """Whether ``reader``'s `next` may take the study: their own queued one, or a triaged
    pending one nobody holds that they did not release; either under the one permission
    rule (`router.may_read`), so `next` never takes what `start` would refuse."""
    if may_read(reader, placed.site_id, placed.skills, flagged=placed.fallback) is not None:
        return False
    if placed.state is StudyState.ASSIGNED:
        return placed.assignee == reader.id
    return (
        placed.state is StudyState.PENDING
        and placed.assignee is None
        and placed.priority is not None
        and placed.released_by != reader.id
    )


def as_fallback(reader: Radiologist, placed: Placed) -> bool:
    """Whether ``reader`` holds the study as the fallback pool (flagged, lacking a skill)
    rather than as an eligible reader (the flag follows who holds it)."""
    return placed.fallback and may_read(reader, placed.site_id, placed.skills) is not None
