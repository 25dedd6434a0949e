"""Roster edits as changes: what an import merges, and one shift added, removed or swapped.

Each function is pure: it takes the stored shifts that matter and returns a
`RosterChange` (added, changed, removed) or raises `RosterEditError` naming the shifts
in the planner's local time. The service applies the change in one unit of work.

An import merges: a file's shift is *the same shift* as a stored one of the same
radiologist that it overlaps (unchanged if identical, changed otherwise); a shift that
overlaps nothing is added; nothing is removed unless a replace window is named, and then
only the stored shifts that start in it and that the file does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.rosters.errors import RosterError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from garde.dispatch.model import Radiologist, Shift

_TICK = timedelta(microseconds=1)


class RosterEditError(RosterError):
    """A roster edit was refused (an overlap, a shift that does not exist); nothing changed."""


@dataclass(frozen=True, slots=True)
class RosterChange:
    """What an edit does to the stored roster: ``changed`` pairs are (before, after)."""

    added: tuple[Shift, ...] = ()
    changed: tuple[tuple[Shift, Shift], ...] = ()
    removed: tuple[Shift, ...] = ()
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        """True if the edit changes nothing."""
        return not (self.added or self.changed or self.removed)

    def window(self) -> tuple[datetime, datetime] | None:
        """The smallest range of starts [first, last] holding every shift touched, as a
        half-open range; None if nothing changes."""
        starts = [
            *(s.start for s in self.added),
            *(s.start for pair in self.changed for s in pair),
            *(s.start for s in self.removed),
        ]
        return (min(starts), max(starts) + _TICK) if starts else None

    def apply(self, stored: Sequence[Shift]) -> list[Shift]:
        """The shifts of ``stored`` (those starting in `window`) after the change."""
        gone = [*self.removed, *(before for before, _ in self.changed)]
        kept = list(stored)
        for shift in gone:
            kept.remove(shift)  # one occurrence: a duplicated row loses only one copy
        return [*kept, *(after for _, after in self.changed), *self.added]


def describe(shift: Shift, tz: ZoneInfo) -> str:
    """``r03 night Thu 05 Nov 2026 20:00 to Fri 06 Nov 08:00`` in local time."""
    start, end = shift.start.astimezone(tz), shift.end.astimezone(tz)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
    return f"{shift.radiologist_id} {shift.role} {start:%a %d %b %Y %H:%M} to {end_text}"


def _overlapping(stored: Sequence[Shift], shift: Shift) -> list[Shift]:
    return [
        s
        for s in stored
        if s.radiologist_id == shift.radiologist_id and s.start < shift.end and s.end > shift.start
    ]


def merge(
    stored: Sequence[Shift],
    incoming: Sequence[Shift],
    tz: ZoneInfo,
    *,
    replace_window: tuple[datetime, datetime] | None = None,
) -> RosterChange:
    """Merge a file's shifts into ``stored`` (every stored shift overlapping them, and
    every one starting in ``replace_window``).

    Raises
    ------
    RosterEditError
        A file's shift overlaps two stored shifts of its radiologist (which one would it
        update?), or, with a window, one that starts outside it. Every such shift is named.
    """

    def replaceable(shift: Shift) -> bool:
        return replace_window is not None and replace_window[0] <= shift.start < replace_window[1]

    claimed: set[int] = set()
    added: list[Shift] = []
    changed: list[tuple[Shift, Shift]] = []
    unchanged = 0
    problems: list[str] = []
    for shift in incoming:
        same = [s for s in _overlapping(stored, shift) if id(s) not in claimed]
        exact = next((s for s in same if s == shift), None)
        if exact is not None:
            claimed.add(id(exact))
            unchanged += 1
            continue
        if replace_window is None:
            target, blocking = same[:1], same[1:]
        else:
            target = [s for s in same if replaceable(s)][:1]
            blocking = [s for s in same if not replaceable(s)]
        if blocking:
            named = "; ".join(describe(s, tz) for s in [*target, *blocking])
            hint = "" if replace_window else " (name the days with --replace FROM TO)"
            problems.append(f"{describe(shift, tz)} overlaps the stored {named}{hint}")
        elif target:
            claimed.add(id(target[0]))
            changed.append((target[0], shift))
        else:
            added.append(shift)
    if problems:
        raise RosterEditError("\n".join(problems))
    removed = [s for s in stored if replaceable(s) and id(s) not in claimed]
    return RosterChange(
        added=tuple(added), changed=tuple(changed), removed=tuple(removed), unchanged=unchanged
    )


def add_shift(stored: Sequence[Shift], shift: Shift, tz: ZoneInfo) -> RosterChange:
    """Add one shift; refused if it overlaps one of the radiologist's (both named)."""
    clash = _overlapping(stored, shift)
    if clash:
        raise RosterEditError(
            f"{describe(shift, tz)} overlaps {describe(clash[0], tz)}"
            + "".join(f" and {describe(s, tz)}" for s in clash[1:])
        )
    return RosterChange(added=(shift,))


def find_shift(stored: Sequence[Shift], radiologist_id: str, at: datetime, tz: ZoneInfo) -> Shift:
    """The radiologist's shift starting at ``at``, else the one under way at ``at``."""
    own = sorted((s for s in stored if s.radiologist_id == radiologist_id), key=lambda s: s.start)
    for shift in own:
        if shift.start == at:
            return shift
    for shift in own:
        if shift.covers(at):
            return shift
    near = "; ".join(describe(s, tz) for s in own[:5]) or "none"
    raise RosterEditError(
        f"{radiologist_id} has no shift at {at.astimezone(tz):%a %d %b %Y %H:%M} "
        f"(their shifts that week: {near})"
    )


def remove_shift(
    stored: Sequence[Shift], radiologist_id: str, at: datetime, tz: ZoneInfo
) -> RosterChange:
    """Remove the radiologist's shift starting (or under way) at ``at``."""
    return RosterChange(removed=(find_shift(stored, radiologist_id, at, tz),))


def swap_shifts(
    stored: Sequence[Shift],
    first: tuple[Radiologist, datetime],
    other: tuple[Radiologist, datetime | None],
    tz: ZoneInfo,
) -> RosterChange:
    """Hand the first radiologist's shift at a time to the other one or, when the other's
    time is given, exchange it for the other's shift then.

    Raises
    ------
    RosterEditError
        A shift does not exist, a taker is not credentialed for the shift's sites, or a
        taker already works then (both shifts named).
    """
    (giver, given_at), (taker, taken_at) = first, other
    given = find_shift(stored, giver.id, given_at, tz)
    taken = find_shift(stored, taker.id, taken_at, tz) if taken_at is not None else None
    moves = [(given, replace(given, radiologist_id=taker.id), taker)]
    if taken is not None:
        moves.append((taken, replace(taken, radiologist_id=giver.id), giver))
    leaving = {id(given), id(taken)}
    rest = [s for s in stored if id(s) not in leaving]
    for before, after, person in moves:
        _check_sites(after, person, tz)
        clash = _overlapping(rest, after)
        if clash:
            raise RosterEditError(
                f"{person.id} cannot take {describe(before, tz)}: it overlaps "
                + "; ".join(describe(s, tz) for s in clash)
            )
    return RosterChange(changed=tuple((before, after) for before, after, _ in moves))


def _check_sites(shift: Shift, taker: Radiologist, tz: ZoneInfo) -> None:
    if shift.sites is None:
        return
    missing = sorted(shift.sites - taker.sites)
    if missing:
        raise RosterEditError(
            f"{taker.id} is not credentialed for {', '.join(missing)}, "
            f"which {describe(shift, tz)} covers"
        )
