"""A small region on the memory store, with the real dispatch and reading services.

Two hospitals, three readers on shift, one neuro: enough for each rule of the services
to show. Units of work are `garde.store.memory`'s, so a whole scenario runs in
milliseconds (no database, no socket).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from garde.dispatch.board import Board
from garde.dispatch.model import (
    InstanceReceived,
    Priority,
    Radiologist,
    ReadingTimes,
    Shift,
    Site,
    SlaPolicy,
    TriageRule,
)
from garde.dispatch.triage import DEFAULT_RULES, Triager
from garde.services.dispatcher import DispatchService
from garde.services.reading import ReadingService
from garde.store.memory import MemoryStore

T0 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
STABLE_AGE_S = 60.0
SITES = (
    Site(id="h01", name="CH Un", ae_titles=frozenset({"H01_CT"})),
    Site(id="h02", name="CH Deux", ae_titles=frozenset({"H02_CT"})),
    Site(id="h09", name="CH Neuf", ae_titles=frozenset({"H09_CT"})),
)
READERS = (
    Radiologist("r01", "Dr Neuro", frozenset({"neuro", "body"}), frozenset({"h01", "h02"})),
    Radiologist("r02", "Dr Body", frozenset({"body", "chest"}), frozenset({"h01", "h02"})),
    Radiologist("r03", "Dr Chest", frozenset({"body", "chest"}), frozenset({"h02"})),
    # The fallback pool, the only one credentialed for h09, reads no MR.
    Radiologist("r09", "Dr Pool", frozenset(), frozenset({"h01", "h09"}), fallback=True),
)
MSK_MR = TriageRule("msk-mr", Priority.ROUTINE, frozenset({"msk"}), modalities=frozenset({"MR"}))
"""Routine work nobody on shift has the skill for (the fallback pool reads it)."""
NIGHT = (T0 - timedelta(hours=2), T0 + timedelta(hours=10))
SHIFTS = tuple(Shift(r.id, *NIGHT) for r in READERS)


class Recorder:
    """A `Notifier` that keeps what it was told."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def kinds(self) -> list[str]:
        """The kinds sent, in order."""
        return [kind for kind, _ in self.sent]

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        self.sent.append((kind, payload))


@dataclass
class Region:
    """The store, the services over it and what they notified."""

    store: MemoryStore
    dispatch: DispatchService
    reading: ReadingService
    notifier: Recorder
    counter: dict[str, int] = field(default_factory=dict)

    def receive(
        self,
        description: str,
        *,
        site: str = "h01",
        at: datetime = T0,
        images: int = 3,
        declared: int | None = None,
        modality: str = "CT",
        **facts: Any,
    ) -> str:
        """A study of one series of ``images`` instances, one a second from ``at``."""
        n = self.counter[site] = self.counter.get(site, 0) + 1
        uid = f"1.2.826.0.1.{1 + SITES.index(next(s for s in SITES if s.id == site))}.{n}"
        for i in range(images):
            self.store.index.record(
                InstanceReceived(
                    sop_instance_uid=f"{uid}.1.{i}",
                    sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                    series_uid=f"{uid}.1",
                    study_uid=uid,
                    transfer_syntax="1.2.840.10008.1.2.1",
                    site_id=site,
                    calling_ae=f"{site.upper()}_CT",
                    path=f"{uid}/{i}.dcm",
                    size_bytes=1024,
                    received_at=at + timedelta(seconds=i),
                    modality=modality,
                    series_number=1,
                    instance_number=i + 1,
                    study_description=description,
                    declared_images=declared,
                    **facts,
                )
            )
        return uid

    def study(self, uid: str) -> Any:
        """The committed record of a study."""
        with self.store.uow_factory() as uow:
            return uow.studies.get(uid)

    def actions(self, uid: str) -> list[tuple[str, Any]]:
        """The study's audit trail: (action, outcome) pairs."""
        with self.store.uow_factory() as uow:
            return [(e.action, e.detail.get("outcome")) for e in uow.audit.for_study(uid)]


def region(
    *,
    uncovered_routine_delay: timedelta = timedelta(minutes=30),
    shifts: tuple[Shift, ...] = SHIFTS,
) -> Region:
    """The region, its board restored at ``T0``."""
    store = MemoryStore(SITES, READERS, shifts)
    notifier = Recorder()
    board = Board()
    policy = SlaPolicy()
    dispatch = DispatchService(
        uow_factory=store.uow_factory,
        triager=Triager((*DEFAULT_RULES, MSK_MR), ReadingTimes()),
        policy=policy,
        sites={s.id: s for s in SITES},
        board=board,
        notifier=notifier,
        default_stable_age_s=STABLE_AGE_S,
        stroke_stable_age_s=3.0,
        uncovered_routine_delay=uncovered_routine_delay,
    )
    dispatch.restore(T0)
    reading = ReadingService.alongside(dispatch)
    return Region(store, dispatch, reading, notifier)
