"""The router: one study, one decision, in microseconds.

Eligible radiologists are on shift now, credentialed for the sending site (and their
shift covers it), hold every required skill and are under ``max_parallel``; among them
those predicted to finish before their handover are preferred (the others are excluded
as ``shift_ends``, unless nobody would finish in time). The choice is the least
predicted lateness, then for stroke and emergency work the soonest predicted finish
(every minute counts there), then the least workload of the night (fairness: nominal
reading minutes read, in hand and queued), then the radiologist id (stable).

A patient's next study (same ``patient_key``: at the same site, or at any hospital when
the key comes from the INS) goes to the reader who already holds one of theirs if that
reader is eligible and still on time (continuity: a deadline the reader would miss
forbids it). A study
no one may read goes to the fallback pool (``Radiologist.fallback``) members the roster
has on shift now, flagged; only a fallback reader credentialed for the site may take it
(a credential is a legal requirement, a skill is not: see `may_read`). A fallback
reader off shift is never chosen: with nobody on shift or on call it goes to the
region's medical director (``Radiologist.medical_director``), flagged, and with no
director credentialed for the site to nobody, flagged, and never dropped.

The router does not change the board: the caller applies the decision
(`Board.assign`) once it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from garde.dispatch.board import Code
from garde.dispatch.explanation import (
    Basis,
    Candidate,
    Exclusion,
    ExclusionReason,
    Explanation,
)
from garde.dispatch.model import Priority
from garde.dispatch.sla import limit_of

if TYPE_CHECKING:
    from datetime import datetime

    from numpy.typing import NDArray

    from garde.dispatch.board import Board, Evaluation
    from garde.dispatch.model import Radiologist, SlaPolicy, Study

SOONEST_FIRST = frozenset({Priority.STROKE, Priority.EMERGENCY})
"""Priorities ranked by soonest finish right after lateness."""

CANDIDATES_SHOWN = 5
"""How many ranked candidates an explanation keeps."""

_REASONS: dict[int, ExclusionReason] = {
    int(Code.EXCLUDED): ExclusionReason.EXCLUDED,
    int(Code.OFF_SHIFT): ExclusionReason.OFF_SHIFT,
    int(Code.NO_CREDENTIAL): ExclusionReason.NO_CREDENTIAL,
    int(Code.SITE_NOT_IN_SHIFT): ExclusionReason.SITE_NOT_IN_SHIFT,
    int(Code.MISSING_SKILL): ExclusionReason.MISSING_SKILL,
    int(Code.AT_CAPACITY): ExclusionReason.AT_CAPACITY,
    int(Code.SHIFT_ENDS): ExclusionReason.SHIFT_ENDS,
}
_CODES = len(Code)
_ELIGIBLE = int(Code.ELIGIBLE)
_OFF_SHIFT = int(Code.OFF_SHIFT)
_EXCLUDED = int(Code.EXCLUDED)
_SHIFT_ENDS = int(Code.SHIFT_ENDS)
_RANKING_SOONEST = ("lateness", "finish", "night_minutes", "id")
_RANKING = ("lateness", "night_minutes", "id")


@dataclass(frozen=True, slots=True)
class Decision:
    """The router's verdict for one study.

    ``radiologist_id`` is None when nobody at all may read it; ``fallback`` is True
    when it went to (or needs) the fallback pool. Either way the study is kept and
    flagged, never dropped.
    """

    study_uid: str
    radiologist_id: str | None
    fallback: bool
    explanation: Explanation


def may_read(
    reader: Radiologist, site_id: str, skills: frozenset[str], *, flagged: bool = False
) -> ExclusionReason | None:
    """The permission rule shared by the router and the reading actions (None: allowed).

    A credential for the sending site is always required (it is a legal one). The study's
    skills are required too, except from a member of the fallback pool reading a study
    flagged ``fallback`` (routed to the pool because nobody eligible may read it): that
    is what the pool is for, and the medical director's last resort too. Shifts and
    capacity are the router's business, not this rule's: one may finish a study after
    one's shift.
    """
    if site_id not in reader.sites:
        return ExclusionReason.NO_CREDENTIAL
    if flagged and (reader.fallback or reader.medical_director):
        return None
    if not skills <= reader.skills:
        return ExclusionReason.MISSING_SKILL
    return None


def rank_order(
    evaluation: Evaluation, members: NDArray[np.intp], priority: Priority
) -> NDArray[np.intp]:
    """``members`` (radiologist indices) sorted best first by the router's ranking."""
    late = evaluation.late_ms[members]
    load = evaluation.load_ms[members]
    if priority in SOONEST_FIRST:
        order = np.lexsort((members, load, evaluation.finish_ms[members], late))
    else:
        order = np.lexsort((members, load, late))
    return members[order]


def route(
    study: Study,
    board: Board,
    policy: SlaPolicy,
    now: datetime,
    *,
    exclude: frozenset[str] = frozenset(),
) -> Decision:
    """Choose who reads ``study`` (see the module docstring for the rules).

    Parameters
    ----------
    study
        The triaged study, with its deadline.
    board
        The current snapshot; not modified.
    policy
        The SLA policy: the study's deadline is its target (what the ranking aims at);
        its contractual limit is recorded in the explanation.
    now
        The decision time, timezone-aware.
    exclude
        Radiologist ids that may not take it (e.g. the reader an escalation moves it
        away from).

    Returns
    -------
    Decision
        The radiologist (or None), the fallback flag and the explanation.
    """
    limit = limit_of(policy, study)
    return decide(
        study,
        board,
        board.evaluate(study, now, exclude),
        now,
        limit=None if limit == study.deadline else limit,
    )


def decide(
    study: Study,
    board: Board,
    evaluation: Evaluation,
    now: datetime,
    *,
    limit: datetime | None = None,
) -> Decision:
    """The choice among ``evaluation``'s radiologists (the ranking half of `route`).

    ``limit`` is the study's contractual limit when it lies past its deadline (the
    target): lateness is ranked against the target, the limit is recorded.
    """
    code = evaluation.code
    eligible = np.flatnonzero(code == _ELIGIBLE)
    basis = Basis.LEAST_LATENESS
    fallback = False
    chosen: int | None
    if len(eligible):
        in_time = evaluation.within_shift[eligible]
        on_time_count = int(np.count_nonzero(in_time))
        if 0 < on_time_count < len(eligible):
            code = code.copy()
            code[eligible[~in_time]] = _SHIFT_ENDS
            pool = eligible[in_time]
        else:
            pool = eligible
        ranked = rank_order(evaluation, pool, study.priority)
        chosen = int(ranked[0])
        holders = board.same_patient(study)
        if holders:
            members = set(pool.tolist())
            for holder in holders:
                i = board.index_of(holder)
                if i in members and evaluation.late_ms[i] == 0:
                    chosen = i
                    basis = Basis.CONTINUITY
                    break
    else:
        fallback = True
        # `may_read` with ``flagged``: credentialed members of the pool, skills or not,
        # and only those the roster has on call now: a reader off shift may be asleep
        # or abroad, and nobody would know the study waits for them.
        allowed = board.credentialed(study.site_id) & (code != _EXCLUDED)
        pool = np.flatnonzero(board.fallback_mask() & allowed & (code != _OFF_SHIFT))
        ranked = rank_order(evaluation, pool, study.priority)
        if len(ranked):
            chosen = int(ranked[0])
            basis = Basis.FALLBACK
        else:
            # Nobody on shift or on call: the region's medical director, whatever the
            # roster says (credentialed, as everyone must be).
            ranked = np.flatnonzero(board.director_mask() & allowed)
            chosen = int(ranked[0]) if len(ranked) else None
            basis = Basis.NOBODY if chosen is None else Basis.MEDICAL_DIRECTOR
    ids = board.ids
    explanation = Explanation(
        study_uid=study.uid,
        priority=study.priority.value,
        rule=study.rule,
        deadline=study.deadline,
        limit=limit,
        decided_at=now,
        chosen=None if chosen is None else ids[chosen],
        basis=basis,
        candidates=_candidates(evaluation, ranked, chosen, ids),
        eligible=0 if fallback else len(pool),
        excluded=_exclusions(code, board),
        ranking=_RANKING_SOONEST if study.priority in SOONEST_FIRST else _RANKING,
    )
    return Decision(
        study_uid=study.uid,
        radiologist_id=explanation.chosen,
        fallback=fallback,
        explanation=explanation,
    )


def _candidates(
    evaluation: Evaluation, ranked: NDArray[np.intp], chosen: int | None, ids: tuple[str, ...]
) -> tuple[Candidate, ...]:
    shown = ranked[:CANDIDATES_SHOWN]
    if chosen is not None and chosen not in shown.tolist():
        shown = np.array([chosen, *shown[: CANDIDATES_SHOWN - 1].tolist()], dtype=np.intp)
    # One conversion per column: indexing numpy scalars one by one is slower.
    rows = zip(
        shown.tolist(),
        evaluation.start_ms[shown].tolist(),
        evaluation.finish_ms[shown].tolist(),
        evaluation.late_ms[shown].tolist(),
        evaluation.load_ms[shown].tolist(),
        evaluation.within_shift[shown].tolist(),
        strict=True,
    )
    return tuple(
        Candidate(ids[i], start, finish, late, load, within)
        for i, start, finish, late, load, within in rows
    )


_MEMO_LIMIT = 4096
"""Distinct exclusion vectors remembered per board before the memo starts over."""


def _exclusions(code: NDArray[np.int8], board: Board) -> tuple[Exclusion, ...]:
    """Radiologists grouped by the reason they were excluded, in `Code` order.

    Memoised on the board by the code vector: between shift boundaries the same site,
    skills and capacity pattern recur, and grouping names costs more than a look-up.
    """
    memo = board.exclusion_memo()
    signature = code.tobytes()
    cached = memo.get(signature)
    if cached is not None:
        return cached
    counts = np.bincount(code, minlength=_CODES).tolist()
    groups = []
    if counts[_ELIGIBLE] != len(code):
        names = board.ids_array()[np.argsort(code, kind="stable")].tolist()
        lo = counts[_ELIGIBLE]
        for value in range(1, _CODES):
            hi = lo + counts[value]
            if hi > lo:
                groups.append(Exclusion(_REASONS[value], tuple(names[lo:hi])))
            lo = hi
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    result = memo[signature] = tuple(groups)
    return result
