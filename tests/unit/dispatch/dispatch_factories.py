"""Builders for dispatch-core tests: radiologists, shifts, studies at a fixed night."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from garde.dispatch.board import Board
from garde.dispatch.model import Priority, Radiologist, Shift, Study, StudyState

NIGHT = datetime(2025, 1, 10, 18, 0, tzinfo=UTC)  # a Friday evening, winter time


def at(minutes: float) -> datetime:
    """``minutes`` after the start of the night."""
    return NIGHT + timedelta(minutes=minutes)


def rad(
    rid: str,
    skills: str = "neuro body chest",
    sites: str = "h1 h2",
    *,
    max_parallel: int = 12,
    speed: float = 1.0,
    fallback: bool = False,
    director: bool = False,
) -> Radiologist:
    return Radiologist(
        id=rid,
        name=f"Dr {rid}",
        skills=frozenset(skills.split()),
        sites=frozenset(sites.split()),
        max_parallel=max_parallel,
        speed=speed,
        fallback=fallback,
        medical_director=director,
    )


def shift(rid: str, start: float = 0, end: float = 14 * 60, sites: str | None = None) -> Shift:
    return Shift(
        radiologist_id=rid,
        start=at(start),
        end=at(end),
        sites=None if sites is None else frozenset(sites.split()),
    )


_counter = iter(range(1, 10**9))


def study(
    uid: str | None = None,
    priority: Priority = Priority.URGENT,
    skills: str = "",
    site: str = "h1",
    minutes: float = 15,
    arrived: float = 0,
    due: float | None = None,
    patient: str = "",
) -> Study:
    targets = {Priority.STROKE: 20, Priority.EMERGENCY: 60, Priority.URGENT: 240}
    deadline = at(due) if due is not None else at(arrived + targets.get(priority, 14 * 60))
    return Study(
        uid=uid or f"1.2.826.0.1.{next(_counter)}",
        site_id=site,
        priority=priority,
        skills=frozenset(skills.split()),
        reading_minutes=minutes,
        arrived_at=at(arrived),
        deadline=deadline,
        patient_key=patient,
        rule="test",
    )


def board_with(*rads: Radiologist, shifts: list[Shift] | None = None) -> Board:
    """A board with these radiologists, each on a whole-night shift unless given."""
    board = Board()
    board.set_roster(rads, shifts if shifts is not None else [shift(r.id) for r in rads])
    return board


@dataclass(frozen=True)
class Place:
    """The store's facts of a study (a `StudyRecord` has these and more)."""

    state: StudyState = StudyState.ASSIGNED
    assignee: str | None = "b"
    study_uid: str = "1.2.826.0.1.99"
    released_by: str | None = None
    pinned_by: str | None = None
    fallback: bool = False
    site_id: str = "h1"
    skills: frozenset[str] = frozenset()
    priority: Priority | None = Priority.URGENT
