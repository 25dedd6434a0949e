"""Late binding and pre-emption: the tentative plan bends to whoever is free first.

A radiologist's queue is a plan, not a promise: until a study is started anyone who
may read it can take it. `next_for` gives a radiologist who becomes free the most
urgent study they may read, from their own queue or, when that makes it finish sooner,
from another's. `stroke_alert` names who should be interrupted mid-read for a stroke
when no eligible reader is free, and `preempt` turns the router's decision toward them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch._time import from_ms, read_ms, to_ms
from garde.dispatch.board import Code
from garde.dispatch.explanation import Basis, Exclusion
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, StudyState
from garde.dispatch.router import CANDIDATES_SHOWN, SOONEST_FIRST, route

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board, QueueKey
    from garde.dispatch.model import SlaPolicy, Study
    from garde.dispatch.router import Decision


FAIR_PULL_MARGIN = timedelta(minutes=5)
"""How much sooner a reader with more of the night's work than a colleague must finish
a study of theirs to take it (urgent and routine work). The night's work is the
router's fairness measure, `Board.night_minutes`: nominal minutes read, in hand and
queued (the holder's count includes the study in question).

Taking every study one would finish sooner sends the night to the fastest reader and
leaves the others idle. Over 200 simulated nights (seeds 1000-1199) this margin brought
the spread of reading time per shift hour from 0.195 to 0.150 (a shared
earliest-deadline queue: 0.152) for 0.2 minute more on the mean time to report of
urgent work; urgent reads within the hour 95.90 -> 95.93 %, emergencies 98.95 -> 99.02 %.
2 minutes gave 0.173; 10 minutes 0.165, with 94.2 % of urgent reads within the hour.
"""
FAIR_PULL_MARGIN_MS = int(FAIR_PULL_MARGIN.total_seconds() * 1000)


@dataclass(frozen=True, slots=True)
class Pull:
    """A study a free radiologist should read next, and whose queue it comes from.

    For a study taken from a colleague, why: when the reader would finish it, when its
    holder was predicted to, and the margin the reader had to beat (`FAIR_PULL_MARGIN`
    if they had more of the night's work, else zero).
    """

    study: Study
    from_radiologist_id: str  # equal to the reader for their own queue
    # The why, not the what: two pulls of one study from one queue are the same pull.
    finish_here: datetime | None = field(default=None, compare=False)
    finish_there: datetime | None = field(default=None, compare=False)
    margin: timedelta = field(default=timedelta(0), compare=False)


def next_pull(radiologist_id: str, board: Board, now: datetime) -> Pull | None:
    """The study ``radiologist_id`` should open now, and where it comes from.

    The head of their own queue, unless another queue holds a more urgent study (by
    queue order: priority, deadline, arrival) that they may read and would finish
    sooner than its current owner is predicted to; by `FAIR_PULL_MARGIN` sooner if they
    have more of the night's work (`Board.night_minutes`) than that owner (stroke and emergency
    work excepted). None if they are off shift or there is nothing they may read.
    """
    if not board.may_read_now(radiologist_id, None, now):
        return None
    own_queue = board.queue(radiologist_id)
    own_key: QueueKey | None = board.key_of(own_queue[0].uid) if own_queue else None
    now_ms = to_ms(now)
    speed = board.radiologist(radiologist_id).speed
    free_ms = max(now_ms, to_ms(board.free_at(radiologist_id, now)))
    offers: list[tuple[QueueKey, Study, str]] = []
    for other in board.ids:
        if other == radiologist_id:
            continue
        for study in board.iter_queue(other):
            key = board.key_of(study.uid)
            if own_key is not None and key >= own_key:
                break  # the rest of this queue is not more urgent than our own head
            if board.may_read_now(radiologist_id, study, now):
                offers.append((key, study, other))
                break
    done = board.night_minutes(radiologist_id, now)
    for _key, study, other in sorted(offers, key=lambda o: o[0]):
        mine = free_ms + read_ms(study.reading_minutes, speed)
        theirs = to_ms(board.predicted_finish(study.uid, now))
        heavier = study.priority not in SOONEST_FIRST and done > board.night_minutes(other, now)
        margin = FAIR_PULL_MARGIN_MS if heavier else 0
        if mine < theirs - margin:
            return Pull(
                study,
                other,
                finish_here=from_ms(mine),
                finish_there=from_ms(theirs),
                margin=timedelta(milliseconds=margin),
            )
    if own_queue:
        return Pull(own_queue[0], radiologist_id)
    return None


def next_for(
    radiologist_id: str,
    board: Board,
    policy: SlaPolicy,  # noqa: ARG001 - part of the core's call shape; urgency is the queue order
    now: datetime,
) -> Study | None:
    """The most urgent study ``radiologist_id`` may read now (see `next_pull`).

    The board is not changed: the caller moves the study (`Board.reassign`) if it came
    from another queue, then starts it.
    """
    pull = next_pull(radiologist_id, board, now)
    return None if pull is None else pull.study


@dataclass(frozen=True, slots=True)
class StrokeAlert:
    """Interrupt ``radiologist_id`` (reading ``interrupted_uid``) for a stroke."""

    study_uid: str
    radiologist_id: str
    interrupted_uid: str
    wait_without: timedelta  # how long the stroke would wait for them to finish


def taking_events(
    state: StudyState, assignee: str | None, radiologist_id: str
) -> tuple[StudyEvent, ...]:
    """The lifecycle events of ``radiologist_id``'s `next` taking a study in ``state``
    held by ``assignee`` and starting it at once: one's own is started; a pending one
    is assigned first, a colleague's reassigned first."""
    if state is StudyState.PENDING:
        return (StudyEvent.ASSIGNED, StudyEvent.STARTED)
    if assignee != radiologist_id:
        return (StudyEvent.REASSIGNED, StudyEvent.STARTED)
    return (StudyEvent.STARTED,)


def stroke_alert(
    study: Study,
    board: Board,
    policy: SlaPolicy,  # noqa: ARG001 - part of the core's call shape
    now: datetime,
    *,
    exclude: frozenset[str] = frozenset(),
) -> StrokeAlert | None:
    """Who should be alerted mid-read for ``study``, if anyone.

    None unless it is a stroke and every eligible reader is busy reading. Then the
    eligible reader whose read in hand is the least urgent (never a stroke), then has
    the most slack before its own deadline, is interrupted (ties: the lowest id).
    Capacity is ignored: a stroke is read on top of any queue.
    """
    if study.priority is not Priority.STROKE:
        return None
    evaluation = board.evaluate(study, now, exclude)
    now_ms = to_ms(now)
    best: tuple[int, int] | None = None
    alert: StrokeAlert | None = None
    for i, rid in enumerate(board.ids):
        if evaluation.code[i] not in {Code.ELIGIBLE, Code.AT_CAPACITY}:
            continue
        reading = board.reading(rid)
        if not reading:
            return None  # someone eligible is free: the stroke heads their queue
        # A read past its estimate is still a read in hand: its reader is busy, for an
        # unknown while (the board gives it another third of its estimate), and the
        # stroke must not wait on it.
        free_ms = to_ms(board.free_at(rid, now))
        held = [board.get(uid) for uid in reading]
        current = min((s for s in held if s is not None), key=lambda s: s.priority.rank)
        if current.priority is Priority.STROKE:
            continue
        slack = to_ms(current.deadline) - free_ms
        # The least urgent read in hand first (highest rank), then the most slack.
        score = (current.priority.rank, slack)
        if best is None or score > best:  # strict: ties keep the lowest id
            best = score
            alert = StrokeAlert(
                study.uid, rid, current.uid, timedelta(milliseconds=free_ms - now_ms)
            )
    return alert


def preempt(
    study: Study, decision: Decision, board: Board, policy: SlaPolicy, now: datetime
) -> tuple[Decision, StrokeAlert | None]:
    """The router's ``decision`` for a stroke, turned toward the reader to interrupt.

    When every eligible reader is mid-read, `stroke_alert` names who (the least urgent
    read in hand, then the most slack): the stroke goes to them, to be read now rather
    than after their read (the router alone would queue it behind whoever finishes
    first). The router's choice and no alert when someone eligible is free, when it is
    not a stroke, or when the reader named may not take it after all (capacity). The
    explanation of a pre-emption (basis ``preempt``) names the interrupted read and keeps
    the router's real candidates and exclusions.
    """
    if study.priority is not Priority.STROKE or decision.radiologist_id is None:
        return decision, None
    if decision.fallback:
        return decision, None
    alert = stroke_alert(study, board, policy, now)
    if alert is None:
        return decision, None
    if alert.radiologist_id == decision.radiologist_id:
        return _preempting(decision, decision, alert), alert
    others = frozenset(board.ids) - {alert.radiologist_id}
    interrupted = route(study, board, policy, now, exclude=others)
    if interrupted.radiologist_id != alert.radiologist_id or interrupted.fallback:
        return decision, None
    return _preempting(decision, interrupted, alert), alert


def _preempting(decision: Decision, interrupted: Decision, alert: StrokeAlert) -> Decision:
    """The pre-emption told truthfully: the router's real candidates and exclusions
    (not the "everyone else excluded by the caller" of the narrowed route that checked
    the reader may take it), the interrupted reader first, the read they interrupt."""
    reader = alert.radiologist_id
    original = decision.explanation
    mine = tuple(c for c in interrupted.explanation.candidates if c.radiologist_id == reader)[:1]
    rest = tuple(c for c in original.candidates if c.radiologist_id != reader)
    excluded = []
    was_excluded = False
    for group in original.excluded:
        ids = tuple(r for r in group.radiologist_ids if r != reader)
        was_excluded = was_excluded or len(ids) < len(group.radiologist_ids)
        if ids:
            excluded.append(Exclusion(group.reason, ids))
    explanation = replace(
        original,
        chosen=reader,
        basis=Basis.PREEMPT,
        candidates=(*mine, *rest)[:CANDIDATES_SHOWN],
        eligible=original.eligible + int(was_excluded),
        excluded=tuple(excluded),
        interrupts=alert.interrupted_uid,
        wait_without_ms=int(alert.wait_without.total_seconds() * 1000),
    )
    return replace(interrupted, explanation=explanation)
