"""`garde serve`: one process running the gateway, the scheduler and the preview workers."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from garde.scheduling.scheduler import build_scheduler
from garde.services.rostering import import_roster_file

if TYPE_CHECKING:
    from garde.bootstrap import Runtime

logger = logging.getLogger(__name__)


def serve(runtime: Runtime, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then stop gracefully.

    Start-up order matters: the store knows the directory and roster, the board is
    restored from it, and only then does the gateway accept studies.
    """
    stop = stop or threading.Event()
    settings = runtime.settings
    runtime.sync_directory()
    if settings.roster_file is not None:
        import_roster_file(runtime, settings.roster_file)
    runtime.dispatch.restore(runtime.clock.now())
    runtime.previews.start()
    gateway = runtime.build_gateway()
    scheduler = build_scheduler(runtime)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    gateway.start()
    scheduler.start()
    logger.info(
        "garde serving: AE %s on %s:%d, %d sites, %d radiologists",
        settings.gateway.ae_title,
        settings.gateway.host,
        gateway.port,
        len(settings.sites),
        len(settings.radiologists),
    )
    try:
        stop.wait()
    finally:
        logger.info("stopping: no new associations, finishing those in flight")
        gateway.stop()
        scheduler.shutdown(wait=True)
        runtime.previews.stop()
        logger.info("stopped")
