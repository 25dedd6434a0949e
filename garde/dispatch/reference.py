"""The reference router: the same decision as `router.route`, recomputed from scratch.

It rescans every radiologist's shifts, reads in hand and queue in plain Python for each
decision, the way a straightforward implementation would. It is the test oracle for the
board's incremental arrays (both must agree to the millisecond) and the baseline of
``benchmarks/routing.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from garde.dispatch._time import NEVER, read_ms, to_ms
from garde.dispatch.board import OVERRUN_SHARE, Code, Evaluation, queue_key
from garde.dispatch.router import decide

if TYPE_CHECKING:
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Radiologist, Shift, SlaPolicy, Study
    from garde.dispatch.router import Decision


def _coverage(shifts: tuple[Shift, ...], now_ms: int) -> tuple[int, int, list[Shift]]:
    """(run start, run end, shifts covering now) of the unbroken run of shifts at now."""
    covering = [s for s in shifts if to_ms(s.start) <= now_ms < to_ms(s.end)]
    if not covering:
        return NEVER, -NEVER, []
    start = min(to_ms(s.start) for s in covering)
    end = max(to_ms(s.end) for s in covering)
    changed = True
    while changed:
        changed = False
        for s in shifts:
            s_start, s_end = to_ms(s.start), to_ms(s.end)
            if s_start < start <= s_end:
                start, changed = s_start, True
            if s_start <= end < s_end:
                end, changed = s_end, True
    return start, end, covering


def _code(
    rad: Radiologist, study: Study, board: Board, covering: list[Shift], exclude: frozenset[str]
) -> Code:
    queued = board.queue(rad.id)
    open_count = len(queued) + len(board.reading(rad.id))
    if any(s.uid == study.uid for s in queued):
        open_count -= 1
    site_in_shift = any(s.sites is None or study.site_id in s.sites for s in covering)
    checks = (
        (rad.id in exclude, Code.EXCLUDED),
        (not covering, Code.OFF_SHIFT),
        (study.site_id not in rad.sites, Code.NO_CREDENTIAL),
        (not site_in_shift, Code.SITE_NOT_IN_SHIFT),
        (not study.skills <= rad.skills, Code.MISSING_SKILL),
        (open_count >= rad.max_parallel, Code.AT_CAPACITY),
    )
    return next((code for failed, code in checks if failed), Code.ELIGIBLE)


def evaluate(
    study: Study, board: Board, now: datetime, exclude: frozenset[str] = frozenset()
) -> Evaluation:
    """`Board.evaluate`, recomputed from the board's plain records."""
    now_ms = to_ms(now)
    key = queue_key(study)
    rows: list[tuple[int, int, int, int, int, bool]] = []
    for rad in board.radiologists():
        night_start, end, covering = _coverage(board.shifts(rad.id), now_ms)
        busy = -NEVER
        tail = 0
        reading = sorted(board.reading(rad.id).items(), key=lambda x: (x[1], x[0]))
        load = 0
        for uid, started in reading:
            held = board.get(uid)
            assert held is not None
            duration = read_ms(held.reading_minutes, rad.speed)
            busy = max(busy, to_ms(started)) + duration
            tail = round(duration * OVERRUN_SHARE)
            load += read_ms(held.reading_minutes, 1.0)
        start = max(now_ms + tail, busy)
        for queued in board.queue(rad.id):
            load += read_ms(queued.reading_minutes, 1.0)
            if queued.uid != study.uid and queue_key(queued) < key:
                start += read_ms(queued.reading_minutes, rad.speed)
        since = night_start if covering else -NEVER
        load += sum(round(m * 60_000) for at, m in board.finished(rad.id) if to_ms(at) >= since)
        finish = start + read_ms(study.reading_minutes, rad.speed)
        code = _code(rad, study, board, covering, exclude)
        rows.append(
            (code, start, finish, max(0, finish - to_ms(study.deadline)), load, finish <= end)
        )
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Evaluation(
        code=np.array(columns[0], dtype=np.int8),
        start_ms=np.array(columns[1], dtype=np.int64),
        finish_ms=np.array(columns[2], dtype=np.int64),
        late_ms=np.array(columns[3], dtype=np.int64),
        load_ms=np.array(columns[4], dtype=np.int64),
        within_shift=np.array(columns[5], dtype=np.bool_),
    )


def route(
    study: Study,
    board: Board,
    policy: SlaPolicy,  # noqa: ARG001 - same signature as router.route
    now: datetime,
    *,
    exclude: frozenset[str] = frozenset(),
) -> Decision:
    """`router.route`, rescanning every queue from scratch."""
    return decide(study, board, evaluate(study, board, now, exclude), now)
