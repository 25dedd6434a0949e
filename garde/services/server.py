"""`garde serve`: one process running the gateway, the scheduler and the preview workers.

Signals: SIGTERM / SIGINT stop gracefully (no new associations, those in flight finish,
the scheduler's running jobs finish, queued notifications are flushed, exit 0); SIGHUP
reloads the configuration and roster (`garde.services.reload`). The process id is
written to ``data_dir/garde.pid`` so that `garde reload` can find it.

Restart after a crash (`kill -9`) is the ordinary start: every study's state is in the
store, the board is restored from it, studies still receiving are swept when stable,
and the escalation tiers already reached are stored with each study.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from garde.config import ConfigError
from garde.scheduling.scheduler import build_scheduler
from garde.services.reload import reload_runtime
from garde.services.rostering import import_roster_file

if TYPE_CHECKING:
    from pathlib import Path

    from apscheduler.schedulers.background import BackgroundScheduler

    from garde.bootstrap import Runtime
    from garde.dicom_gateway.scp import Gateway
    from garde.dicom_gateway.workers import GatewayWorkers

logger = logging.getLogger(__name__)

PID_FILE = "garde.pid"
POLL_S = 0.5  # how often the main loop looks at ``stop`` when no signal wakes it


class AlreadyRunningError(RuntimeError):
    """Another `garde serve` holds this data directory."""


class NotRunningError(RuntimeError):
    """No `garde serve` is running on this data directory."""


def pid_file(data_dir: Path) -> Path:
    """Where `garde serve` writes its process id."""
    return data_dir / PID_FILE


def running_pid(data_dir: Path) -> int | None:
    """The pid of the `garde serve` running on ``data_dir``, None if none (stale file)."""
    try:
        pid = int(pid_file(data_dir).read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, someone else's
    return pid


def request_reload(data_dir: Path) -> int:
    """Ask the running `garde serve` to reload (SIGHUP); returns its pid.

    Raises
    ------
    NotRunningError
        If no server runs on ``data_dir``.
    """
    pid = running_pid(data_dir)
    if pid is None:
        raise NotRunningError(f"no garde serve is running on {data_dir} ({pid_file(data_dir)})")
    os.kill(pid, signal.SIGHUP)
    return pid


def serve(runtime: Runtime, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then stop gracefully.

    Start-up order matters: the store knows the directory and roster, the board is
    restored from it, and only then does the gateway accept studies.

    Raises
    ------
    AlreadyRunningError
        If another live `garde serve` wrote the pid file of this data directory.
    """
    stop = stop or threading.Event()
    settings = runtime.settings
    other = running_pid(settings.data_dir)
    if other is not None and other != os.getpid():
        raise AlreadyRunningError(
            f"garde serve is already running on {settings.data_dir} (pid {other})"
        )
    runtime.sync_directory()
    if settings.roster_file is not None:
        import_roster_file(runtime, settings.roster_file)
    runtime.dispatch.restore(runtime.clock.now())
    runtime.previews.start()
    runtime.previews.catch_up()
    gateway = runtime.build_gateway()
    web = runtime.build_web() if settings.web.enabled else None
    scheduler = build_scheduler(runtime)
    wake = threading.Event()
    reload_requested = threading.Event()
    _handle_signals(stop, wake, reload_requested)
    gateway.start()
    if web is not None:
        web.start()
    scheduler.start()
    runtime.notifier.start_delivery()  # what earlier runs or CLI commands left, then new ones
    reports = runtime.build_report_delivery()
    reports.start()  # reports signed before a crash or by CLI commands go out now
    pid_path = pid_file(settings.data_dir)
    pid_path.write_text(f"{os.getpid()}\n", encoding="ascii")
    logger.info(
        "garde serving: AE %s on %s:%d, %d sites, %d radiologists, pid %d",
        settings.gateway.ae_title,
        settings.gateway.host,
        gateway.port,
        len(settings.sites),
        len(settings.radiologists),
        os.getpid(),
    )
    try:
        while not stop.is_set():
            wake.wait(POLL_S)
            wake.clear()
            if reload_requested.is_set() and not stop.is_set():
                reload_requested.clear()
                _reload(runtime, gateway, scheduler)
    finally:
        logger.info("stopping: no new associations, finishing those in flight")
        gateway.stop()
        if web is not None:
            web.stop()
        scheduler.shutdown(wait=True)
        reports.close()
        runtime.previews.stop()
        runtime.notifier.close()
        pid_path.unlink(missing_ok=True)
        logger.info("stopped")


def _handle_signals(
    stop: threading.Event, wake: threading.Event, reload_requested: threading.Event
) -> None:
    """SIGTERM/SIGINT set ``stop``, SIGHUP asks for a reload (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _on_stop(*_: object) -> None:
        stop.set()
        wake.set()

    def _on_hup(*_: object) -> None:
        reload_requested.set()
        wake.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_stop)
    signal.signal(signal.SIGHUP, _on_hup)


def _reload(
    runtime: Runtime, gateway: Gateway | GatewayWorkers, scheduler: BackgroundScheduler
) -> None:
    """Reload on SIGHUP; a bad file or a failure keeps the running configuration."""
    try:
        reload_runtime(runtime, gateway=gateway, scheduler=scheduler)
    except ConfigError as exc:
        logger.error("reload refused, the running configuration stays: %s", exc)  # noqa: TRY400
    except Exception:  # a boundary: the server keeps serving
        logger.exception("reload failed; the running configuration stays")
