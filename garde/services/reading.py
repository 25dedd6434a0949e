"""Reading actions: a radiologist starts and finishes a study (store, board, audit)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch import lifecycle
from garde.dispatch.errors import DispatchError
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import StudyState

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.store.uow import SqlUnitOfWork

logger = logging.getLogger(__name__)


class ReadingRefusedError(DispatchError):
    """The action is not allowed: not one's study, unknown study or wrong state."""


@dataclass
class ReadingService:
    """Start and finish reads; every action is audited in the same transaction."""

    uow_factory: Callable[[], SqlUnitOfWork]
    board: Board

    def start(self, study_uid: str, radiologist_id: str, now: datetime) -> None:
        """Begin reading: the study leaves the tentative plan and stays with this reader."""
        self._act(study_uid, radiologist_id, now, StudyEvent.STARTED, "start")
        self.board.start(study_uid, now)

    def finish(
        self, study_uid: str, radiologist_id: str, now: datetime, report_ref: str = ""
    ) -> None:
        """Mark the study read (with an optional report reference)."""
        self._act(study_uid, radiologist_id, now, StudyEvent.FINISHED, "done", report_ref)
        self.board.finish(study_uid, now)

    def _act(  # noqa: PLR0917 - private; the public actions name every argument
        self,
        study_uid: str,
        radiologist_id: str,
        now: datetime,
        event: StudyEvent,
        action: str,
        report_ref: str = "",
    ) -> None:
        with self.uow_factory() as uow:
            record = uow.studies.get(study_uid)
            if record is None:
                raise ReadingRefusedError(f"unknown study {study_uid}")
            if record.assignee != radiologist_id:
                raise ReadingRefusedError(f"study {study_uid} is not assigned to {radiologist_id}")
            try:
                state = lifecycle.transition(record.state, event)
            except DispatchError as exc:
                raise ReadingRefusedError(f"study {study_uid}: {exc}") from exc
            if state is StudyState.IN_PROGRESS:
                uow.studies.start(study_uid, now)
            else:
                uow.studies.finish(study_uid, now, report_ref)
            uow.audit.append(
                at=now,
                actor=radiologist_id,
                action=action,
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                detail={"report_ref": report_ref} if report_ref else {},
            )
            uow.commit()
        logger.info("study %s: %s by %s", study_uid, action, radiologist_id)
