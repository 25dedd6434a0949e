"""`garde demo`: a whole synthetic night through the real pipeline, in simulated time.

Studies shaped by NIGHTS.md are written as DICOM, pushed over the network to a real
gateway on loopback, stored durably, swept when stable, triaged, routed and previewed;
simulated radiologists read them through the same services a real one uses. The clock
is injected and moves a minute per step (the jobs `serve` schedules run at every step),
so 14.5 hours of night take under a minute on two cores, most of it the pushes: the
gateway writes and fsyncs every instance before it answers. To keep it so, the
synthetic studies are small (`garde.runtime.night`) and are written ahead by a helper
process, previews render on `serve`'s worker threads, and a reader looks at the
worklist only when the board queues something for them.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from garde.bootstrap import build_runtime
from garde.dispatch.model import Priority, Shift, StudyState
from garde.reporting.delivery import ReportDelivery
from garde.reports.sla_chart import render_sla_curves
from garde.runtime.night import DemoArrival, NightFiles, night_arrivals
from garde.scheduling.jobs import dispatch_stable_studies, hand_over_shifts, watch_sla
from garde.services.clock import FrozenClock
from garde.services.reading import ReadingService
from garde.services.reporting import ReportDraft
from garde.store.migrate import upgrade
from garde.store.repositories.reports import ReportRepository

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.bootstrap import Runtime
    from garde.config.model import Settings
    from garde.store.records import WorklistRow

logger = logging.getLogger(__name__)

STEP = timedelta(minutes=1)
NIGHT_START_LOCAL = (18, 0)
NIGHT_LENGTH = timedelta(hours=14, minutes=30)
EVENING = timedelta(hours=6)  # the evening readers' shift ends then, and the peak is sought
# A sending PACS forwards a study over a few associations at once (as Orthanc's peers and
# most forwarders do); the gateway then writes and fsyncs instances side by side.
ASSOCIATIONS_PER_STUDY = 3
DEMO_REPORT = ReportDraft(
    "Examen de démonstration lu par un radiologue simulé.\nPas d'anomalie aiguë décelée.",
    "Pas d'anomalie aiguë.",
)


@dataclass(frozen=True, slots=True)
class PriorityFigures:
    """The night's figures for one priority."""

    studies: int
    read: int
    within_sla_pct: float
    mean_min: float
    p90_min: float
    # Arrival -> report delivered to the hospital's stand-in PACS (issue 14).
    delivered: int = 0
    delivered_mean_min: float | None = None


@dataclass(frozen=True, slots=True)
class WorklistPeak:
    """Every on-shift radiologist's worklist at the evening's busiest minute."""

    at: datetime
    open_studies: int  # queued or being read, over every radiologist
    worklists: dict[str, list[WorklistRow]]  # radiologist -> rows, most urgent first


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo night produced."""

    night_start: datetime
    studies: int
    instances: int
    by_priority: dict[Priority, PriorityFigures]
    reads_by_radiologist: dict[str, int]
    fallback: int
    unassigned: int
    # Still unread when the night shift ends: the morning team's first studies.
    handed_to_day_team: int
    previews: int
    data_dir: Path
    chart: Path | None = None
    example_study: str | None = None
    sample_study: str | None = None  # a study's handle (the next commands' example)
    peak: WorklistPeak | None = None
    failed_instances: int = 0  # refused by the gateway or not sent (none expected)


@dataclass
class _Reader:
    radiologist_id: str
    speed: float
    current: str | None = None
    until: datetime | None = None
    reads: int = 0
    current_is_stroke: bool = False
    # Reads put aside for a stroke alert, with the time they still need (last in, first out).
    paused: list[tuple[str, timedelta]] = field(default_factory=list)


@dataclass
class _Night:
    runtime: Runtime
    clock: FrozenClock
    reading: ReadingService
    arrivals: list[DemoArrival]
    true_minutes: dict[str, float] = field(default_factory=dict)
    read_at: dict[str, datetime] = field(default_factory=dict)
    delivery: ReportDelivery | None = None  # reports to the stand-in PACS, on the demo clock
    instances: int = 0
    failed: int = 0
    peak: WorklistPeak | None = None


DEMO_ZONE = ZoneInfo("Europe/Paris")
"""The demo region's time, in which its night starts and is told."""


def demo_night_start(today: datetime) -> datetime:
    """18:00 Paris time on the day of ``today`` (UTC)."""
    local = today.astimezone(DEMO_ZONE).replace(
        hour=NIGHT_START_LOCAL[0], minute=NIGHT_START_LOCAL[1], second=0, microsecond=0
    )
    return local.astimezone(UTC)


def demo_roster(settings: Settings, start: datetime) -> list[Shift]:
    """Tonight's on-call: four readers all night, two for the evening peak, the fallback."""
    end = start + NIGHT_LENGTH
    evening_end = start + timedelta(hours=6)
    plan: dict[str, tuple[datetime, datetime]] = {}
    for index, rad in enumerate(settings.radiologists):
        if rad.fallback or index < 4:
            plan[rad.id] = (start, end)
        elif index < 6:
            plan[rad.id] = (start + timedelta(hours=2), evening_end)
    return [Shift(rid, a, b) for rid, (a, b) in plan.items()]


def demo_arrivals(
    settings: Settings, start: datetime, seed: int, hours: float | None = None
) -> list[DemoArrival]:
    """The night's arrivals, or only those of its first ``hours``."""
    arrivals = night_arrivals(settings, start, seed)
    if hours is None:
        return arrivals
    stop = start + timedelta(hours=hours)
    return [a for a in arrivals if a.at < stop]


def demo_settings(settings: Settings, data_dir: Path) -> Settings:
    """``settings`` with everything in ``data_dir`` (what `run_demo` runs the night on)."""
    return replace(
        settings,
        data_dir=data_dir,
        database_url="",
        gateway=replace(settings.gateway, port=0, storage_dir=data_dir / "storage"),
        previews=replace(settings.previews, dir=data_dir / "previews"),
    )


STAND_IN_PACS_AE = "DEMO_PACS"


def with_stand_in_pacs(settings: Settings, port: int) -> Settings:
    """``settings`` where every hospital takes its reports (the SR) back into the demo's
    stand-in PACS on ``port``."""
    from garde.config.reporting import Destination, DestinationKind  # noqa: PLC0415

    destinations = tuple(
        Destination(
            site.id,
            "pacs",
            DestinationKind.DICOM,
            host="127.0.0.1",
            port=port,
            ae_title=STAND_IN_PACS_AE,
            objects=("sr",),
        )
        for site in settings.sites
    )
    return replace(settings, reporting=replace(settings.reporting, destinations=destinations))


class _StandInPacs:
    """The hospitals' PACS in the demo: a storage SCP on loopback that keeps a count."""

    def __init__(self) -> None:
        from pynetdicom import AE, AllStoragePresentationContexts, evt  # noqa: PLC0415

        self.received = 0
        ae = AE(ae_title=STAND_IN_PACS_AE)
        ae.supported_contexts = AllStoragePresentationContexts
        # The delivery's reachability probe is a bare TCP connection: its association
        # thread waits for an A-ASSOCIATE until the ACSE timeout; do not let them pile up.
        ae.maximum_associations = 64
        ae.acse_timeout = 2
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)]
        )
        assert server is not None
        self._server = server
        self.port = int(server.server_address[1])

    def _store(self, _event: object) -> int:
        self.received += 1
        return 0x0000

    def close(self) -> None:
        self._server.shutdown()


def run_demo(
    settings: Settings,
    *,
    data_dir: Path,
    seed: int = 7,
    night_start: datetime,
    hours: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoReport:
    """Run one night (or its first ``hours``) on ``settings`` in a fresh ``data_dir``."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    pacs = _StandInPacs()
    settings = with_stand_in_pacs(demo_settings(settings, data_dir), pacs.port)
    data_dir.mkdir(parents=True)
    upgrade(settings.effective_database_url)
    clock = FrozenClock(night_start)
    runtime = build_runtime(settings, clock=clock)
    try:
        return _run(runtime, clock, seed, hours, progress)
    finally:
        runtime.close()
        pacs.close()


def _run(
    runtime: Runtime,
    clock: FrozenClock,
    seed: int,
    hours: float | None,
    progress: Callable[[int], None] | None,
) -> DemoReport:
    settings = runtime.settings
    start = clock.now()
    end = start + NIGHT_LENGTH
    last_arrival = start + timedelta(hours=hours) if hours is not None else end
    runtime.sync_directory()
    shifts = demo_roster(settings, start)
    with runtime.uow() as uow:
        uow.roster.replace_shifts(start, end, shifts)
        uow.commit()
    runtime.dispatch.restore(start)
    night = _Night(
        runtime,
        clock,
        ReadingService.alongside(runtime.dispatch, reports=runtime.reports),
        sorted(demo_arrivals(settings, start, seed, hours), key=lambda a: a.at),
    )
    night.delivery = ReportDelivery(
        runtime.uow, settings.reporting, calling_ae=settings.gateway.ae_title, clock=clock.now
    )
    readers = {
        r.id: _Reader(r.id, r.speed)
        for r in settings.radiologists
        if any(s.radiologist_id == r.id for s in shifts)
    }
    runtime.previews.start()  # rendering threads, as `serve` has
    gateway = runtime.build_gateway()
    gateway.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="garde-demo-") as tmp,
            NightFiles(night.arrivals, Path(tmp)) as files,
            ThreadPoolExecutor(ASSOCIATIONS_PER_STUDY, thread_name_prefix="demo-push") as pushers,
        ):
            _simulate(
                night,
                readers=readers,
                shifts=shifts,
                sender=_Sender(files, pushers, gateway.port),
                end=last_arrival,
                progress=progress,
            )
    finally:
        gateway.stop()
    runtime.previews.wait_idle()
    return _report(night, readers, start)


@dataclass(frozen=True, slots=True)
class _Sender:
    """How an arrival reaches the gateway: its files, pushed over a few associations."""

    files: NightFiles
    pushers: ThreadPoolExecutor
    port: int


def _simulate(
    night: _Night,
    *,
    readers: dict[str, _Reader],
    shifts: list[Shift],
    sender: _Sender,
    end: datetime,
    progress: Callable[[int], None] | None,
) -> None:
    start = night.clock.now()
    drain_until = end + timedelta(hours=2)  # finish what is in the queues after handover
    sent = 0
    while night.clock.now() < drain_until:
        now = night.clock.now()
        while sent < len(night.arrivals) and night.arrivals[sent].at <= now:
            _push(night, sent, sender)
            sent += 1
            if progress:
                progress(1)
        # The jobs `serve` schedules, run every simulated minute on the injected clock.
        dispatch_stable_studies(night.runtime)
        watch_sla(night.runtime)
        hand_over_shifts(night.runtime)
        _read(night, readers, shifts, now)
        if night.delivery is not None:
            while night.delivery.deliver_due():  # the reports signed this minute go out
                pass
        if now < start + EVENING:
            _watch_peak(night, shifts, now)
        if sent == len(night.arrivals) and _night_over(night, readers, shifts, now):
            break
        night.clock.advance(STEP)


def _push(night: _Night, index: int, sender: _Sender) -> None:
    """Push arrival ``index`` from its hospital's AE title, over parallel associations."""
    from garde.dicom_gateway.scu import push  # noqa: PLC0415 - pynetdicom only when needed

    settings = night.runtime.settings
    arrival = night.arrivals[index]
    ae = min(next(s for s in settings.sites if s.id == arrival.site_id).ae_titles)
    uid, files = sender.files.study(index)
    parts = [files[n::ASSOCIATIONS_PER_STUDY] for n in range(ASSOCIATIONS_PER_STUDY)]
    reports = sender.pushers.map(
        lambda part: push(
            part,
            host="127.0.0.1",
            port=sender.port,
            calling_ae=ae,
            called_ae=settings.gateway.ae_title,
        ),
        [part for part in parts if part],
    )
    for report in reports:
        night.instances += report.stored
        night.failed += report.failed
    night.true_minutes[uid] = arrival.true_minutes


def _night_over(
    night: _Night, readers: dict[str, _Reader], shifts: list[Shift], now: datetime
) -> bool:
    """Nothing more can happen: every reader is idle and either every study is read or
    nobody is on shift any more (what is left goes to the day team)."""
    if any(r.current is not None or r.paused for r in readers.values()):
        return False
    everything_read = len(night.read_at) == len(night.true_minutes)
    return everything_read or not any(s.covers(now) for s in shifts)


def _watch_peak(night: _Night, shifts: list[Shift], now: datetime) -> None:
    """Keep the worklists at the busiest minute so far (most studies queued or being read):
    those of the radiologists on shift, and of anyone still holding a study."""
    board = night.runtime.dispatch.board
    load = len(board)
    if night.peak is not None and load <= night.peak.open_studies:
        return
    night.runtime.previews.wait_idle()  # what the radiologists see, previews included
    holders = {board.owner(study.uid) for study in board.studies()}
    on_shift = {s.radiologist_id for s in shifts if s.covers(now)}
    shown = [r.id for r in night.runtime.settings.radiologists if r.id in holders | on_shift]
    night.peak = WorklistPeak(
        at=now,
        open_studies=load,
        worklists={
            rid: night.runtime.worklist.worklist(rid, now=now, origin="demo") for rid in shown
        },
    )


def _read(night: _Night, readers: dict[str, _Reader], shifts: list[Shift], now: datetime) -> None:
    """Each reader on shift reads the top of their worklist; a stroke alert interrupts a
    non-stroke read (it stays in progress and resumes after), as it does at a workstation.

    A reader looks at the worklist only when the board (which the jobs have just
    reconciled with the store) queues something for them: a worklist that shows
    nothing new needs no look, and looking costs a query and an audit row.
    """
    board = night.runtime.dispatch.board
    for reader in readers.values():
        if reader.current is not None and reader.until is not None and reader.until <= now:
            night.reading.finish(
                reader.current,
                reader.radiologist_id,
                now,
                origin="demo",
                report=DEMO_REPORT,
            )
            night.read_at[reader.current] = now
            reader.current, reader.until, reader.current_is_stroke = None, None, False
            reader.reads += 1
        on_shift = any(s.radiologist_id == reader.radiologist_id and s.covers(now) for s in shifts)
        if reader.current_is_stroke or not (on_shift or reader.current or reader.paused):
            continue
        queued = board.queue(reader.radiologist_id) if on_shift else ()
        stroke_queued = any(s.priority is Priority.STROKE for s in queued)
        if reader.current is not None:
            if not stroke_queued or reader.until is None:
                continue
            strokes = _waiting(night, reader, now, Priority.STROKE)
            if strokes:
                reader.paused.append((reader.current, reader.until - now))
                _start(night, reader, strokes[0].study_uid, now, stroke=True)
            continue
        looks = queued and (stroke_queued or not reader.paused)
        waiting = _waiting(night, reader, now) if looks else []
        strokes = [r for r in waiting if r.priority is Priority.STROKE]
        if strokes or (waiting and not reader.paused):
            top = (strokes or waiting)[0]
            _start(night, reader, top.study_uid, now, stroke=top.priority is Priority.STROKE)
        elif reader.paused:
            reader.current, left = reader.paused.pop()
            reader.until = now + left


def _waiting(
    night: _Night, reader: _Reader, now: datetime, priority: Priority | None = None
) -> list[WorklistRow]:
    """The unstarted studies of the reader's worklist (of ``priority`` if given)."""
    rows = night.runtime.worklist.worklist(reader.radiologist_id, now=now, origin="demo")
    return [
        r
        for r in rows
        if r.state == StudyState.ASSIGNED and (priority is None or r.priority is priority)
    ]


def _start(night: _Night, reader: _Reader, uid: str, now: datetime, *, stroke: bool) -> None:
    night.reading.start(uid, reader.radiologist_id, now)
    minutes = night.true_minutes.get(uid, 15.0) / reader.speed
    reader.current, reader.until = uid, now + timedelta(minutes=max(1.0, minutes))
    reader.current_is_stroke = stroke


def _report(night: _Night, readers: dict[str, _Reader], start: datetime) -> DemoReport:
    with night.runtime.uow() as uow:
        records = [r for r in (uow.studies.get(uid) for uid in night.true_minutes) if r]
        delivered = ReportRepository(uow.session).delivery_times(start)
    by_priority: dict[Priority, PriorityFigures] = {}
    curves: dict[str, list[float]] = {}
    delivered_curves: dict[str, list[float]] = {}
    for priority in Priority:
        group = [r for r in records if r.priority is priority]
        if not group:
            continue
        delays = sorted(
            (night.read_at[r.study_uid] - r.first_received_at).total_seconds() / 60
            for r in group
            if r.study_uid in night.read_at
        )
        within = sum(
            1
            for r in group
            if r.study_uid in night.read_at
            and r.deadline
            and night.read_at[r.study_uid] <= r.deadline
        )
        curves[priority.value] = delays
        to_hospital = [
            (at - arrived).total_seconds() / 60
            for p, arrived, at in delivered
            if p == priority.value
        ]
        delivered_curves[priority.value] = to_hospital
        by_priority[priority] = PriorityFigures(
            studies=len(group),
            read=len(delays),
            within_sla_pct=100.0 * within / len(group),
            mean_min=statistics.fmean(delays) if delays else 0.0,
            p90_min=delays[int(0.9 * (len(delays) - 1))] if delays else 0.0,
            delivered=len(to_hospital),
            delivered_mean_min=statistics.fmean(to_hospital) if to_hospital else None,
        )
    previews = sum(1 for _ in night.runtime.settings.previews.dir.rglob("*.*"))
    targets = {
        p.value: t.total_seconds() / 60 for p, t in night.runtime.settings.sla.targets.items()
    }
    chart = render_sla_curves(
        curves,
        targets,
        night.runtime.settings.data_dir / "sla-curves.png",
        delivered_min=delivered_curves,
    )
    stroke = next((r.study_uid for r in records if r.priority is Priority.STROKE), None)
    return DemoReport(
        night_start=start,
        studies=len(records),
        instances=night.instances,
        by_priority=by_priority,
        reads_by_radiologist={rid: r.reads for rid, r in readers.items()},
        fallback=sum(1 for r in records if r.fallback),
        unassigned=sum(1 for r in records if r.assignee is None),
        handed_to_day_team=sum(1 for r in records if r.state is not StudyState.DONE),
        previews=previews,
        data_dir=night.runtime.settings.data_dir,
        chart=chart,
        example_study=stroke,
        sample_study=next(
            (r.name for r in sorted(records, key=lambda r: r.priority is not Priority.STROKE)),
            None,
        ),
        peak=night.peak,
        failed_instances=night.failed,
    )
