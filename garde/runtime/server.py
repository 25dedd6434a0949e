"""`garde serve`: one process running the gateway, the scheduler and the preview workers.

Signals: SIGTERM / SIGINT stop gracefully (no new associations, those in flight finish,
the scheduler's running jobs finish, queued notifications are flushed, exit 0); SIGHUP
reloads the configuration and roster (`garde.runtime.reload`). The process id is
written to ``data_dir/garde.pid`` so that `garde reload` can find it, and the file is
locked (flock) for as long as the process lives: a second `garde serve` on the same data
directory is refused, while a file left by a killed one never is (its lock went with it,
whatever process now has its pid). Every few seconds
the node looks at the store's generations (`garde.services.store_watch`): a roster edited
by any process, or a `garde reload` run on any machine, reaches every node without a signal.

Restart after a crash (`kill -9`) is the ordinary start: every study's state is in the
store, the board is restored from it, studies still receiving are swept when stable,
and the escalation tiers already reached are stored with each study.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from garde.config import ConfigError
from garde.runtime.reload import apply_roster, reload_runtime
from garde.scheduling.scheduler import build_scheduler
from garde.services.rostering import import_roster_file
from garde.services.store_watch import StoreWatch
from garde.store.enums import GenerationKind

if TYPE_CHECKING:
    from pathlib import Path

    from apscheduler.schedulers.background import BackgroundScheduler

    from garde.bootstrap import Runtime
    from garde.dicom_gateway.scp import Gateway
    from garde.dicom_gateway.workers import GatewayWorkers
    from garde.services.priors import PriorsService

logger = logging.getLogger(__name__)

PID_FILE = "garde.pid"
POLL_S = 0.5  # how often the main loop looks at ``stop`` when no signal wakes it


class AlreadyRunningError(RuntimeError):
    """Another `garde serve` holds this data directory."""


def pid_file(data_dir: Path) -> Path:
    """Where `garde serve` writes its process id."""
    return data_dir / PID_FILE


def running_pid(data_dir: Path) -> int | None:
    """The pid of the `garde serve` running on ``data_dir``, None if none (stale file)."""
    try:
        fd = os.open(pid_file(data_dir), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a `garde serve` lives
            return _pid_in(fd)
        return None  # nobody holds it: left by a process that died
    finally:
        os.close(fd)


def hold_data_dir(data_dir: Path) -> int:
    """Lock ``data_dir``'s pid file for this process and write its pid there; the open
    descriptor holding the lock (`let_go_data_dir` closes it).

    Raises
    ------
    AlreadyRunningError
        If another live `garde serve` holds it.
    """
    path = pid_file(data_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = _pid_in(fd)
        os.close(fd)
        raise AlreadyRunningError(
            f"garde serve is already running on {data_dir}"
            + (f" (pid {other})" if other is not None else "")
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def let_go_data_dir(data_dir: Path, fd: int) -> None:
    """Remove the pid file, then release its lock."""
    with contextlib.suppress(FileNotFoundError):
        pid_file(data_dir).unlink()
    os.close(fd)


def _pid_in(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except ValueError:  # being written
        return None


def request_reload(runtime: Runtime) -> int | None:
    """Ask every `garde serve` on this store to reload: bump the store's config generation
    (each node sees it within ``store_watch_s``) and signal the one running on this data
    directory at once (SIGHUP). Returns that one's pid, None if none runs here."""
    with runtime.uow() as uow:
        uow.generations.bump(GenerationKind.CONFIG, runtime.clock.now())
        uow.commit()
    pid = running_pid(runtime.settings.data_dir)
    if pid is not None:
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
    held = hold_data_dir(runtime.settings.data_dir)
    try:
        _serve(runtime, stop)
    finally:
        let_go_data_dir(runtime.settings.data_dir, held)


# What serve's threads import on first use (CLI commands skip these stacks). Imported here,
# before any thread starts: two threads importing pydicom's circular modules at once can
# fail with importlib's _DeadlockError. Seen: the preview catch-up of a restart rendering
# while `build_gateway` imported pynetdicom, and serve died at start.
THREADS_IMPORT = (
    "pydicom",
    "pydicom.pixels",
    "pynetdicom",
    "garde.viewer_export.study",
    "garde.viewer_export.thumbnail",
    "garde.reporting.delivery",
    "garde.reporting.document",
    "garde.reporting.oru",
    "garde.reporting.priors",
)


def _serve(runtime: Runtime, stop: threading.Event) -> None:
    for module in THREADS_IMPORT:
        importlib.import_module(module)
    settings = runtime.settings
    runtime.sync_directory()
    if settings.roster_file is not None:
        import_roster_file(runtime, settings.roster_file)
    watch = StoreWatch(runtime.uow, settings.scheduler.store_watch_s, settings_file=settings.source)
    watch.prime()  # what this start read is seen; later changes are applied as they come
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
    runtime.leadership.start()  # renew the job lease, or stand by and ask every second
    scheduler.start()
    runtime.notifier.start_delivery()  # what earlier runs or CLI commands left, then new ones
    reports = runtime.build_report_delivery()
    reports.start()  # reports signed before a crash or by CLI commands go out now
    priors = _start_priors(runtime)
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
        _run_until_stopped(runtime, stop, wake, reload_requested, gateway, scheduler, watch)
    finally:
        logger.info("stopping: no new associations, finishing those in flight")
        gateway.stop()
        if web is not None:
            web.stop()
        scheduler.shutdown(wait=True)
        runtime.leadership.release()  # a standby takes the jobs over at once
        reports.close()
        if priors is not None:
            priors.close()
        runtime.previews.stop()
        runtime.notifier.close()
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


def _run_until_stopped(  # noqa: PLR0917 - private; the serve loop's parts
    runtime: Runtime,
    stop: threading.Event,
    wake: threading.Event,
    reload_requested: threading.Event,
    gateway: Gateway | GatewayWorkers,
    scheduler: BackgroundScheduler,
    watch: StoreWatch,
) -> None:
    """The main loop: reload on SIGHUP, apply what the store's generations say moved."""
    while not stop.is_set():
        wake.wait(POLL_S)
        wake.clear()
        if stop.is_set():
            break
        if reload_requested.is_set():
            reload_requested.clear()
            watch.prime()  # `garde reload` bumped the generation too: reload once
            _reload(runtime, gateway, scheduler, watch)
            continue
        changed = watch.poll()
        if GenerationKind.CONFIG in changed:
            _reload(runtime, gateway, scheduler, watch)
        elif GenerationKind.ROSTER in changed:
            _apply_roster(runtime)


def _reload(
    runtime: Runtime,
    gateway: Gateway | GatewayWorkers,
    scheduler: BackgroundScheduler,
    watch: StoreWatch,
) -> None:
    """Reload (SIGHUP, or the store's config generation moved); a bad file or a failure
    keeps the running configuration."""
    try:
        reload_runtime(runtime, gateway=gateway, scheduler=scheduler)
    except ConfigError as exc:
        logger.error("reload refused, the running configuration stays: %s", exc)  # noqa: TRY400
    except Exception:  # a boundary: the server keeps serving
        logger.exception("reload failed; the running configuration stays")
    watch.period_s = runtime.settings.scheduler.store_watch_s


def _apply_roster(runtime: Runtime) -> None:
    """A roster changed in the store: apply it; a failure is retried at the next change
    (and the handover job refreshes the roster on its own period anyway)."""
    try:
        apply_roster(runtime)
    except Exception:  # a boundary: the server keeps serving
        logger.exception("applying the changed roster failed; the handover job retries")


def _start_priors(runtime: Runtime) -> PriorsService | None:
    """The priors thread and receiver, when a hospital has a query/retrieve peer."""
    settings = runtime.settings
    if not settings.reporting.priors:
        return None
    from garde.reporting.priors import PriorsReceiver  # noqa: PLC0415
    from garde.services.priors import PriorsService  # noqa: PLC0415

    receiver = PriorsReceiver(
        settings.gateway.storage_dir,
        settings.reporting.priors_ae_title,
        settings.gateway.host,
        settings.reporting.priors_port,
    )
    service = PriorsService(runtime.uow, settings.reporting, settings.gateway.storage_dir, receiver)
    service.start()
    return service
