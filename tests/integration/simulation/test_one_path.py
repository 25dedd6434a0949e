"""One dispatch path (issue 16 item 2): the same night through `serve`'s runtime (built by
`garde.bootstrap.build_runtime` on a SQLite file, driven by the scheduler's jobs) and
through the simulator (its services called directly, on the memory store and on a
SQLite file) gives the same assignments, reads and notifications."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.scheduling import jobs
from garde.services.reading import ReadingService
from garde.simulation.scenario import default_night, generate_arrivals
from garde.simulation.simulator import (
    HumanFactors,
    Night,
    RecordingNotifier,
    ServiceConfig,
    prepare_store,
    simulate,
)
from garde.store.instance_index import SqlInstanceIndex
from garde.store.migrate import upgrade
from tests.integration.scheduling.night import settings_for, start_night

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from garde.bootstrap import Runtime
    from garde.simulation.simulator import NightResult


class ServeJobs:
    """`serve`'s runtime with its scheduler's jobs, run when the night says they are due."""

    def __init__(self, runtime: Runtime, notifier: RecordingNotifier) -> None:
        self.runtime = runtime
        self.dispatch = runtime.dispatch
        self.dispatch.notifier = notifier
        settings = runtime.settings
        self.reading = ReadingService(
            runtime.uow,
            runtime.dispatch.board,
            policy=settings.sla,
            notifier=notifier,
            notify_priorities=runtime.dispatch.notify_priorities,
        )
        self.index = SqlInstanceIndex(runtime.session_factory)
        self.due: list[datetime] = []
        runtime.sweep_at = self.due.append  # the scheduler's hook: when to sweep next

    def set_clock(self, now: datetime) -> None:
        self.runtime.clock.current = now  # type: ignore[attr-defined]

    def sweep(self, now: datetime) -> datetime | None:
        self.due.clear()
        jobs.dispatch_stable_studies(self.runtime)
        return min(self.due, default=None)

    def watch(self, now: datetime) -> None:
        jobs.watch_sla(self.runtime)

    def hand_over(self, now: datetime) -> None:
        jobs.hand_over_shifts(self.runtime)

    def replan(self, now: datetime) -> None:
        jobs.replan(self.runtime)


def _through_serve(settings, scenario, arrivals) -> NightResult:  # type: ignore[no-untyped-def]
    runtime = start_night(settings, list(scenario.shifts), scenario.start)
    try:
        prepare_store(runtime.uow, scenario, replace_roster=False)
        notifier = RecordingNotifier()
        config = ServiceConfig.from_settings(settings)
        night = Night(
            scenario,
            arrivals,
            ServeJobs(runtime, notifier),
            notifier=notifier,
            policy="garde",
            factors=HumanFactors(),
            periods=(config.sla_watch_s, config.handover_s, None),
            repeat=timedelta(minutes=config.unassigned_repeat_min),
        )
        return night.run()
    finally:
        runtime.close()


def test_a_night_through_serve_and_through_the_simulator_is_the_same_night(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'serve.sqlite'}"  # serve's embedded store, a real file
    upgrade(url)
    scenario = default_night()
    # The evening's first three hours: the peak begins, strokes interrupt reads.
    arrivals = [a for a in generate_arrivals(scenario, 2) if a.offset_min < 180]
    assert any(a.priority.value == "stroke" for a in arrivals)
    base = settings_for(url, tmp_path)
    settings = replace(base, sites=scenario.sites, radiologists=scenario.radiologists)

    served = _through_serve(settings, scenario, arrivals)
    config = ServiceConfig.from_settings(settings)

    assert len(served.reads) == len(arrivals)
    for store in ("memory", "sql"):
        simulated = simulate(scenario, arrivals, "garde", config, store=store)
        assert simulated.assignments == served.assignments, store
        assert simulated.reads == served.reads, store
        assert simulated.notifications == served.notifications, store
    assert served.notifications.get("stroke_alert", 0) >= 1  # pre-emption on both paths
