"""Judging a re-plan's moves against the plan as it stands when they are applied.

The solver works on a snapshot; by the time its moves are applied, studies may have
started, arrived or been moved by someone else. `judge` drops the moves that no longer
apply, scores the live plan and the plan after the remaining moves with the same exact
cost (`plan.evaluate`, queue order), and writes each move's explanation. The caller
applies the moves only if ``Verdict.better``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch._time import to_ms
from garde.dispatch.explanation import (
    Basis,
    Candidate,
    Exclusion,
    ExclusionReason,
    Explanation,
    PlanChange,
    PlanCost,
    ReplanReason,
)
from garde.dispatch.optimizer.plan import (
    CostWeights,
    Instance,
    ReaderCapacity,
    Sequences,
    build_instance,
    evaluate,
    loads,
    schedule,
    sequences_from_plan,
)
from garde.dispatch.router import may_read

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from garde.dispatch.model import SlaPolicy, Study
    from garde.dispatch.optimizer.cpsat import Move

RANKING = ("plan_cost",)
"""What a re-plan move is ranked by (the ``ranking`` of its explanation)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Moves judged against the live plan.

    ``moves`` still apply (the study is queued with the reader it moves from, and the
    new reader may read it); ``dropped`` are the UIDs of those that no longer do.
    ``before`` is the live plan's cost, ``after`` its cost with ``moves`` applied.
    ``explanations`` holds one per move, by study UID.
    """

    moves: tuple[Move, ...]
    dropped: tuple[str, ...]
    before: PlanCost
    after: PlanCost
    explanations: dict[str, Explanation]

    @property
    def better(self) -> bool:
        """True if applying ``moves`` makes the plan strictly cheaper."""
        return bool(self.moves) and self.after.total < self.before.total


def judge(
    studies: Sequence[Study],
    readers: Sequence[ReaderCapacity],
    current_plan: Mapping[str, Sequence[str]],
    now: datetime,
    policy: SlaPolicy,
    *,
    moves: Iterable[Move],
    weights: CostWeights | None = None,
    pinned: Mapping[str, str] | None = None,
    barred: Mapping[str, str] | None = None,
) -> Verdict:
    """Score ``moves`` on the live plan ``current_plan`` (every study queued as shown).

    Studies shown to a reader who may not read them stay there (pinned), as on the
    board, so that their reading time counts where it is. A move of a ``barred`` study
    back to the radiologist who released it is dropped.
    """
    shown = {uid: rid for rid, uids in current_plan.items() for uid in uids}
    by_id = {r.id: r for r in readers}
    by_uid = {s.uid: s for s in studies}
    stuck = {
        uid: rid
        for uid, rid in shown.items()
        if uid in by_uid and rid in by_id and not by_id[rid].may_read(by_uid[uid])
    }
    instance = build_instance(
        studies,
        readers,
        current_plan,
        now,
        policy,
        weights=weights or CostWeights(),
        pinned={**stuck, **(pinned or {})},
        barred=barred,
    )
    current = sequences_from_plan(instance, current_plan)
    position = {s.uid: i for i, s in enumerate(instance.studies)}
    index = {r.id: i for i, r in enumerate(instance.readers)}
    kept: list[Move] = []
    dropped: list[str] = []
    target: dict[int, int] = {}
    for move in moves:
        s = position.get(move.study_uid)
        r = index.get(move.to_radiologist)
        shown_to = None if s is None else instance.shown_to[s]
        if (
            s is None
            or r is None
            or shown_to is None
            or instance.readers[shown_to].id != move.from_radiologist
            or r == shown_to
            or (s, r) not in instance.duration
            or s in target
        ):
            dropped.append(move.study_uid)
            continue
        kept.append(move)
        target[s] = r
    after = [[s for s in seq if s not in target] for seq in current]
    for s, r in target.items():
        after[r].append(s)
    before_cost, after_cost = evaluate(instance, current), evaluate(instance, after)
    change = _Change(
        instance, now, current, after, before_cost, after_cost, len(kept), barred or {}
    )
    return Verdict(
        moves=tuple(kept),
        dropped=tuple(dropped),
        before=before_cost,
        after=after_cost,
        explanations={instance.studies[s].uid: change.explain(s) for s in target},
    )


def _reasons(before: PlanCost, after: PlanCost) -> tuple[ReplanReason, ...]:
    found = []
    if after.lateness < before.lateness:
        found.append(ReplanReason.LOWERS_LATENESS)
    if after.overrun < before.overrun:
        found.append(ReplanReason.LOWERS_OVERRUN)
    if after.imbalance < before.imbalance:
        found.append(ReplanReason.EVENS_WORKLOAD)
    return tuple(found)


def _exclusion(reader: ReaderCapacity, study: Study, releaser: str | None) -> ExclusionReason:
    """Why an on-shift reader was not offered ``study`` (the router's order of checks)."""
    if reader.id == releaser:
        return ExclusionReason.EXCLUDED  # gave it back: never planned back to them
    rad = reader.radiologist
    if (
        study.site_id in rad.sites
        and reader.sites is not None
        and study.site_id not in reader.sites
    ):
        return ExclusionReason.SITE_NOT_IN_SHIFT
    return may_read(rad, study.site_id, study.skills) or ExclusionReason.EXCLUDED


class _Change:
    """The before and after plans of one verdict, to explain each of its moves."""

    def __init__(  # noqa: PLR0917 - private; the verdict's parts
        self,
        instance: Instance,
        now: datetime,
        before: Sequences,
        after: Sequences,
        before_cost: PlanCost,
        after_cost: PlanCost,
        moved: int,
        barred: Mapping[str, str],
    ) -> None:
        self.instance = instance
        self.barred = barred
        self.now = now
        self.now_ms = to_ms(now)
        self.plans = (
            (schedule(instance, before), loads(instance, before)),
            (schedule(instance, after), loads(instance, after)),
        )
        self.before_cost, self.after_cost = before_cost, after_cost
        self.moved = moved

    def _candidate(self, s: int, which: int) -> Candidate:
        """The study's prospects with its reader in the plan before (0) or after (1)."""
        instance = self.instance
        timing, load = self.plans[which]
        r, start, finish = timing[s]
        return Candidate(
            radiologist_id=instance.readers[r].id,
            start_ms=self.now_ms + 1000 * start,
            finish_ms=self.now_ms + 1000 * finish,
            late_ms=1000 * max(0, finish - instance.deadline[s]),
            night_ms=1000 * (load[r] - instance.duration[s, r]),
            within_shift=finish <= instance.shift_end[r],
        )

    def explain(self, s: int) -> Explanation:
        """The explanation of moving study ``s``."""
        instance = self.instance
        study = instance.studies[s]
        new, old = self._candidate(s, 1), self._candidate(s, 0)
        excluded: dict[ExclusionReason, list[str]] = {}
        for r, reader in enumerate(instance.readers):
            if (s, r) not in instance.duration:
                reason = _exclusion(reader, study, self.barred.get(study.uid))
                excluded.setdefault(reason, []).append(reader.id)
        return Explanation(
            study_uid=study.uid,
            priority=study.priority.value,
            rule=study.rule,
            deadline=study.deadline,
            decided_at=self.now,
            chosen=new.radiologist_id,
            basis=Basis.REPLAN,
            candidates=(new, old),
            eligible=len(instance.eligible(s)),
            excluded=tuple(Exclusion(reason, tuple(ids)) for reason, ids in excluded.items()),
            ranking=RANKING,
            replan=PlanChange(
                from_radiologist=old.radiologist_id,
                before=self.before_cost,
                after=self.after_cost,
                moved=self.moved,
                reasons=_reasons(self.before_cost, self.after_cost),
            ),
        )
