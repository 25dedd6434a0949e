"""Which queued studies a handover or a reload hands on (issue 16 item 1).

At a shift's end, the unstarted queue of every reader on the board who is no longer on
shift is routed again (`handed_over`); a study being read stays with its reader (a
read is not interrupted by the end of a shift: a queue holds only unstarted work).
After a configuration change, the unstarted studies an on-shift reader may no longer
read (a credential or a skill taken away) are routed again (`no_longer_readable`).
Where each goes is `garde.dispatch.reroute`'s; a move needs someone to move to
(`moves_to`): with nobody, a study stays where it is and the SLA watch escalates it if
it runs late. Pure: `garde.services.handover` applies it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Study
    from garde.dispatch.router import Decision


def handed_over(board: Board, now: datetime) -> list[tuple[str, Study]]:
    """(reader, study) of every queued study whose reader is off shift at ``now``, in
    the board's reader order and each queue's order."""
    on_shift = set(board.on_shift(now))
    return [(rid, s) for rid in board.ids if rid not in on_shift for s in board.queue(rid)]


def no_longer_readable(board: Board, now: datetime) -> list[tuple[str, Study]]:
    """(reader, study) of every queued study an on-shift reader may not read now."""
    return [
        (rid, s)
        for rid in board.on_shift(now)
        for s in board.queue(rid)
        if not board.may_read_now(rid, s, now)
    ]


def moves_to(decision: Decision | None) -> str | None:
    """Who a re-routed queued study moves to; None: it stays (nobody to take it)."""
    return None if decision is None else decision.radiologist_id
