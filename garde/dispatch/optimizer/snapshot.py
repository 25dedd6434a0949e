"""The board as the re-planner takes it: the unstarted queues of the readers on shift.

Shared by the service's re-plan job and the simulator's re-planning policy, so both
re-plan the same snapshot. A study flagged as the fallback pool's, or held by a reader
who may not read it, is pinned where it is; one a reader released is barred from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from garde.dispatch.optimizer.plan import ReaderCapacity

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from garde.dispatch.board import Board
    from garde.dispatch.model import Placed, Study


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The board's unstarted queues of the radiologists on shift, as `replan` takes them."""

    studies: list[Study]
    readers: list[ReaderCapacity]
    plan: dict[str, list[str]]
    pinned: dict[str, str] = field(default_factory=dict)  # uid -> the reader it stays with
    barred: dict[str, str] = field(default_factory=dict)  # uid -> who released it

    def unplaceable(self) -> tuple[str, ...]:
        """Pinned studies no reader on shift may read."""
        by_uid = {s.uid: s for s in self.studies}
        return tuple(
            sorted(
                uid for uid in self.pinned if not any(r.may_read(by_uid[uid]) for r in self.readers)
            )
        )


@dataclass(frozen=True, slots=True)
class StoreMarks:
    """What the store knows of the queued studies and the board does not.

    ``flagged``: held by the fallback pool or pinned by an operator (the re-plan leaves
    them where they are); ``released``: UID -> who released it (never moved back to them).
    """

    flagged: frozenset[str] = frozenset()
    released: Mapping[str, str] = field(default_factory=dict)


def store_marks(queued: Iterable[Placed]) -> StoreMarks:
    """The `StoreMarks` of the store's queued (assigned) studies."""
    found = list(queued)
    return StoreMarks(
        flagged=frozenset(p.study_uid for p in found if p.fallback or p.pinned_by),
        released={p.study_uid: p.released_by for p in found if p.released_by},
    )


def board_snapshot(
    board: Board,
    now: datetime,
    flagged: frozenset[str] = frozenset(),
    released: Mapping[str, str] | None = None,
) -> Snapshot:
    """The queues on shift; a study flagged or with a reader who may not read it is
    pinned; one in ``released`` (UID -> who released it) is barred from them."""
    studies: list[Study] = []
    readers: list[ReaderCapacity] = []
    plan: dict[str, list[str]] = {}
    pinned: dict[str, str] = {}
    for rid in board.on_shift(now):
        capacity = reader_capacity(board, rid, now)
        readers.append(capacity)
        queue = board.queue(rid)
        plan[rid] = [s.uid for s in queue]
        for study in queue:
            studies.append(study)
            if study.uid in flagged or not capacity.may_read(study):
                pinned[study.uid] = rid
    released = released or {}
    barred = {s.uid: released[s.uid] for s in studies if s.uid in released}
    return Snapshot(studies, readers, plan, pinned, barred)


def reader_capacity(board: Board, rid: str, now: datetime) -> ReaderCapacity:
    """What the re-planner needs of one reader on shift: free at, handover, sites, night."""
    covering = [s for s in board.shifts(rid) if s.covers(now)]
    sites: frozenset[str] | None = frozenset()
    for shift in covering:
        if shift.sites is None:
            sites = None
            break
        sites = (sites or frozenset()) | shift.sites
    queued = sum(s.reading_minutes for s in board.queue(rid))
    in_hand = sum(
        study.reading_minutes
        for study in (board.get(uid) for uid in board.reading(rid))
        if study is not None
    )
    end = board.handover(rid, now)
    return ReaderCapacity(
        radiologist=board.radiologist(rid),
        free_at=board.free_at(rid, now),
        shift_end=end if end is not None else now,
        sites=sites,
        read_minutes=max(0.0, board.night_minutes(rid, now) - queued - in_hand),
    )
