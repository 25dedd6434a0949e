"""Plans over unstarted studies: the data the re-planner works on, and their exact cost.

A plan gives each on-shift radiologist a list of study UIDs, run in queue order (as the
board runs them). Its cost is
computed here once, in integers, exactly as the CP-SAT model counts it, so "never worse
than the input plan" is a comparison of two numbers from the same function:

- weighted lateness: per study, ``weight(priority) * seconds past its deadline``;
- shift overrun: ``overrun_weight * seconds`` a read ends after its reader's shift;
- imbalance: ``imbalance_weight * (max - min)`` of the readers' night workload
  (minutes already read + planned reading), in seconds;
- moves: ``move_penalty`` per study planned away from the reader it is shown to.

Each reader reads their studies in the board's queue order (priority, then deadline,
then arrival: `garde.dispatch.board.queue_key`), because that is the order the board
shows and runs once the plan is applied: a plan is an assignment of studies to readers,
and `evaluate` scores it in that order whatever order its sequences are given in.
Reads are packed back to back from when each reader is free; idle time never lowers
this cost, so the packed schedule of an order is its best schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from garde.dispatch.board import queue_key
from garde.dispatch.explanation import PlanCost

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from garde.dispatch.model import Priority, Radiologist, SlaPolicy, Study


@dataclass(frozen=True, slots=True)
class ReaderCapacity:
    """An on-shift radiologist as the re-planner sees them.

    Parameters
    ----------
    radiologist
        Who (skills, sites, speed).
    free_at
        When the read in hand ends (``now`` if idle).
    shift_end
        End of the current shift (handover).
    sites
        The shift's narrower set of hospitals, if any.
    read_minutes
        Minutes already read tonight, for the fairness term.
    """

    radiologist: Radiologist
    free_at: datetime
    shift_end: datetime
    sites: frozenset[str] | None = None
    read_minutes: float = 0.0

    @property
    def id(self) -> str:
        """The radiologist id."""
        return self.radiologist.id

    def may_read(self, study: Study) -> bool:
        """Credentialed for the site (and the shift covers it) and holding every skill."""
        rad = self.radiologist
        if study.site_id not in rad.sites:
            return False
        if self.sites is not None and study.site_id not in self.sites:
            return False
        return study.skills <= rad.skills


@dataclass(frozen=True, slots=True)
class CostWeights:
    """Weights of the plan cost (integer units per second, see the module docstring).

    ``lateness_scale`` multiplies `SlaPolicy.weights` (100/20/5/1 by default) so that one
    second late of routine work outweighs ``imbalance_weight`` seconds of imbalance: the
    objective is lateness first, then fairness.
    """

    lateness_scale: int = 10
    overrun_weight: int = 200
    imbalance_weight: int = 1
    move_penalty: int = 3_000  # 5 min of routine lateness

    def __post_init__(self) -> None:
        for name in ("lateness_scale", "overrun_weight", "imbalance_weight", "move_penalty"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True, slots=True)
class Instance:
    """A re-planning problem in integer seconds from ``now`` (built by `build_instance`)."""

    studies: tuple[Study, ...]
    readers: tuple[ReaderCapacity, ...]
    free_at: tuple[int, ...]
    shift_end: tuple[int, ...]
    base_load: tuple[int, ...]
    deadline: tuple[int, ...]
    weight: tuple[int, ...]
    duration: dict[tuple[int, int], int]  # (study, reader) -> seconds, eligible pairs only
    shown_to: tuple[int | None, ...]  # reader index each study is shown to now
    order: tuple[int, ...]  # study indexes in the board's queue order
    place: tuple[int, ...]  # each study's position in ``order``
    weights: CostWeights
    unplaceable: tuple[str, ...] = field(default=())

    def eligible(self, s: int) -> list[int]:
        """Reader indexes that may read study ``s`` (only its reader if pinned)."""
        return [r for r in range(len(self.readers)) if (s, r) in self.duration]


def _seconds(delta_s: float) -> int:
    return math.ceil(delta_s)


def build_instance(
    studies: Sequence[Study],
    readers: Sequence[ReaderCapacity],
    current_plan: Mapping[str, Sequence[str]],
    now: datetime,
    policy: SlaPolicy,
    *,
    weights: CostWeights,
    pinned: Mapping[str, str] | None = None,
    barred: Mapping[str, str] | None = None,
) -> Instance:
    """Turn domain objects into an integer instance; drop studies nobody may read.

    A ``pinned`` study (UID -> radiologist id) may only stay with that reader, whether
    or not they may read it (e.g. the fallback pool's): it is not the re-planner's to
    move, but its reading time counts where it sits in that reader's queue. One pinned
    to a reader who is not among ``readers`` is unplaceable. A ``barred`` study (UID ->
    the radiologist who released it) never moves to that reader; it may stay with them
    if it is shown to them now (they claimed it back, or an operator gave it to them).
    """
    readers = tuple(sorted(readers, key=lambda r: r.id))
    index = {r.id: i for i, r in enumerate(readers)}
    pinned = pinned or {}
    barred = barred or {}
    shown: dict[str, int] = {}
    for rid, uids in current_plan.items():
        if rid in index:
            for uid in uids:
                shown[uid] = index[rid]
    kept: list[Study] = []
    unplaceable: list[str] = []
    duration: dict[tuple[int, int], int] = {}
    for study in sorted(studies, key=lambda s: s.uid):
        holder = pinned.get(study.uid)
        releaser = barred.get(study.uid)
        now_with = shown.get(study.uid)
        pairs = {
            r: max(1, _seconds(study.reading_minutes * 60.0 / reader.radiologist.speed))
            for r, reader in enumerate(readers)
            if (
                reader.id == holder
                if holder is not None
                else reader.may_read(study) and (reader.id != releaser or r == now_with)
            )
        }
        if not pairs:
            unplaceable.append(study.uid)
            continue
        s = len(kept)
        kept.append(study)
        for r, d in pairs.items():
            duration[s, r] = d
    order = sorted(range(len(kept)), key=lambda s: queue_key(kept[s]))
    place = [0] * len(kept)
    for position, s in enumerate(order):
        place[s] = position
    return Instance(
        studies=tuple(kept),
        readers=readers,
        free_at=tuple(max(0, _seconds((r.free_at - now).total_seconds())) for r in readers),
        shift_end=tuple(_seconds((r.shift_end - now).total_seconds()) for r in readers),
        base_load=tuple(round(r.read_minutes * 60.0) for r in readers),
        deadline=tuple(_seconds((s.deadline - now).total_seconds()) for s in kept),
        weight=tuple(round(weights.lateness_scale * _weight(policy, s.priority)) for s in kept),
        duration=duration,
        shown_to=tuple(
            shown[s.uid] if s.uid in shown and (i, shown[s.uid]) in duration else None
            for i, s in enumerate(kept)
        ),
        order=tuple(order),
        place=tuple(place),
        weights=weights,
        unplaceable=tuple(unplaceable),
    )


def _weight(policy: SlaPolicy, priority: Priority) -> float:
    return policy.weights.get(priority, 1.0)


Sequences = list[list[int]]  # per reader index, study indexes (scored in queue order)


def in_board_order(instance: Instance, sequences: Sequences) -> Sequences:
    """Each reader's studies in the order the board queues them."""
    return [sorted(seq, key=instance.place.__getitem__) for seq in sequences]


def evaluate(instance: Instance, sequences: Sequences) -> PlanCost:
    """The exact cost of the plan as the board runs it: each reader's studies read back
    to back in queue order (the order of ``sequences`` is ignored)."""
    lateness = overrun = moves = 0
    loads = list(instance.base_load)
    w = instance.weights
    for r, seq in enumerate(in_board_order(instance, sequences)):
        t = instance.free_at[r]
        for s in seq:
            t += instance.duration[s, r]
            loads[r] += instance.duration[s, r]
            lateness += instance.weight[s] * max(0, t - instance.deadline[s])
            overrun += w.overrun_weight * max(0, t - instance.shift_end[r])
            shown = instance.shown_to[s]
            if shown is not None and shown != r:
                moves += w.move_penalty
    imbalance = w.imbalance_weight * (max(loads) - min(loads)) if loads else 0
    return PlanCost(lateness=lateness, overrun=overrun, imbalance=imbalance, moves=moves)


def schedule(instance: Instance, sequences: Sequences) -> dict[int, tuple[int, int, int]]:
    """Study index -> (reader index, start, finish) of the plan as the board runs it."""
    found: dict[int, tuple[int, int, int]] = {}
    for r, seq in enumerate(in_board_order(instance, sequences)):
        t = instance.free_at[r]
        for s in seq:
            found[s] = (r, t, t + instance.duration[s, r])
            t += instance.duration[s, r]
    return found


def loads(instance: Instance, sequences: Sequences) -> list[int]:
    """Each reader's night workload in seconds (read before, plus planned)."""
    return [
        instance.base_load[r] + sum(instance.duration[s, r] for s in seq)
        for r, seq in enumerate(sequences)
    ]


def greedy_sequences(instance: Instance, fixed: Sequences | None = None) -> Sequences:
    """The fast router's plan: in queue order, each study to the reader where its
    weighted lateness (then finish, then night workload) is least.

    ``fixed`` sequences are kept; only studies absent from them are placed, which
    completes a partial input plan (their cost is estimated as if appended; `evaluate`
    scores the result exactly).
    """
    sequences = [list(seq) for seq in fixed] if fixed else [[] for _ in instance.readers]
    placed = {s for seq in sequences for s in seq}
    ends = [
        instance.free_at[r] + sum(instance.duration[s, r] for s in seq)
        for r, seq in enumerate(sequences)
    ]
    loads = [instance.base_load[r] + ends[r] - instance.free_at[r] for r in range(len(ends))]
    for s in instance.order:
        if s in placed:
            continue

        def cost(r: int, s: int = s) -> tuple[int, int, int, int]:
            end = ends[r] + instance.duration[s, r]
            late = instance.weight[s] * max(0, end - instance.deadline[s])
            over = max(0, end - instance.shift_end[r])
            return (late, over, end, loads[r])

        best = min(instance.eligible(s), key=cost)
        sequences[best].append(s)
        ends[best] += instance.duration[s, best]
        loads[best] += instance.duration[s, best]
    return sequences


def sequences_from_plan(instance: Instance, plan: Mapping[str, Sequence[str]]) -> Sequences:
    """Index sequences of a UID plan, dropping studies a reader may not read or unknown."""
    position = {s.uid: i for i, s in enumerate(instance.studies)}
    index = {r.id: i for i, r in enumerate(instance.readers)}
    sequences: Sequences = [[] for _ in instance.readers]
    seen: set[int] = set()
    for rid, uids in plan.items():
        r = index.get(rid)
        if r is None:
            continue
        for uid in uids:
            s = position.get(uid)
            if s is not None and s not in seen and (s, r) in instance.duration:
                sequences[r].append(s)
                seen.add(s)
    return sequences


def plan_from_sequences(instance: Instance, sequences: Sequences) -> dict[str, tuple[str, ...]]:
    """UID plan (radiologist id -> study UIDs in queue order) of index sequences."""
    return {
        instance.readers[r].id: tuple(instance.studies[s].uid for s in seq)
        for r, seq in enumerate(in_board_order(instance, sequences))
    }
