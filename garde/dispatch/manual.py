"""The rules a manual (operator's) assignment must respect, and which ones it breaks.

An operator's `garde assign` follows the router's rules unless forced: a credential for
the sending hospital (`router.may_read`), the study's skills, and a shift covering now.
The region's medical director is exempt from the shift rule (always reachable) and,
for a study flagged for the fallback pool, from the skill rule (as the pool is). The
service words each broken rule for the user; the decision is here, pure, with the
lifecycle step an operator's assignment takes (`hand_event`) and what refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from garde.dispatch import lifecycle
from garde.dispatch.explanation import ExclusionReason
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.router import may_read

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from garde.dispatch.model import Radiologist, Shift, StudyState


class Rule(StrEnum):
    """A rule of assignment, in the order they are checked."""

    NO_CREDENTIAL = "no_credential"
    MISSING_SKILL = "missing_skill"
    OFF_SHIFT = "off_shift"


@dataclass(frozen=True, slots=True)
class Broken:
    """One broken rule: the skills missing, or when the reader's next shift starts
    (None: none known)."""

    rule: Rule
    missing: tuple[str, ...] = ()
    next_shift: datetime | None = None


def broken_rules(
    reader: Radiologist,
    site_id: str,
    skills: frozenset[str],
    shifts: Iterable[Shift],
    now: datetime,
    *,
    flagged: bool,
) -> tuple[Broken, ...]:
    """The rules giving a study (of ``site_id`` needing ``skills``) to ``reader`` at
    ``now`` would break; empty when it is allowed. ``shifts`` are the reader's."""
    broken: list[Broken] = []
    if may_read(reader, site_id, frozenset()) is ExclusionReason.NO_CREDENTIAL:
        broken.append(Broken(Rule.NO_CREDENTIAL))
    missing = tuple(sorted(skills - reader.skills))
    if missing and not (flagged and (reader.fallback or reader.medical_director)):
        broken.append(Broken(Rule.MISSING_SKILL, missing=missing))
    if not reader.medical_director:
        mine = [s for s in shifts if s.radiologist_id == reader.id]
        if not any(s.covers(now) for s in mine):
            upcoming = min((s.start for s in mine if s.start > now), default=None)
            broken.append(Broken(Rule.OFF_SHIFT, next_shift=upcoming))
    return tuple(broken)


def hand_event(state: StudyState, assignee: str | None, target: str) -> StudyEvent | None:
    """The lifecycle event of an operator giving a study in ``state``, held by
    ``assignee``, to ``target``: pinning it where it is when it is theirs already (a
    read in hand stays in hand), a hand assignment otherwise; None when the lifecycle
    does not allow it now (still arriving, or read)."""
    event = StudyEvent.PINNED if assignee == target else StudyEvent.HAND_ASSIGNED
    return event if event in lifecycle.allowed_events(state) else None


def already_pinned(assignee: str | None, pinned_by: str | None, target: str) -> bool:
    """The study is pinned to ``target`` already (assigned to them but not pinned: an
    operator's assignment pins it where it is)."""
    return assignee == target and pinned_by is not None


def blocking(broken: Iterable[Broken], *, force: bool) -> Broken | None:
    """The broken rule that refuses a manual assignment (the first one), or None when
    none is broken or ``force`` overrides them (audited as such by the service)."""
    return None if force else next(iter(broken), None)
