"""Why a study went to whom: a structured, JSON-safe record of one routing decision.

It lists the best candidates with their predicted start, finish and lateness, every
radiologist who was excluded grouped by the reason (off shift, no credential for the
site, missing skill, at capacity, ...), and the triage rule that set the priority. It
is stored with the assignment and printed by ``garde explain STUDY``.

A move made by the re-planner (basis ``replan``) also carries a `PlanChange`: the whole
plan's cost before and after the re-plan, term by term, and why it is better; its
candidates are the new reader and the old one, with the study's predicted finish and
lateness in each plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import NamedTuple, cast

from garde.dispatch._time import MS_PER_MINUTE, from_ms, to_ms


class ExclusionReason(StrEnum):
    """Why a radiologist could not take the study (the first failing check)."""

    EXCLUDED = "excluded"  # excluded by the caller (e.g. escalating away from them)
    OFF_SHIFT = "off_shift"
    NO_CREDENTIAL = "no_credential"  # not credentialed for the sending site
    SITE_NOT_IN_SHIFT = "site_not_in_shift"  # credentialed, but the shift covers other sites
    MISSING_SKILL = "missing_skill"
    AT_CAPACITY = "at_capacity"
    SHIFT_ENDS = "shift_ends"  # would finish after their handover while others would not


_REASON_TEXT = {
    ExclusionReason.EXCLUDED: "excluded by the caller",
    ExclusionReason.OFF_SHIFT: "off shift",
    ExclusionReason.NO_CREDENTIAL: "no credential for the site",
    ExclusionReason.SITE_NOT_IN_SHIFT: "site not covered by the current shift",
    ExclusionReason.MISSING_SKILL: "missing skill",
    ExclusionReason.AT_CAPACITY: "at capacity",
    ExclusionReason.SHIFT_ENDS: "would finish after the handover",
}


class Basis(StrEnum):
    """What decided the choice."""

    LEAST_LATENESS = "least_lateness"  # lateness, (soonest finish,) workload, id
    CONTINUITY = "continuity"  # already reads another study of the same patient
    FALLBACK = "fallback"  # nobody eligible: the fallback pool
    NOBODY = "nobody"  # nobody eligible and no fallback reader: flagged, kept
    MEDICAL_DIRECTOR = "medical_director"  # nobody on shift or on call may: the director
    REPLAN = "replan"  # moved by the CP-SAT re-plan: the whole plan costs less
    PREEMPT = "preempt"  # a stroke with every eligible reader mid-read: one is interrupted


_BASIS_TEXT = {
    Basis.CONTINUITY: "already reads another study of this patient",
    Basis.FALLBACK: "nobody eligible: the fallback pool",
    Basis.NOBODY: "nobody may read it",
    Basis.MEDICAL_DIRECTOR: "nobody on shift or on call may read it: the medical director",
    Basis.REPLAN: "moved by the re-plan",
}

_RANKING_TEXT = {
    "lateness": "predicted lateness",
    "finish": "soonest finish",
    "night_minutes": "least reading done tonight (fairness)",
    "id": "id",
}


def _ranked_reason(best: Candidate, other: Candidate, ranking: tuple[str, ...]) -> str:
    """The first measure of ``ranking`` on which ``best`` beat the runner-up ``other``."""
    rival = other.radiologist_id
    for key in ranking:
        if key == "lateness" and best.late_ms != other.late_ms:
            return (
                f"least predicted lateness: {_span(best.late_ms)}, {rival} {_span(other.late_ms)}"
            )
        if key == "finish" and best.finish_ms != other.finish_ms:
            # Minutes, not clock times: a few seconds' lead prints the same minute.
            lead = (other.finish_ms - best.finish_ms) / MS_PER_MINUTE
            return f"soonest finish: {lead:.1f} min before {rival}"
        if key == "night_minutes" and best.night_ms != other.night_ms:
            return (
                f"least reading done tonight (fairness): {best.night_minutes:.0f} min, "
                f"{rival} {other.night_minutes:.0f} min"
            )
    return f"tied with {rival} on every measure: first by id"


def _span(ms: int) -> str:
    """A lateness in words: seconds under a minute (so that 0 and 20 s differ), else minutes."""
    if 0 < ms < MS_PER_MINUTE:
        return f"{ms / 1000:.0f} s"
    return f"{ms / MS_PER_MINUTE:.0f} min"


def clock(moment: datetime, zone: tzinfo) -> str:
    """``moment`` as the region's wall clock with its zone (``Sat 05/12 23:04 CET``)."""
    local = moment.astimezone(zone)
    return f"{local:%a %d/%m %H:%M} {local.tzname() or local.strftime('%z')}"


class ReplanReason(StrEnum):
    """What a re-plan improved, by term of the plan cost."""

    LOWERS_LATENESS = "lowers_lateness"
    LOWERS_OVERRUN = "lowers_overrun"
    EVENS_WORKLOAD = "evens_workload"


_REPLAN_TEXT = {
    ReplanReason.LOWERS_LATENESS: "lowers the plan's weighted lateness",
    ReplanReason.LOWERS_OVERRUN: "lowers reading past shift ends",
    ReplanReason.EVENS_WORKLOAD: "evens the night's workload",
}


class PlanCost(NamedTuple):
    """A whole plan's cost by term, in the re-planner's integer units: what
    `garde.dispatch.optimizer.plan.evaluate` returns and a re-plan explanation keeps."""

    lateness: int
    overrun: int
    imbalance: int
    moves: int

    @property
    def total(self) -> int:
        """The objective the optimizer minimises."""
        return self.lateness + self.overrun + self.imbalance + self.moves


@dataclass(frozen=True, slots=True)
class PlanChange:
    """Why the re-planner moved a study: the plan's cost before and after its moves.

    ``moved`` counts the studies the re-plan moved together (this one included);
    ``reasons`` the cost terms it lowered.
    """

    from_radiologist: str
    before: PlanCost
    after: PlanCost
    moved: int
    reasons: tuple[ReplanReason, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict."""
        return {
            "from": self.from_radiologist,
            "objective_before": self.before.total,
            "objective_after": self.after.total,
            "before": self.before._asdict(),
            "after": self.after._asdict(),
            "moved": self.moved,
            "reasons": [r.value for r in self.reasons],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PlanChange:
        """Read back `to_dict` (KeyError/TypeError/ValueError if malformed)."""
        before = cast("dict[str, int]", data["before"])
        after = cast("dict[str, int]", data["after"])
        return cls(
            from_radiologist=str(data["from"]),
            before=PlanCost(**{k: int(v) for k, v in before.items()}),
            after=PlanCost(**{k: int(v) for k, v in after.items()}),
            moved=int(cast("int", data["moved"])),
            reasons=tuple(ReplanReason(str(r)) for r in cast("list[object]", data["reasons"])),
        )

    def render_lines(self) -> list[str]:
        """Lines for `Explanation.render_text`."""
        others = self.moved - 1
        return [
            f"re-plan: moved from {self.from_radiologist}"
            + (f" with {others} other stud{'y' if others == 1 else 'ies'}" if others else "")
            + f"; plan cost {self.before.total:,} -> {self.after.total:,}",
            "  "
            + ", ".join(
                f"{name} {getattr(self.before, name):,} -> {getattr(self.after, name):,}"
                for name in PlanCost._fields
            ),
            "reason: " + (", ".join(_REPLAN_TEXT[r] for r in self.reasons) or "lower plan cost"),
        ]


class Candidate(NamedTuple):
    """One eligible radiologist's prospects for the study.

    A named tuple of integers rather than a frozen dataclass of datetimes: the router
    builds several per decision, and this keeps that under a microsecond each. The
    datetime and minute views are properties.
    """

    radiologist_id: str
    start_ms: int  # predicted start, epoch milliseconds
    finish_ms: int  # predicted finish, epoch milliseconds
    late_ms: int  # predicted time past the deadline (0: on time)
    night_ms: int  # workload of the night before this study (fairness), nominal
    within_shift: bool = True  # finishes before the handover

    @property
    def predicted_start(self) -> datetime:
        """When they would open it."""
        return from_ms(self.start_ms)

    @property
    def predicted_finish(self) -> datetime:
        """When they would be done."""
        return from_ms(self.finish_ms)

    @property
    def lateness_min(self) -> float:
        """Predicted minutes past the deadline."""
        return self.late_ms / MS_PER_MINUTE

    @property
    def night_minutes(self) -> float:
        """Nominal reading minutes of their night so far (read, in hand, queued)."""
        return self.night_ms / MS_PER_MINUTE


class Exclusion(NamedTuple):
    """Radiologists excluded for one reason."""

    reason: ExclusionReason
    radiologist_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The record of one routing decision.

    ``candidates`` are the best few eligible radiologists in ranking order (the chosen
    one first unless ``basis`` is continuity); ``eligible`` counts them all.
    """

    study_uid: str
    priority: str
    rule: str
    deadline: datetime
    decided_at: datetime
    chosen: str | None
    basis: Basis
    candidates: tuple[Candidate, ...]
    eligible: int
    excluded: tuple[Exclusion, ...]
    ranking: tuple[str, ...] = ("lateness", "night_minutes", "id")
    replan: PlanChange | None = None  # set when the re-planner made the move
    limit: datetime | None = None  # the contractual limit, when later than the deadline
    interrupts: str | None = None  # basis preempt: the study its reader was reading
    wait_without_ms: int = 0  # basis preempt: how long the stroke would have waited

    def excluded_reason(self, radiologist_id: str) -> ExclusionReason | None:
        """Why ``radiologist_id`` was excluded (None if they were not)."""
        for group in self.excluded:
            if radiologist_id in group.radiologist_ids:
                return group.reason
        return None

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict (ISO 8601 datetimes); `from_dict` reads it back."""
        data = self._routing_dict()
        if self.replan is not None:
            data["replan"] = self.replan.to_dict()
        return data

    def _routing_dict(self) -> dict[str, object]:
        return {
            "study_uid": self.study_uid,
            "priority": self.priority,
            "rule": self.rule,
            "deadline": self.deadline.isoformat(),
            "limit": None if self.limit is None else self.limit.isoformat(),
            "interrupts": self.interrupts,
            "wait_without_min": self.wait_without_ms / MS_PER_MINUTE,
            "decided_at": self.decided_at.isoformat(),
            "chosen": self.chosen,
            "basis": self.basis.value,
            "ranking": list(self.ranking),
            "eligible": self.eligible,
            "candidates": [
                {
                    "radiologist_id": c.radiologist_id,
                    "predicted_start": c.predicted_start.isoformat(),
                    "predicted_finish": c.predicted_finish.isoformat(),
                    "lateness_min": c.lateness_min,
                    "night_minutes": c.night_minutes,
                    "within_shift": c.within_shift,
                }
                for c in self.candidates
            ],
            "excluded": {g.reason.value: list(g.radiologist_ids) for g in self.excluded},
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Explanation:
        """Rebuild an explanation stored with `to_dict` (raises ValueError if malformed)."""
        try:
            candidates = cast("list[dict[str, object]]", data["candidates"])
            excluded = cast("dict[str, list[str]]", data["excluded"])
            return cls(
                study_uid=str(data["study_uid"]),
                priority=str(data["priority"]),
                rule=str(data["rule"]),
                deadline=datetime.fromisoformat(str(data["deadline"])),
                limit=(
                    None
                    if data.get("limit") is None
                    else datetime.fromisoformat(str(data["limit"]))
                ),
                decided_at=datetime.fromisoformat(str(data["decided_at"])),
                chosen=None if data["chosen"] is None else str(data["chosen"]),
                interrupts=None if data.get("interrupts") is None else str(data["interrupts"]),
                wait_without_ms=round(
                    float(cast("float", data.get("wait_without_min", 0))) * MS_PER_MINUTE
                ),
                basis=Basis(str(data["basis"])),
                ranking=tuple(str(k) for k in cast("list[object]", data["ranking"])),
                eligible=int(cast("int", data["eligible"])),
                candidates=tuple(
                    Candidate(
                        radiologist_id=str(c["radiologist_id"]),
                        start_ms=to_ms(datetime.fromisoformat(str(c["predicted_start"]))),
                        finish_ms=to_ms(datetime.fromisoformat(str(c["predicted_finish"]))),
                        late_ms=round(float(cast("float", c["lateness_min"])) * MS_PER_MINUTE),
                        night_ms=round(float(cast("float", c["night_minutes"])) * MS_PER_MINUTE),
                        within_shift=bool(c["within_shift"]),
                    )
                    for c in candidates
                ),
                excluded=tuple(
                    Exclusion(ExclusionReason(reason), tuple(str(r) for r in ids))
                    for reason, ids in excluded.items()
                ),
                replan=(
                    PlanChange.from_dict(cast("dict[str, object]", data["replan"]))
                    if data.get("replan") is not None
                    else None
                ),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a routing explanation: missing or bad {exc}") from exc

    def decided_by(self) -> str:
        """In words, what made the choice: for a ranked choice, the first measure of the
        ranking on which the chosen reader beat the runner-up (not "least lateness" when
        everyone was on time)."""
        if self.basis is Basis.PREEMPT:
            wait = self.wait_without_ms / MS_PER_MINUTE
            return (
                f"a stroke with every eligible reader mid-read: {self.chosen} is interrupted "
                f"in their read of {self.interrupts} (else the stroke waits {wait:.0f} min)"
            )
        if self.basis is not Basis.LEAST_LATENESS:
            return _BASIS_TEXT[self.basis]
        if self.eligible <= 1 or len(self.candidates) < 2:
            return "the only eligible reader"
        return _ranked_reason(self.candidates[0], self.candidates[1], self.ranking)

    def render_text(self, zone: tzinfo = UTC, name: str = "") -> str:
        """A human-readable account, for ``garde explain``: times as the wall clock of
        ``zone`` (the region's, passed in) with the zone named, the study called ``name``
        (its handle) if given."""
        lines = [
            (
                f"study {name or self.study_uid}: {self.priority} (rule {self.rule}), "
                f"due {clock(self.deadline, zone)}"
                + (
                    ""
                    if self.limit is None
                    else f" (target; contractual limit {clock(self.limit, zone)})"
                )
            ),
            f"decided {clock(self.decided_at, zone)}: "
            + (
                f"assigned to {self.chosen}: {self.decided_by()}"
                if self.chosen
                else "NOBODY may read it: flagged for the operators"
            ),
            "ranked by "
            + ", then ".join(_RANKING_TEXT.get(k, k) for k in self.ranking)
            + f"; {self.eligible} eligible",
        ]
        if self.candidates:
            lines.append("candidates (predicted; reading done tonight):")
            lines.extend(
                f"  {c.radiologist_id:<12} start {c.predicted_start.astimezone(zone):%H:%M} "
                f"finish {c.predicted_finish.astimezone(zone):%H:%M} late {c.lateness_min:.0f} min"
                f", {c.night_minutes:.0f} min read tonight"
                + ("" if c.within_shift else " (after handover)")
                for c in self.candidates
            )
        if self.excluded:
            lines.append("excluded:")
            lines.extend(
                f"  {_REASON_TEXT[g.reason]}: {', '.join(g.radiologist_ids)}" for g in self.excluded
            )
        if self.replan is not None:
            lines.extend(self.replan.render_lines())
            if len(self.candidates) == 2:  # the new reader, then the old
                new, old = self.candidates
                lines.append(
                    f"this study: with {old.radiologist_id} finish "
                    f"{old.predicted_finish.astimezone(zone):%H:%M} late {old.lateness_min:.1f} "
                    f"min; with {new.radiologist_id} finish "
                    f"{new.predicted_finish.astimezone(zone):%H:%M} "
                    f"late {new.lateness_min:.1f} min"
                )
        return "\n".join(lines)
