"""A board built from the store, for a process that does not hold the live one (the CLI).

`garde serve` keeps its board in memory; a CLI command that must route (``release``)
rebuilds a snapshot of the same inputs: the roster around ``now`` and the open studies.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.board import Board
from garde.dispatch.errors import DispatchError
from garde.dispatch.holding import holds, reading_since
from garde.dispatch.model import Study

if TYPE_CHECKING:
    from datetime import datetime

    from garde.store.ports import UnitOfWork
    from garde.store.records import StudyRecord

ROSTER_BEFORE = timedelta(days=1)
ROSTER_AFTER = timedelta(days=2)


def load_board(uow: UnitOfWork, now: datetime) -> Board:
    """The board as the store has it at ``now``: the roster, and the studies a board
    holds (`garde.dispatch.holding.holds`) of readers on it."""
    board = Board()
    board.set_roster(
        uow.directory.radiologists(),
        uow.roster.shifts_between(now - ROSTER_BEFORE, now + ROSTER_AFTER),
    )
    known = set(board.ids)
    for record in uow.studies.open_studies():
        study = study_of(record)
        if study is None or not holds(record.state, record.assignee):
            continue
        if record.assignee not in known:  # off the roster: nobody's queue to put it on
            continue
        try:
            board.assign(study, record.assignee, now)
            since = reading_since(record.state, record.started_at)
            if since is not None:
                board.start(study.uid, since)
        except DispatchError:  # an inconsistent row must not stop a reader's action
            continue
    return board


def study_of(record: StudyRecord) -> Study | None:
    """The router's view of a stored study (None until it is triaged)."""
    if record.priority is None or record.deadline is None or record.reading_minutes is None:
        return None
    return Study(
        uid=record.study_uid,
        site_id=record.site_id,
        priority=record.priority,
        skills=record.skills,
        reading_minutes=record.reading_minutes,
        arrived_at=record.first_received_at,
        deadline=record.deadline,
        patient_key=record.patient_key,
        rule=record.triage_rule or "",
    )
