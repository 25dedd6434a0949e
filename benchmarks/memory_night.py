"""A night through the real services on the memory store, against the same night on SQLite.

The simulator runs hundreds of nights through `DispatchService` and `ReadingService`
(issue 16 item 2), so what one night costs on `garde.store.memory` decides whether that
is seconds or hours. The same seeded night (Poisson arrivals over 14 h, the NIGHTS.md
case mix, four readers) runs on the memory store and on a SQLite file, measured in the
same run: intake of every instance, a sweep every simulated minute, each free reader
pulling ``next`` and finishing after their reading time.

    .venv/bin/python -m benchmarks.memory_night                 # 160 studies, 5 memory nights
    .venv/bin/python -m benchmarks.memory_night --studies 40 --nights 3 --sqlite-nights 1
    .venv/bin/python -m benchmarks.memory_night --smoke

Output (JSON): ``memory.night_seconds`` (median over nights), ``sqlite.night_seconds``
(wall time; ``night_cpu_seconds`` beside each: the process's CPU time, which a loaded
machine does not inflate),
``speedup`` (SQLite over memory), ``studies``, ``instances``, ``done`` (studies read by
the end) and ``sqlite.same_night`` (every study's row, assignments and audit trail equal
on both stores).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garde.dispatch.board import Board
from garde.dispatch.model import (
    InstanceReceived,
    Radiologist,
    ReadingTimes,
    Shift,
    Site,
    SlaPolicy,
    StudyState,
)
from garde.dispatch.triage import DEFAULT_RULES, Triager
from garde.services.dispatcher import DispatchService
from garde.services.reading import ReadingService
from garde.services.refusals import ReadingRefusedError
from garde.store.memory import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dispatch.ports import InstanceIndex
    from garde.store.ports import UnitOfWork

START = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
NIGHT = timedelta(hours=14)
SITES = tuple(Site(f"h{n:02d}", f"CH {n}", frozenset({f"H{n:02d}_CT"})) for n in range(1, 7))
ALL_SITES = frozenset(s.id for s in SITES)
READERS = (
    Radiologist("r01", "Neuro", frozenset({"neuro", "body"}), ALL_SITES),
    Radiologist("r02", "Body", frozenset({"body", "chest"}), ALL_SITES),
    Radiologist("r03", "Mixed", frozenset({"neuro", "body", "chest"}), ALL_SITES),
    Radiologist("r04", "Chest", frozenset({"chest", "body"}), ALL_SITES),
)
SHIFTS = tuple(Shift(r.id, START, START + NIGHT + timedelta(hours=2)) for r in READERS)
# NIGHTS.md: head CT ~50 %, abdominal ~27 %, CT angiography ~17 %, thoracic ~4 %.
CASES = (
    (0.10, "alerte thrombolyse", 6),
    (0.40, "scanner cerebral", 16),
    (0.27, "scanner abdominal", 18),
    (0.17, "angioscanner thoracique embolie", 12),
    (0.06, "scanner thoracique", 16),
)
INSTANCES = 4  # per study: intake is per instance, so it is in the figure


def night_events(
    studies: int, seed: int, night: timedelta = NIGHT
) -> list[tuple[datetime, str, str, float]]:
    """(arrival, site, description, reading minutes) of each study, by arrival."""
    rng = random.Random(seed)
    arrivals = sorted(START + night * rng.random() for _ in range(studies))
    weights = [w for w, _, _ in CASES]
    events = []
    for at in arrivals:
        _, description, minutes = rng.choices(CASES, weights)[0]
        site = rng.choice(SITES).id
        events.append((at, site, description, minutes * rng.lognormvariate(0, 0.3)))
    return events


def run_night(
    uow_factory: Callable[[], UnitOfWork],
    index: InstanceIndex,
    studies: int,
    seed: int,
    night: timedelta = NIGHT,
) -> dict[str, Any]:
    """One night through the services (arrivals over ``night``, then two hours to read
    the rest): the wall time, how many were read and what happened to each study."""
    board = Board()
    policy = SlaPolicy()
    dispatch = DispatchService(
        uow_factory=uow_factory,
        triager=Triager(DEFAULT_RULES, ReadingTimes()),
        policy=policy,
        sites={s.id: s for s in SITES},
        board=board,
        notifier=_Silent(),
        default_stable_age_s=60,
        stroke_stable_age_s=3,
    )
    reading = ReadingService(uow_factory, board, policy, lock=dispatch.lock)
    events = night_events(studies, seed, night)
    minutes = {}
    began, began_cpu = time.perf_counter(), time.process_time()
    dispatch.restore(START)
    now, pending = START, list(enumerate(events))
    reading_until: dict[str, tuple[str, datetime]] = {}
    while now <= START + night + timedelta(hours=2):
        while pending and pending[0][1][0] <= now:
            n, (at, site, description, read_min) = pending.pop(0)
            uid = f"1.2.826.0.9.{seed}.{n}"
            minutes[uid] = read_min
            for i in range(INSTANCES):
                index.record(_instance(uid, site, description, at + timedelta(seconds=i), i))
        dispatch.sweep(now)
        for reader in READERS:
            held = reading_until.get(reader.id)
            if held is not None:
                if held[1] <= now:
                    reading.finish(held[0], reader.id, now)
                    del reading_until[reader.id]
                continue
            try:
                record = reading.next(reader.id, now)
            except ReadingRefusedError:
                continue
            done_at = now + timedelta(minutes=minutes[record.study_uid] / reader.speed)
            reading_until[reader.id] = (record.study_uid, done_at)
        now += timedelta(minutes=1)
    seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    with uow_factory() as uow:
        done = len(uow.studies.by_state(StudyState.DONE))
        trail = [_trail(uow, uid) for uid in minutes]
    return {"seconds": seconds, "cpu": cpu, "done": done, "trail": trail}


def _trail(uow: UnitOfWork, uid: str) -> tuple[object, ...]:
    """What the night did to one study: its final row, assignments and audit actions (the
    memory store and SQL must agree on all of it)."""
    record = uow.studies.get(uid)
    assert record is not None
    return (
        uid,
        record.state,
        record.priority,
        record.assignee,
        record.assigned_at,
        record.started_at,
        record.done_at,
        record.version,
        tuple((a.radiologist_id, a.at, a.by) for a in uow.studies.assignments(uid)),
        tuple((e.at, e.actor, e.action, e.radiologist_id) for e in uow.audit.for_study(uid)),
    )


def _instance(uid: str, site: str, description: str, at: datetime, i: int) -> InstanceReceived:
    return InstanceReceived(
        sop_instance_uid=f"{uid}.1.{i}",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        series_uid=f"{uid}.1",
        study_uid=uid,
        transfer_syntax="1.2.840.10008.1.2.1",
        site_id=site,
        calling_ae=f"{site.upper()}_CT",
        path=f"{uid}/{i}.dcm",
        size_bytes=1024,
        received_at=at,
        modality="CT",
        series_number=1,
        instance_number=i + 1,
        study_description=description,
        declared_images=INSTANCES,
    )


class _Silent:
    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Notifications are not what is measured."""


def memory_night(studies: int, seed: int, night: timedelta = NIGHT) -> dict[str, Any]:
    """One night on a fresh memory store."""
    store = MemoryStore(SITES, READERS, SHIFTS)
    return run_night(store.uow_factory, store.index, studies, seed, night)


def sqlite_night(studies: int, seed: int, night: timedelta = NIGHT) -> dict[str, Any]:
    """The same night on a fresh, migrated SQLite file."""
    from garde.store.engine import make_engine, make_session_factory  # noqa: PLC0415
    from garde.store.instance_index import SqlInstanceIndex  # noqa: PLC0415
    from garde.store.migrate import upgrade  # noqa: PLC0415
    from garde.store.uow import SqlUnitOfWork  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'garde.sqlite'}"
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with SqlUnitOfWork(factory) as uow:
            uow.directory.sync_sites(SITES)
            uow.directory.sync_radiologists(READERS)
            uow.roster.replace_shifts(START - timedelta(days=1), START + timedelta(days=1), SHIFTS)
            uow.commit()
        try:
            return run_night(
                lambda: SqlUnitOfWork(factory), SqlInstanceIndex(factory), studies, seed, night
            )
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=160)
    parser.add_argument("--nights", type=int, default=5, help="memory nights (median)")
    parser.add_argument("--sqlite-nights", type=int, default=1, help="0: no SQLite baseline")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI)")
    args = parser.parse_args()
    night = NIGHT
    if args.smoke:
        args.studies, args.nights, args.sqlite_nights = 6, 1, 1
        night = timedelta(hours=1)
    memory = [memory_night(args.studies, args.seed, night) for _ in range(args.nights)]
    result: dict[str, Any] = {
        "studies": args.studies,
        "instances": args.studies * INSTANCES,
        "night_hours": night.total_seconds() / 3600,
        "memory": {
            "night_seconds": round(statistics.median(r["seconds"] for r in memory), 4),
            "night_cpu_seconds": round(statistics.median(r["cpu"] for r in memory), 4),
            "nights": args.nights,
            "done": memory[0]["done"],
        },
    }
    trail = memory[0]["trail"]
    if args.sqlite_nights:
        sqlite = [sqlite_night(args.studies, args.seed, night) for _ in range(args.sqlite_nights)]
        median = statistics.median(r["seconds"] for r in sqlite)
        result["sqlite"] = {
            "night_seconds": round(median, 3),
            "night_cpu_seconds": round(statistics.median(r["cpu"] for r in sqlite), 3),
            "nights": args.sqlite_nights,
            "done": sqlite[0]["done"],
            "same_night": sqlite[0]["trail"] == trail,  # every study, row and audit alike
        }
        result["speedup"] = round(median / result["memory"]["night_seconds"], 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
