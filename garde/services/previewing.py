"""Preview service: renders a study's previews off the dispatch path and records them.

Rendering never blocks intake or routing: jobs go to a pool, most urgent first.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from garde.viewer_export import render_series_thumbnail

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from garde.config.model import PreviewSettings
    from garde.dispatch.model import Priority
    from garde.store.uow import SqlUnitOfWork

logger = logging.getLogger(__name__)


@dataclass
class PreviewService:
    """Renders one thumbnail per series into ``settings.dir/<study_uid>/``."""

    uow_factory: Callable[[], SqlUnitOfWork]
    settings: PreviewSettings
    storage_dir: Path
    workers: int = 2
    _queue: list[tuple[int, int, str]] = field(default_factory=list, init=False)
    _counter: itertools.count[int] = field(default_factory=itertools.count, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _stopping: bool = field(default=False, init=False)
    _pending: int = field(default=0, init=False)

    def start(self) -> None:
        """Start the worker threads (numpy and Pillow release the GIL while they work)."""
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"preview-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, study_uid: str, priority: Priority) -> None:
        """Queue a study; the most urgent priority is rendered first, then arrival order."""
        with self._cond:
            heapq.heappush(self._queue, (priority.rank, next(self._counter), study_uid))
            self._pending += 1
            self._cond.notify()
        if not self._threads:  # no pool (CLI, tests): render inline
            self._drain_inline()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued study is rendered; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        """Finish queued work and stop the workers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _drain_inline(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    return
                _, _, uid = heapq.heappop(self._queue)
            self._render_and_finish(uid)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping)
                if not self._queue:
                    return
                _, _, uid = heapq.heappop(self._queue)
            self._render_and_finish(uid)

    def _render_and_finish(self, study_uid: str) -> None:
        try:
            self.render(study_uid)
        except Exception:  # a job boundary: log and carry on with the next study
            logger.exception("previews of study %s failed", study_uid)
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def render(self, study_uid: str) -> list[Path]:
        """Render and record a thumbnail per series of ``study_uid``; returns the files."""
        with self.uow_factory() as uow:
            series = uow.studies.series(study_uid)
            paths = {s.series_uid: uow.studies.instance_paths(s.series_uid) for s in series}
        out_dir = self.settings.dir / study_uid  # study_uid was validated by the gateway
        written: list[Path] = []
        suffix = ".webp" if self.settings.format == "webp" else ".jpg"
        for series_uid, relative in paths.items():
            if not relative:
                continue
            files = [self.storage_dir / p for p in relative]
            out = render_series_thumbnail(
                files,
                out_dir / f"{series_uid}{suffix}",
                size_px=self.settings.thumbnail_px,
                quality=self.settings.quality,
            )
            written.append(out)
            with self.uow_factory() as uow:
                uow.studies.set_preview(
                    series_uid, "thumbnail", str(out.relative_to(self.settings.dir))
                )
                uow.commit()
        logger.info("study %s: %d previews rendered", study_uid, len(written))
        return written
