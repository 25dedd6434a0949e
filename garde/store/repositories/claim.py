"""Atomic lifecycle moves: one conditional UPDATE per move, never read-then-write.

``UPDATE studies SET ... WHERE study_uid = :uid AND state = :expected AND assignee = :who``
matches one row or none. Two readers racing for the same study both send it; the
database serialises them on the row (PostgreSQL re-checks the WHERE clause after the
first commits, SQLite takes the write lock at BEGIN), so exactly one matches and the
other learns it lost from a row count of 0. The ``version`` column is bumped too, so
optimistic writers elsewhere notice the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from garde.dispatch import lifecycle
from garde.dispatch.lifecycle import StudyEvent
from garde.store.enums import AssignedBy
from garde.store.models import AssignmentRow, StudyRow

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from sqlalchemy.orm import Session

    from garde.dispatch.model import StudyState

_UNSET: Any = object()


class ClaimRepository:
    """Compare-and-set moves of a study's state and assignee, with assignment history."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def move(
        self,
        study_uid: str,
        *events: StudyEvent,
        expect_state: StudyState,
        expect_assignee: str | None,
        at: datetime,
        to_assignee: str | None = _UNSET,
        report_ref: str | None = None,
        by: AssignedBy | str = AssignedBy.OPERATOR,
        explanation: Mapping[str, Any] | None = None,
        fallback: bool | None = None,
        released_by: str | None = None,
        pinned_by: str | None = _UNSET,
    ) -> bool:
        """Move the study if, and only if, it is still in ``expect_state`` with ``expect_assignee``.

        Parameters
        ----------
        study_uid
            The StudyInstanceUID.
        events
            What happens to it, in order; the state reached is the lifecycle table's
            (`garde.dispatch.lifecycle.path` from ``expect_state``). ``started`` stamps
            ``started_at``, ``finished`` ``done_at`` and the report reference.
        expect_state, expect_assignee
            What the caller saw; the move happens only if both still hold.
        at
            When (aware UTC).
        to_assignee
            The new assignee (None: nobody); omitted: unchanged. A change is recorded in
            the assignment history with ``by`` and ``explanation``.
        report_ref
            Where the report is (with ``finished``).
        fallback
            Whether the new holder reads it as the fallback pool (flag set on the study
            and kept in the assignment history); None: unchanged.
        released_by
            Who gave it back (the router's later moves never return it to them); a
            release also ends an operator's pin.
        pinned_by
            The operator whose assignment sticks (None: unpinned); omitted: unchanged.

        Returns
        -------
        bool
            True if this call moved the study; False if someone else got there first
            (or the study does not exist).

        Raises
        ------
        IllegalTransition
            If ``events`` do not apply to ``expect_state`` (nothing is written).
        """
        to_state = lifecycle.path(expect_state, events, study_uid=study_uid)
        values: dict[str, Any] = {"state": to_state, "version": StudyRow.version + 1}
        reassigned = to_assignee is not _UNSET and to_assignee != expect_assignee
        if to_assignee is not _UNSET:
            values["assignee"] = to_assignee
            if reassigned:
                values["assigned_at"] = None if to_assignee is None else at
        if StudyEvent.STARTED in events:
            values["started_at"] = at
        if StudyEvent.FINISHED in events:
            values["done_at"] = at
            values["report_ref"] = report_ref
        if fallback is not None:
            values["fallback"] = fallback
        if released_by is not None:
            values["released_by"] = released_by
            values["pinned_by"] = None
        if pinned_by is not _UNSET:
            values["pinned_by"] = pinned_by
        who = (
            StudyRow.assignee.is_(None)
            if expect_assignee is None
            else StudyRow.assignee == expect_assignee
        )
        statement = (
            update(StudyRow)
            .where(StudyRow.study_uid == study_uid, StudyRow.state == expect_state, who)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        moved = int(self._session.execute(statement).rowcount) == 1  # type: ignore[attr-defined]
        if moved and reassigned:
            study_id = self._session.scalar(
                select(StudyRow.id).where(StudyRow.study_uid == study_uid)
            )
            self._session.add(
                AssignmentRow(
                    study_id=study_id,
                    radiologist_id=to_assignee,
                    at=at,
                    by=AssignedBy(by),
                    fallback=bool(fallback),
                    explanation=dict(explanation or {}),
                )
            )
            self._session.flush()
        return moved

    def unpin(self, study_uid: str) -> str | None:
        """End an operator's pin; returns who had pinned it (None: it was not pinned)."""
        pinned: str | None = self._session.scalar(
            select(StudyRow.pinned_by).where(StudyRow.study_uid == study_uid)
        )
        if pinned is not None:
            self._session.execute(
                update(StudyRow)
                .where(StudyRow.study_uid == study_uid)
                .values(pinned_by=None)
                .execution_options(synchronize_session=False)
            )
        return pinned

    def mark_unassigned_notice(self, study_uid: str, at: datetime) -> None:
        """Record when the last "unassigned" notice of a study went out."""
        self._session.execute(
            update(StudyRow)
            .where(StudyRow.study_uid == study_uid)
            .values(unassigned_notice_at=at)
            .execution_options(synchronize_session=False)
        )
