"""The board: the router's in-memory snapshot of the night.

Who is on the roster, their shifts, each radiologist's ordered tentative queue
(queue rank, then deadline, then arrival: `Priority.queue_rank`) and the studies they
are reading. Events
(`assign`, `start`, `finish`, `release`, ...) update it incrementally; a routing
decision never rebuilds it.

Besides the Python queues, the board keeps one numpy row per radiologist (queued
reading time per priority, cumulative; the last queued key per priority; when the reads
in hand end; open count; workload of the night; credentials and skills as boolean
columns). `evaluate` turns those rows into every radiologist's predicted start, finish
and lateness for one study with a few vector operations, which is what keeps a routing
decision in microseconds at 150 radiologists and thousands of queued studies.

Times are integer milliseconds since the epoch inside (see `garde.dispatch._time`), so
that incremental sums are exact and the fast path agrees with `reference.route`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from garde.dispatch._time import MS_PER_MINUTE, NEVER, from_ms, read_ms, to_ms
from garde.dispatch.errors import (
    DuplicateStudyError,
    IllegalTransition,
    UnknownRadiologistError,
    UnknownStudyError,
)
from garde.dispatch.model import Priority

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from datetime import datetime

    from numpy.typing import NDArray

    from garde.dispatch.explanation import Exclusion
    from garde.dispatch.model import Radiologist, Shift, Study

_RANKS = len(Priority)
_DURATION_CACHE = 256  # distinct reading times kept (triage tables hold a few dozen)

OVERRUN_SHARE = 1 / 3
"""A read in hand is never predicted to end sooner than this share of its own estimate.

Reading times are log-normal (NIGHTS.md): a read that has run to its estimate is
expected to need another 0.32 (sigma 0.35) to 0.43 (sigma 0.45) of it, nearly
whatever the overrun so far. Predicting "free now" instead made a reader stuck in a
long read look like the soonest for a stroke, which then waited behind that read.
"""

QueueKey = tuple[int, int, int, str]
"""Queue order of a study: (queue rank, deadline ms, arrival ms, StudyInstanceUID)."""


def queue_key(study: Study) -> QueueKey:
    """Where ``study`` sorts in a queue: its priority's queue rank (stroke; emergency and
    urgent together; routine), then deadline, then arrival, then UID."""
    return (study.priority.queue_rank, to_ms(study.deadline), to_ms(study.arrived_at), study.uid)


class Code(IntEnum):
    """Why a radiologist may not take a study (0: they may). First failing check wins."""

    ELIGIBLE = 0
    EXCLUDED = 1  # the caller excluded them (e.g. the reader a study escalates away from)
    OFF_SHIFT = 2
    NO_CREDENTIAL = 3  # not credentialed for the sending site
    SITE_NOT_IN_SHIFT = 4  # credentialed, but this shift covers other sites
    MISSING_SKILL = 5
    AT_CAPACITY = 6  # max_parallel studies open already
    SHIFT_ENDS = 7  # would finish after the handover while someone else would not


# Plain ints for the hot path (an IntEnum member look-up costs more than the vector op).
_EXCLUDED = int(Code.EXCLUDED)
_AT_CAPACITY = int(Code.AT_CAPACITY)


@dataclass(slots=True)
class _Entry:
    """A study on the board and where it is."""

    study: Study
    owner: str
    key: QueueKey
    duration_ms: int  # reading time at the owner's speed
    nominal_ms: int  # reading time at nominal speed (workload)
    started_ms: int | None = None


@dataclass(slots=True)
class _Desk:
    """One radiologist's queue (sorted keys, parallel durations) and reads in hand."""

    keys: list[QueueKey] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    reading: dict[str, int] = field(default_factory=dict)  # uid -> started ms
    finished: list[tuple[int, int]] = field(default_factory=list)  # (finished ms, nominal ms)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every radiologist's prospects for one study (arrays indexed like `Board.ids`).

    ``code`` is a `Code` per radiologist (SHIFT_ENDS is decided by the router). Times
    are epoch milliseconds; ``late_ms`` is the predicted lateness past the deadline;
    ``load_ms`` the nominal reading time of the radiologist's night so far (read,
    in hand and queued); ``within_shift`` whether the predicted finish is before their
    handover.
    """

    code: NDArray[np.int8]
    start_ms: NDArray[np.int64]
    finish_ms: NDArray[np.int64]
    late_ms: NDArray[np.int64]
    load_ms: NDArray[np.int64]
    within_shift: NDArray[np.bool_]


class _RankOrder:
    """The queued studies of one priority rank across every queue, in queue order.

    Keys are (deadline ms, arrival ms, UID) in a sorted Python list; owners and reading
    times sit in parallel numpy arrays. The studies a new one would be queued in front
    of are then one slice (its bisection point to the end), and their reading time per
    radiologist one ``bincount``: arrivals come nearly in order, so that slice is short.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.keys: list[tuple[int, int, str]] = []
        self.owner = np.zeros(capacity, dtype=np.intp)
        self.duration = np.zeros(capacity, dtype=np.int64)

    def add(self, key: QueueKey, owner: int, duration_ms: int) -> None:
        """Insert a queued study."""
        n = len(self.keys)
        if n == len(self.owner):
            self.owner = np.concatenate([self.owner, np.zeros(n, dtype=np.intp)])
            self.duration = np.concatenate([self.duration, np.zeros(n, dtype=np.int64)])
        position = bisect.bisect_left(self.keys, key[1:])
        self.keys.insert(position, (key[1], key[2], key[3]))
        # Overlapping slice assignment: numpy copies through a buffer, as memmove would.
        self.owner[position + 1 : n + 1] = self.owner[position:n]
        self.duration[position + 1 : n + 1] = self.duration[position:n]
        self.owner[position] = owner
        self.duration[position] = duration_ms

    def discard(self, key: QueueKey) -> None:
        """Remove a queued study."""
        n = len(self.keys)
        position = bisect.bisect_left(self.keys, key[1:])
        del self.keys[position]
        self.owner[position : n - 1] = self.owner[position + 1 : n]
        self.duration[position : n - 1] = self.duration[position + 1 : n]

    def behind(self, key: QueueKey, radiologists: int) -> NDArray[np.int64] | None:
        """Per radiologist, queued time of this rank sorting at or after ``key``."""
        n = len(self.keys)
        position = bisect.bisect_left(self.keys, key[1:])
        if position == n:
            return None  # the usual case: it goes last in every queue
        # bincount sums in float64: exact for integers below 2**53 ms.
        sums = np.bincount(
            self.owner[position:n], self.duration[position:n], minlength=radiologists
        )
        return sums.astype(np.int64)


class Board:
    """The in-memory snapshot the router decides on; see the module docstring.

    Build it empty, give it the roster with `set_roster`, then replay the open studies
    (`assign`, then `start` for those in progress) to restore it after a restart.
    """

    def __init__(self) -> None:
        self._radiologists: dict[str, Radiologist] = {}
        self._ids: list[str] = []
        self._ids_tuple: tuple[str, ...] = ()
        self._ids_array: NDArray[np.object_] = np.array([], dtype=object)
        self._index: dict[str, int] = {}
        self._shifts: dict[str, tuple[Shift, ...]] = {}
        self._desks: dict[str, _Desk] = {}
        self._entries: dict[str, _Entry] = {}
        # Patient key -> the UIDs of their studies on the board. A key is the same at two
        # hospitals only when it comes from the INS (a PatientID is keyed with its site).
        self._patients: dict[str, set[str]] = {}
        self._site_index: dict[str, int] = {}
        self._skill_index: dict[str, int] = {}
        self._bounds: list[int] = []
        self._valid_from = NEVER
        self._valid_until = -NEVER
        # (site, skills) -> codes that do not change between shift boundaries.
        self._static_codes: dict[tuple[str, frozenset[str]], NDArray[np.int8]] = {}
        self._orders = [_RankOrder() for _ in range(_RANKS)]
        self._durations: dict[float, NDArray[np.int64]] = {}
        self._exclusion_memo: dict[bytes, tuple[Exclusion, ...]] = {}
        self._allocate(0, 0, 0)

    # -- arrays ------------------------------------------------------------------------
    def _allocate(self, n: int, sites: int, skills: int) -> None:
        # Per priority rank, one contiguous row over radiologists (the hot path reads a row).
        self._cum = np.zeros((_RANKS, n), dtype=np.int64)  # queued ms of ranks <= r
        self._busy_until = np.full(n, -NEVER, dtype=np.int64)
        self._tail = np.zeros(n, dtype=np.int64)  # OVERRUN_SHARE of the last read in hand
        self._open = np.zeros(n, dtype=np.int64)
        self._max_parallel = np.zeros(n, dtype=np.int64)
        self._speed = np.ones(n, dtype=np.float64)
        self._open_nominal = np.zeros(n, dtype=np.int64)
        self._night_done = np.zeros(n, dtype=np.int64)
        self._credential = np.zeros((n, sites), dtype=np.bool_)
        self._skill = np.zeros((n, skills), dtype=np.bool_)
        self._fallback = np.zeros(n, dtype=np.bool_)
        self._director = np.zeros(n, dtype=np.bool_)
        self._on_shift = np.zeros(n, dtype=np.bool_)
        self._site_ok = np.zeros((n, sites), dtype=np.bool_)
        self._shift_end = np.full(n, -NEVER, dtype=np.int64)
        self._night_start = np.full(n, NEVER, dtype=np.int64)  # NEVER: not computed yet

    def set_roster(
        self, radiologists: Iterable[Radiologist], shifts: Iterable[Shift]
    ) -> tuple[Study, ...]:
        """Replace the roster and the shifts (start-up, roster or config change).

        Queues of radiologists still on the roster are kept (reading times rescaled if
        their speed changed). Studies held by a radiologist no longer on the roster are
        taken off the board and returned, so that the caller routes them again.
        """
        rads = {r.id: r for r in radiologists}
        by_rad: dict[str, list[Shift]] = {rid: [] for rid in rads}
        for shift in shifts:
            if shift.radiologist_id in by_rad:
                by_rad[shift.radiologist_id].append(shift)
        orphans = tuple(
            self.release(uid)
            for uid, entry in sorted(self._entries.items())
            if entry.owner not in rads
        )
        self._radiologists = rads
        self._ids = sorted(rads)
        self._ids_tuple = tuple(self._ids)
        self._ids_array = np.array(self._ids, dtype=object)
        self._index = {rid: i for i, rid in enumerate(self._ids)}
        self._shifts = {
            rid: tuple(sorted(s, key=lambda x: (x.start, x.end))) for rid, s in by_rad.items()
        }
        self._desks = {rid: self._desks.get(rid) or _Desk() for rid in self._ids}
        sites = sorted(
            {s for r in rads.values() for s in r.sites}
            | {s for ss in by_rad.values() for sh in ss for s in sh.sites or ()}
        )
        skills = sorted({k for r in rads.values() for k in r.skills})
        self._site_index = {s: i for i, s in enumerate(sites)}
        self._skill_index = {k: i for i, k in enumerate(skills)}
        self._allocate(len(self._ids), len(sites), len(skills))
        for i, rid in enumerate(self._ids):
            rad = rads[rid]
            self._max_parallel[i] = rad.max_parallel
            self._speed[i] = rad.speed
            self._fallback[i] = rad.fallback
            self._director[i] = rad.medical_director
            for s in rad.sites:
                self._credential[i, self._site_index[s]] = True
            for k in rad.skills:
                self._skill[i, self._skill_index[k]] = True
        self._orders = [_RankOrder() for _ in range(_RANKS)]
        for entry in self._entries.values():
            entry.duration_ms = read_ms(entry.study.reading_minutes, rads[entry.owner].speed)
            if entry.started_ms is None:
                self._orders[entry.key[0]].add(
                    entry.key, self._index[entry.owner], entry.duration_ms
                )
        for rid, desk in self._desks.items():
            desk.durations = [self._entries[k[3]].duration_ms for k in desk.keys]
            self._sync_queue(rid)
            self._sync_reading(rid)
            self._open_nominal[self._index[rid]] = sum(
                self._entries[k[3]].nominal_ms for k in desk.keys
            ) + sum(self._entries[uid].nominal_ms for uid in desk.reading)
        self._bounds = sorted(
            {to_ms(t) for ss in by_rad.values() for sh in ss for t in (sh.start, sh.end)}
        )
        self._valid_from, self._valid_until = NEVER, -NEVER  # refresh on the next look
        self._static_codes.clear()
        self._durations.clear()
        self._exclusion_memo.clear()
        return orphans

    def add_shift(self, shift: Shift) -> None:
        """Add one shift to the roster (a swap, an extra reader called in)."""
        self._require_radiologist(shift.radiologist_id)
        shifts = [s for rid in self._ids for s in self._shifts[rid]]
        self.set_roster(self._radiologists.values(), [*shifts, shift])

    def _refresh(self, now_ms: int) -> None:
        """Recompute who is on shift, if ``now`` crossed a shift boundary since last time."""
        if self._valid_from <= now_ms < self._valid_until:
            return
        self._static_codes.clear()
        pos = bisect.bisect_right(self._bounds, now_ms)
        self._valid_from = self._bounds[pos - 1] if pos else -NEVER
        self._valid_until = self._bounds[pos] if pos < len(self._bounds) else NEVER
        all_sites = np.ones(len(self._site_index), dtype=np.bool_)
        for i, rid in enumerate(self._ids):
            covering = [s for s in self._shifts[rid] if to_ms(s.start) <= now_ms < to_ms(s.end)]
            if not covering:
                self._on_shift[i] = False
                self._site_ok[i] = False
                self._shift_end[i] = -NEVER
                night_start = -NEVER
            else:
                self._on_shift[i] = True
                mask = np.zeros(len(self._site_index), dtype=np.bool_)
                for s in covering:
                    if s.sites is None:
                        mask = all_sites
                        break
                    for site in s.sites:
                        mask[self._site_index[site]] = True
                self._site_ok[i] = mask & self._credential[i]
                night_start, end = self._coverage(rid, covering)
                self._shift_end[i] = end
            if night_start != self._night_start[i]:
                self._night_start[i] = night_start
                self._night_done[i] = sum(
                    n for at, n in self._desks[rid].finished if at >= night_start
                )

    def _coverage(self, rid: str, covering: Sequence[Shift]) -> tuple[int, int]:
        """Start and end of the unbroken run of shifts that contains ``covering``."""
        start = min(to_ms(s.start) for s in covering)
        end = max(to_ms(s.end) for s in covering)
        shifts = self._shifts[rid]
        for s in reversed(shifts):  # back in time: earlier shifts that chain into this one
            if to_ms(s.end) >= start > to_ms(s.start):
                start = to_ms(s.start)
        for s in shifts:  # forward: later shifts starting before the run ends
            if to_ms(s.start) <= end < to_ms(s.end):
                end = to_ms(s.end)
        return start, end

    def _sync_queue(self, rid: str) -> None:
        """Recompute the cumulative per-rank queued time of ``rid`` (after a removal)."""
        i = self._index[rid]
        desk = self._desks[rid]
        keys = desk.keys
        total = 0
        lo = 0
        for r in range(_RANKS):
            hi = bisect.bisect_left(keys, (r + 1,), lo)
            total += sum(desk.durations[lo:hi])
            self._cum[r, i] = total
            lo = hi
        self._open[i] = len(keys) + len(desk.reading)

    def _sync_reading(self, rid: str) -> None:
        """Recompute when the reads in hand end (one after another, from their starts)."""
        t = -NEVER
        tail = 0
        for uid, started in sorted(self._desks[rid].reading.items(), key=lambda x: (x[1], x[0])):
            t = max(t, started) + self._entries[uid].duration_ms
            tail = round(self._entries[uid].duration_ms * OVERRUN_SHARE)
        i = self._index[rid]
        self._busy_until[i] = t
        self._tail[i] = tail
        self._open[i] = len(self._desks[rid].keys) + len(self._desks[rid].reading)

    # -- events ------------------------------------------------------------------------
    def _require_radiologist(self, rid: str) -> int:
        i = self._index.get(rid)
        if i is None:
            raise UnknownRadiologistError(f"radiologist {rid!r} is not on the roster")
        return i

    def _require_study(self, uid: str) -> _Entry:
        entry = self._entries.get(uid)
        if entry is None:
            raise UnknownStudyError(f"study {uid} is not on the board")
        return entry

    def assign(self, study: Study, radiologist_id: str, now: datetime) -> None:  # noqa: ARG002
        """Put ``study`` in ``radiologist_id``'s tentative queue (in queue order).

        ``now`` is accepted for symmetry with the other events (and future aging rules).

        Raises
        ------
        DuplicateStudyError
            If the study is already on the board (use `reassign`).
        UnknownRadiologistError
            If the radiologist is not on the roster.
        """
        if study.uid in self._entries:
            raise DuplicateStudyError(f"study {study.uid} is already on the board")
        i = self._require_radiologist(radiologist_id)
        key = queue_key(study)
        entry = _Entry(
            study=study,
            owner=radiologist_id,
            key=key,
            duration_ms=read_ms(study.reading_minutes, self._radiologists[radiologist_id].speed),
            nominal_ms=read_ms(study.reading_minutes, 1.0),
        )
        self._entries[study.uid] = entry
        self._enqueue(entry)
        self._open_nominal[i] += entry.nominal_ms
        if study.patient_key:
            self._patients.setdefault(study.patient_key, set()).add(study.uid)

    def _enqueue(self, entry: _Entry) -> None:
        desk = self._desks[entry.owner]
        pos = bisect.bisect_left(desk.keys, entry.key)
        desk.keys.insert(pos, entry.key)
        desk.durations.insert(pos, entry.duration_ms)
        i = self._index[entry.owner]
        rank = entry.key[0]
        self._orders[rank].add(entry.key, i, entry.duration_ms)
        self._cum[rank:, i] += entry.duration_ms
        self._open[i] += 1

    def _dequeue(self, entry: _Entry) -> None:
        desk = self._desks[entry.owner]
        pos = bisect.bisect_left(desk.keys, entry.key)
        del desk.keys[pos]
        del desk.durations[pos]
        self._orders[entry.key[0]].discard(entry.key)
        self._sync_queue(entry.owner)

    def reassign(self, study_uid: str, radiologist_id: str, now: datetime) -> None:
        """Move a queued study to another radiologist's queue (late binding, re-plan)."""
        entry = self._require_study(study_uid)
        if entry.started_ms is not None:
            raise IllegalTransition(f"study {study_uid} is being read; it cannot move")
        self._require_radiologist(radiologist_id)
        study = self.release(study_uid)
        self.assign(study, radiologist_id, now)

    def start(self, study_uid: str, now: datetime) -> None:
        """The owner opened the study: it leaves the tentative queue for their hands."""
        entry = self._require_study(study_uid)
        if entry.started_ms is not None:
            raise IllegalTransition(f"study {study_uid} is already being read")
        self._dequeue(entry)
        entry.started_ms = to_ms(now)
        self._desks[entry.owner].reading[study_uid] = entry.started_ms
        self._sync_reading(entry.owner)

    def finish(self, study_uid: str, now: datetime) -> Study:
        """The study is read: it leaves the board and counts in its reader's night."""
        entry = self._require_study(study_uid)
        if entry.started_ms is None:
            raise IllegalTransition(f"study {study_uid} was not started")
        self._drop(entry)
        at = to_ms(now)
        i = self._index[entry.owner]
        self._desks[entry.owner].finished.append((at, entry.nominal_ms))
        if at >= self._night_start[i]:
            self._night_done[i] += entry.nominal_ms
        return entry.study

    def release(self, study_uid: str) -> Study:
        """Take a study off its reader (queued or in hand) and the board; returns it.

        The caller routes it again (shift over, reader unavailable, escalation).
        """
        entry = self._require_study(study_uid)
        self._drop(entry)
        return entry.study

    def remove(self, study_uid: str) -> Study | None:
        """Forget a study (cancelled, read elsewhere); None if it was not on the board."""
        entry = self._entries.get(study_uid)
        if entry is None:
            return None
        self._drop(entry)
        return entry.study

    def _drop(self, entry: _Entry) -> None:
        uid = entry.study.uid
        if entry.started_ms is None:
            self._dequeue(entry)
        else:
            del self._desks[entry.owner].reading[uid]
            self._sync_reading(entry.owner)
        self._open_nominal[self._index[entry.owner]] -= entry.nominal_ms
        del self._entries[uid]
        patient = entry.study.patient_key
        holders = self._patients.get(patient)
        if holders is not None:
            holders.discard(uid)
            if not holders:
                del self._patients[patient]

    def hand_back(self, radiologist_id: str) -> tuple[Study, ...]:
        """Release every queued (not started) study of a radiologist, in queue order.

        For the shift handover: the caller routes each of them again.
        """
        self._require_radiologist(radiologist_id)
        uids = [k[3] for k in self._desks[radiologist_id].keys]
        return tuple(self.release(uid) for uid in uids)

    # -- reads ---------------------------------------------------------------------------
    @property
    def ids(self) -> tuple[str, ...]:
        """Radiologist ids in the board's order (sorted; the stable tie-break)."""
        return self._ids_tuple

    def key_of(self, study_uid: str) -> QueueKey:
        """The study's place in queue order (raises `UnknownStudyError`)."""
        return self._require_study(study_uid).key

    def may_read_now(self, radiologist_id: str, study: Study | None, now: datetime) -> bool:
        """On shift at ``now`` and, for a study, allowed to read it (site and skills).

        Capacity is not checked: this is about taking a study in hand, not queueing it.
        """
        i = self._require_radiologist(radiologist_id)
        self._refresh(to_ms(now))
        if not self._on_shift[i]:
            return False
        if study is None:
            return True
        column = self._site_index.get(study.site_id)
        if column is None or not self._site_ok[i, column]:
            return False
        for skill in study.skills:
            k = self._skill_index.get(skill)
            if k is None or not self._skill[i, k]:
                return False
        return True

    def exclusion_memo(self) -> dict[bytes, tuple[Exclusion, ...]]:
        """The router's cache of exclusion groups by code vector (emptied on a roster
        change, when the ids the codes refer to change): a night sees few vectors."""
        return self._exclusion_memo

    def ids_array(self) -> NDArray[np.object_]:
        """Radiologist ids as a numpy array (read only), for fancy indexing."""
        return self._ids_array

    def index_of(self, radiologist_id: str) -> int:
        """Position of a radiologist in `ids` and in `Evaluation` arrays."""
        return self._require_radiologist(radiologist_id)

    def fallback_mask(self) -> NDArray[np.bool_]:
        """Who is in the fallback pool, as a boolean array over `ids` (read only)."""
        return self._fallback

    def director_mask(self) -> NDArray[np.bool_]:
        """Who is the region's medical director (at most one), over `ids` (read only)."""
        return self._director

    def credentialed(self, site_id: str) -> NDArray[np.bool_]:
        """Who is credentialed for ``site_id`` (on shift or not), as a boolean array
        over `ids`; all False for a site nobody is credentialed for."""
        column = self._site_index.get(site_id)
        if column is None:
            return np.zeros(len(self._ids), dtype=np.bool_)
        return self._credential[:, column]

    def radiologist(self, radiologist_id: str) -> Radiologist:
        """The radiologist record (raises `UnknownRadiologistError`)."""
        self._require_radiologist(radiologist_id)
        return self._radiologists[radiologist_id]

    def radiologists(self) -> tuple[Radiologist, ...]:
        """Everyone on the roster, by id."""
        return tuple(self._radiologists[rid] for rid in self._ids)

    def shifts(self, radiologist_id: str) -> tuple[Shift, ...]:
        """A radiologist's shifts, by start."""
        self._require_radiologist(radiologist_id)
        return self._shifts[radiologist_id]

    def owner(self, study_uid: str) -> str | None:
        """Who holds the study (queued or reading), or None if it is not on the board."""
        entry = self._entries.get(study_uid)
        return None if entry is None else entry.owner

    def get(self, study_uid: str) -> Study | None:
        """The study, if on the board."""
        entry = self._entries.get(study_uid)
        return None if entry is None else entry.study

    def is_started(self, study_uid: str) -> bool:
        """True if the study is being read (it is no longer tentative)."""
        return self._require_study(study_uid).started_ms is not None

    def queue(self, radiologist_id: str) -> tuple[Study, ...]:
        """A radiologist's tentative queue, in order (not the studies being read)."""
        self._require_radiologist(radiologist_id)
        return tuple(self._entries[k[3]].study for k in self._desks[radiologist_id].keys)

    def iter_queue(self, radiologist_id: str) -> Iterator[Study]:
        """A radiologist's tentative queue, lazily (stop early without copying it)."""
        self._require_radiologist(radiologist_id)
        entries = self._entries
        return (entries[k[3]].study for k in self._desks[radiologist_id].keys)

    def reading(self, radiologist_id: str) -> dict[str, datetime]:
        """The studies a radiologist is reading: UID -> when they started."""
        self._require_radiologist(radiologist_id)
        return {uid: from_ms(ms) for uid, ms in self._desks[radiologist_id].reading.items()}

    def finished(self, radiologist_id: str) -> tuple[tuple[datetime, float], ...]:
        """Reads finished on this board: (when, nominal reading minutes)."""
        self._require_radiologist(radiologist_id)
        return tuple(
            (from_ms(at), n / MS_PER_MINUTE) for at, n in self._desks[radiologist_id].finished
        )

    def studies(self) -> tuple[Study, ...]:
        """Every study on the board (queued or being read), by UID."""
        return tuple(self._entries[uid].study for uid in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, study_uid: object) -> bool:
        return study_uid in self._entries

    def same_patient(self, study: Study) -> tuple[str, ...]:
        """Radiologists holding another study of the same patient (at the same site, or
        at any hospital when the key comes from the INS), then those who read one
        recently (``study.recent_readers``, if on the roster)."""
        if not study.patient_key:
            return ()
        uids = self._patients.get(study.patient_key, ())
        holders = sorted({self._entries[u].owner for u in uids if u != study.uid})
        recent = [r for r in study.recent_readers if r in self._index and r not in holders]
        return (*holders, *recent)

    def on_shift(self, now: datetime) -> tuple[str, ...]:
        """Radiologists on shift at ``now``."""
        self._refresh(to_ms(now))
        return tuple(self._ids_array[self._on_shift].tolist())

    def handover(self, radiologist_id: str, now: datetime) -> datetime | None:
        """End of the unbroken run of shifts covering ``now`` (None: off shift)."""
        i = self._require_radiologist(radiologist_id)
        self._refresh(to_ms(now))
        return from_ms(int(self._shift_end[i])) if self._on_shift[i] else None

    def free_at(self, radiologist_id: str, now: datetime) -> datetime:
        """When the reads in hand are expected to end (``now`` if idle), never sooner than
        `OVERRUN_SHARE` of the last one's estimate from ``now`` (a read past or near its
        estimate is not about to end)."""
        i = self._require_radiologist(radiologist_id)
        return from_ms(self._free_ms(i, to_ms(now)))

    def _free_ms(self, i: int, now_ms: int) -> int:
        return max(now_ms + int(self._tail[i]), int(self._busy_until[i]))

    def night_minutes(self, radiologist_id: str, now: datetime) -> float:
        """Workload of the night: nominal minutes read this run of shifts, in hand, queued."""
        i = self._require_radiologist(radiologist_id)
        self._refresh(to_ms(now))
        return int(self._night_done[i] + self._open_nominal[i]) / MS_PER_MINUTE

    def predicted_finish(self, study_uid: str, now: datetime) -> datetime:
        """When a study on the board is expected to be read, where it stands now."""
        entry = self._require_study(study_uid)
        i = self._index[entry.owner]
        free = self._free_ms(i, to_ms(now))
        if entry.started_ms is not None:
            return from_ms(max(free, entry.started_ms + entry.duration_ms))
        desk = self._desks[entry.owner]
        pos = bisect.bisect_left(desk.keys, entry.key)
        return from_ms(free + sum(desk.durations[: pos + 1]))

    # -- the hot path -------------------------------------------------------------------
    def evaluate(
        self, study: Study, now: datetime, exclude: frozenset[str] = frozenset()
    ) -> Evaluation:
        """Every radiologist's eligibility and predicted start/finish for ``study``.

        The prediction puts the study where it would sort in each queue: after the reads
        in hand and the queued work ahead of it in priority order, at that reader's
        speed. If ``study`` is already queued on the board, its own place is discounted.
        """
        now_ms = to_ms(now)
        self._refresh(now_ms)
        rank = study.priority.queue_rank
        deadline_ms = to_ms(study.deadline)
        arrival_ms = to_ms(study.arrived_at)

        start = self._tail + now_ms
        np.maximum(start, self._busy_until, out=start)
        start += self._cum[rank]
        key = (rank, deadline_ms, arrival_ms, study.uid)
        behind = self._orders[rank].behind(key, len(self._ids))
        if behind is not None:
            start -= behind
        open_count = self._open
        own = self._entries.get(study.uid)
        if own is not None and own.started_ms is None:
            owner = self._index[own.owner]
            open_count = open_count.copy()
            open_count[owner] -= 1
            # Its own place is not work ahead of it: from ``behind`` if it sorts at or
            # after ``key``, else it is still in ``cum`` and comes off here.
            if own.key < key:
                start[owner] -= own.duration_ms

        finish = start + self._reading_ms(study.reading_minutes)
        late = finish - deadline_ms
        np.maximum(late, 0, out=late)

        static = self._static_code(study.site_id, study.skills)
        code = np.where((static == 0) & (open_count >= self._max_parallel), _AT_CAPACITY, static)
        if exclude:
            for rid in exclude:
                j = self._index.get(rid)
                if j is not None:
                    code[j] = _EXCLUDED
        return Evaluation(
            code=code,
            start_ms=start,
            finish_ms=finish,
            late_ms=late,
            load_ms=self._night_done + self._open_nominal,
            within_shift=finish <= self._shift_end,
        )

    def _reading_ms(self, minutes: float) -> NDArray[np.int64]:
        """Everyone's reading time for ``minutes`` (cached: triage yields few values)."""
        cached = self._durations.get(minutes)
        if cached is None:
            rounded = np.rint((minutes * MS_PER_MINUTE) / self._speed)
            cached = np.maximum(rounded, 1).astype(np.int64)
            cached.flags.writeable = False
            if len(self._durations) < _DURATION_CACHE:
                self._durations[minutes] = cached
        return cached

    def _static_code(self, site_id: str, skills: frozenset[str]) -> NDArray[np.int8]:
        """Codes from shift, site and skills: fixed until a shift boundary or roster change."""
        cached = self._static_codes.get((site_id, skills))
        if cached is not None:
            return cached
        n = len(self._ids)
        code = np.zeros(n, dtype=np.int8)
        for skill in skills:
            k = self._skill_index.get(skill)
            if k is None:
                code[:] = Code.MISSING_SKILL
                break
            code[~self._skill[:, k]] = Code.MISSING_SKILL
        column = self._site_index.get(site_id)
        if column is None:
            code[:] = Code.NO_CREDENTIAL
        else:
            code[~self._site_ok[:, column]] = Code.SITE_NOT_IN_SHIFT
            code[~self._credential[:, column]] = Code.NO_CREDENTIAL
        code[~self._on_shift] = Code.OFF_SHIFT
        code.flags.writeable = False
        self._static_codes[site_id, skills] = code
        return code
