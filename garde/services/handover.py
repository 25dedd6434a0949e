"""Shift handover: the unstarted work of a radiologist gone off shift is re-dispatched.

At each run the roster is reloaded from the store (a roster imported by another process
takes effect here), then every queued study of a radiologist no longer on shift is
routed again without them and moved if someone on shift may take it. A study being read
stays with its reader: reading is not interrupted by the end of a shift. A study nobody
on shift may take goes to the fallback pool on call now, else to the region's medical
director (never to someone off shift), as `DispatchService.broaden` would send it:
urgent work at once, routine work after ``uncovered_routine_delay`` from the end of the
shift. With nobody at all it stays where it is (the SLA watch escalates it if it runs
late). The radiologist who released a study is never given it back by a handover, and
a study an operator pinned stays with its reader (`DispatchService.reassign`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from garde.dispatch.handover import handed_over, moves_to, no_longer_readable
from garde.dispatch.reroute import Cause, Rerouting, shift_ended
from garde.store.enums import AssignedBy

if TYPE_CHECKING:
    from datetime import datetime

    from garde.services.dispatcher import DispatchService

logger = logging.getLogger(__name__)


def hand_over(dispatch: DispatchService, now: datetime) -> dict[str, str]:
    """Re-dispatch the queues of radiologists off shift at ``now``.

    Returns
    -------
    dict[str, str]
        StudyInstanceUID -> the radiologist it moved to.
    """
    orphans = dispatch.refresh_roster(now)
    if orphans:
        dispatch.reroute_orphans(orphans, now, actor="handover")
    moved: dict[str, str] = {}
    with dispatch.lock:
        board = dispatch.board
        queued = handed_over(board, now)
        released = _releasers(dispatch, [s.uid for _, s in queued])
        for rid, study in queued:
            facts = Rerouting(
                Cause.SHIFT_OVER,
                holder=rid,
                released_by=released.get(study.uid),
                waiting_since=shift_ended(board.shifts(rid), now),
                routine_delay=dispatch.uncovered_routine_delay,
            )
            decision = dispatch.reroute(study, facts, now)
            to = moves_to(decision)
            if (
                decision is not None
                and to is not None
                and dispatch.reassign(
                    study.uid,
                    to,
                    now,
                    by=AssignedBy.HANDOVER,
                    actor="handover",
                    action="handover",
                    decision=decision,
                    detail={"reason": "shift over", "fallback": decision.fallback},
                )
            ):
                moved[study.uid] = to
    if moved:
        logger.info("handover: %d unstarted studies re-dispatched", len(moved))
    return moved


def redispatch_ineligible(dispatch: DispatchService, now: datetime) -> dict[str, str]:
    """Move unstarted studies whose on-shift reader may no longer read them (after a
    config change took a credential or a skill away); returns UID -> new reader."""
    moved: dict[str, str] = {}
    with dispatch.lock:
        unreadable = no_longer_readable(dispatch.board, now)
        released = _releasers(dispatch, [s.uid for _, s in unreadable])
        for rid, study in unreadable:
            facts = Rerouting(
                Cause.NO_LONGER_ELIGIBLE, holder=rid, released_by=released.get(study.uid)
            )
            # None: nobody eligible, and it is where the fallback pool reads it.
            decision = dispatch.reroute(study, facts, now)
            to = moves_to(decision)
            if to is not None and dispatch.reassign(
                study.uid,
                to,
                now,
                by=AssignedBy.OPERATOR,
                actor="reload",
                action="reroute",
                decision=decision,
                detail={"reason": "no longer eligible"},
            ):
                moved[study.uid] = to
    return moved


def _releasers(dispatch: DispatchService, study_uids: list[str]) -> dict[str, str]:
    """Who last released each of these studies (see `DispatchService.broaden`)."""
    if not study_uids:
        return {}
    with dispatch.uow_factory() as uow:
        return uow.studies.releasers(study_uids)
