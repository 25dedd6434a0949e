"""Seeded backlogs for the re-planning benchmark and tests: a snapshot of unstarted work.

Each kind stresses where a greedy router is weak:

- ``regional``: the default night's case mix mid-peak, readers with staggered shift ends;
- ``scarce_skills``: most work needs neuro, few readers hold it;
- ``stroke_queue``: a burst of strokes and emergencies that the greedy plan stacks on one
  neuro reader while generalists are busy with long studies;
- ``shift_end``: several readers hand over within the hour with work queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from garde.dispatch.model import Priority, Radiologist, SlaPolicy, Study
from garde.dispatch.optimizer.plan import ReaderCapacity

KINDS = ("regional", "scarce_skills", "stroke_queue", "shift_end")
_SKILLS = ("neuro", "body", "chest", "msk")
_NOW = datetime(2025, 1, 15, 21, 30, tzinfo=UTC)
# priority, skill, reading minutes, share (NIGHTS.md mix, coarsened)
_MIX = (
    (Priority.STROKE, "neuro", 6.0, 0.08),
    (Priority.EMERGENCY, "chest", 12.0, 0.09),
    (Priority.EMERGENCY, "body", 39.0, 0.03),
    (Priority.EMERGENCY, "neuro", 16.0, 0.03),
    (Priority.URGENT, "neuro", 16.0, 0.35),
    (Priority.URGENT, "body", 18.0, 0.26),
    (Priority.URGENT, "msk", 10.0, 0.04),
    (Priority.URGENT, "chest", 16.0, 0.04),
    (Priority.ROUTINE, "chest", 4.0, 0.08),
)


@dataclass(frozen=True, slots=True)
class Backlog:
    """A re-planning problem: the inputs of `garde.dispatch.optimizer.replan`."""

    kind: str
    studies: tuple[Study, ...]
    readers: tuple[ReaderCapacity, ...]
    now: datetime
    policy: SlaPolicy


def make_backlog(kind: str, studies: int, radiologists: int, seed: int) -> Backlog:
    """A seeded backlog of ``studies`` unstarted studies over ``radiologists`` readers."""
    if kind not in KINDS:
        raise ValueError(f"unknown backlog kind {kind!r}; expected one of {KINDS}")
    rng = np.random.default_rng(seed)
    policy = SlaPolicy()
    sites = [f"h{i:02d}" for i in range(1, max(4, radiologists // 2) + 1)]
    readers = _readers(kind, radiologists, sites, rng)
    built = _studies(kind, studies, sites, seed, policy, rng=rng)
    return Backlog(kind, tuple(built), tuple(_cover(readers, built)), _NOW, policy)


def _readers(
    kind: str, radiologists: int, sites: list[str], rng: np.random.Generator
) -> list[ReaderCapacity]:
    readers = []
    for i in range(radiologists):
        if kind == "scarce_skills":
            skills = {"body", "chest"} | ({"neuro"} if i % 5 == 0 else set())
        elif kind == "stroke_queue":
            skills = {"body", "chest", "msk"} | ({"neuro"} if i % 3 == 0 else set())
        else:
            drawn = rng.choice(len(_SKILLS), size=2, replace=False)
            skills = {_SKILLS[int(k)] for k in drawn} | {"body"}
        credentialed = {s for s in sites if rng.random() < 0.8} or {sites[0]}
        if i == 0:
            credentialed = set(sites)
        rad = Radiologist(
            id=f"r{i:03d}",
            name=f"Reader {i}",
            skills=frozenset(skills),
            sites=frozenset(credentialed),
            speed=float(rng.choice([0.9, 1.0, 1.0, 1.1, 1.2])),
        )
        busy = float(rng.uniform(0, 20)) if kind != "stroke_queue" else float(rng.uniform(10, 35))
        if kind == "stroke_queue" and "neuro" in skills:
            busy = float(rng.uniform(0, 5))
        if kind == "shift_end" and i % 2 == 0:
            end = float(rng.uniform(20, 60))
        else:
            end = float(rng.uniform(240, 660))
        readers.append(
            ReaderCapacity(
                radiologist=rad,
                free_at=_NOW + timedelta(minutes=busy),
                shift_end=_NOW + timedelta(minutes=end),
                read_minutes=float(rng.uniform(30, 180)),
            )
        )
    return readers


def _studies(
    kind: str,
    studies: int,
    sites: list[str],
    seed: int,
    policy: SlaPolicy,
    *,
    rng: np.random.Generator,
) -> list[Study]:
    shares = np.array([m[3] for m in _MIX])
    if kind == "stroke_queue":
        shares[0] *= 3.0
    shares /= shares.sum()
    built = []
    for n in range(studies):
        priority, skill, minutes, _ = _MIX[int(rng.choice(len(_MIX), p=shares))]
        if kind == "scarce_skills" and priority is Priority.URGENT and rng.random() < 0.4:
            skill = "neuro"
        # Waiting up to an hour already (a peak backlog), more for less urgent work.
        waited = float(rng.uniform(0, 10 if priority is Priority.STROKE else 60))
        arrived = _NOW - timedelta(minutes=waited)
        target = policy.targets.get(priority)
        deadline = (
            arrived + target if target else _NOW.replace(hour=7, minute=30) + timedelta(days=1)
        )
        built.append(
            Study(
                uid=f"1.2.826.0.1.{seed}.{n}",
                site_id=sites[int(rng.integers(len(sites)))],
                priority=priority,
                skills=frozenset({skill}) if skill != "msk" or rng.random() < 0.5 else frozenset(),
                reading_minutes=round(minutes * float(rng.lognormal(0, 0.3)), 1),
                arrived_at=arrived,
                deadline=deadline,
            )
        )
    return built


def _cover(readers: list[ReaderCapacity], built: list[Study]) -> list[ReaderCapacity]:
    # Every study must be readable by someone: reader 0 covers every site; give it
    # every skill a study needs if nobody else has it.
    needed = {sk for st in built for sk in st.skills}
    have = {sk for r in readers for sk in r.radiologist.skills}
    if needed - have:
        first = readers[0]
        readers[0] = ReaderCapacity(
            radiologist=Radiologist(
                id=first.radiologist.id,
                name=first.radiologist.name,
                skills=first.radiologist.skills | (needed - have),
                sites=first.radiologist.sites,
                speed=first.radiologist.speed,
            ),
            free_at=first.free_at,
            shift_end=first.shift_end,
            read_minutes=first.read_minutes,
        )
    return readers
