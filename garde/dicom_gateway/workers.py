"""Several gateway processes on one port: intake that scales across cores.

One Python process tops out near 220 instances/s however many hospitals send at once
(the GIL serialises pynetdicom's PDU handling); Orthanc reaches 200-360. So the
gateway runs as N processes, each a full `Gateway` accepting from one listening socket
the parent made and shares with them: a new connection goes to the process with the
fewest open (`garde.dicom_gateway.balance`; SO_REUSEPORT would hash it to any, and four
senders often landed three or four on one process). They all write to the same storage
directory and index into the same store (whose writes are idempotent and race-free
across processes, see `garde.store.instance_index`).

    with GatewayWorkers(settings.gateway, settings.sites, index_factory, secret) as gw:
        ...  # N processes serving on gw.port until the block ends

The parent holds the listening socket (port 0 becomes one real port all workers share;
connections wait in its queue while a worker restarts), forwards the workers' log records
to its own logging, restarts a worker that dies, and stops them all gracefully.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any, Self, cast

from garde.dicom_gateway.balance import ABSENT, ConnectionShare

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnProcess
    from types import TracebackType

    from garde.config.model import GatewaySettings
    from garde.dispatch.model import Site
    from garde.dispatch.ports import InstanceIndex

logger = logging.getLogger(__name__)

# Processes are spawned, never forked: the parent runs threads (scheduler, previews)
# whose locks a fork would copy in whatever state they were.
_CONTEXT = multiprocessing.get_context("spawn")
_START_TIMEOUT_S = 60.0  # a spawned worker imports pydicom, pynetdicom and SQLAlchemy
_RESTART_BACKOFF_S = 5.0  # a worker that keeps dying is restarted at most this often
_POLL_S = 0.5
_BACKLOG = 128  # connections the kernel queues before a worker accepts them


def worker_count(configured: int) -> int:
    """The number of gateway processes: ``configured``, or one per core if it is 0."""
    if configured < 0:
        raise ValueError(f"gateway workers must be >= 0, got {configured}")
    return configured or (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class _Ready:
    slot: int
    pid: int


@dataclass(frozen=True, slots=True)
class _Failed:
    slot: int
    why: str


@dataclass(frozen=True, slots=True)
class _Sites:
    """Parent to worker: the reloaded site registry (who may send, from where)."""

    sites: tuple[Site, ...]


@dataclass(frozen=True, slots=True)
class _WorkerArgs:
    """What a worker process needs (picklable: it crosses the spawn boundary)."""

    slot: int
    settings: GatewaySettings
    sites: tuple[Site, ...]
    index_factory: Callable[[], InstanceIndex]
    patient_key_secret: bytes
    log_level: int
    listener: socket.socket  # the parent's listening socket (inherited at spawn)
    counts: Any  # connections open per worker: a RawArray shared by every process


class GatewayWorkers:
    """``workers`` gateway processes sharing one port (SO_REUSEPORT), supervised.

    Parameters
    ----------
    settings
        As for `garde.dicom_gateway.scp.Gateway`; ``settings.port`` 0 picks one free
        port for all workers.
    sites
        The hospitals allowed to send.
    index_factory
        Builds the store's `InstanceIndex` inside each worker (its own engine). Must be
        picklable: a module-level function or a `functools.partial` of one.
    patient_key_secret
        Key of the HMAC replacing each PatientID by ``patient_key``.
    workers
        How many processes (>= 1).

    Each worker talks to the parent over a pipe of its own (not a shared queue, lock or
    event): a worker killed in the middle of a write then corrupts only its own pipe,
    never the others' nor the parent's.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        sites: Sequence[Site],
        index_factory: Callable[[], InstanceIndex],
        *,
        patient_key_secret: bytes,
        workers: int,
    ) -> None:
        if workers < 1:
            raise ValueError(f"gateway workers must be >= 1, got {workers}")
        self.settings = settings
        self.workers = workers
        self._sites = tuple(sites)
        self._index_factory = index_factory
        self._secret = patient_key_secret
        self._reservation: socket.socket | None = None
        self._port = 0
        # Connections open in each worker (ABSENT: not serving), in shared memory.
        self._counts = _CONTEXT.RawArray("l", [ABSENT] * workers)
        self._procs: dict[int, SpawnProcess] = {}
        self._pipes: dict[int, Connection] = {}
        self._started_at: dict[int, float] = {}
        self._ready: dict[int, int] = {}
        self._failed: dict[int, str] = {}
        self._changed = threading.Condition()
        self._pump_thread: threading.Thread | None = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        """The port every worker listens on."""
        if self._reservation is None:
            raise RuntimeError("the gateway workers are not started")
        return self._port

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._changed:
            procs = list(self._procs.values())
        return [p.pid for p in procs if p.pid is not None and p.is_alive()]

    def update_sites(self, sites: Sequence[Site]) -> None:
        """Apply a reloaded site registry in every worker (and to workers restarted later).

        A hospital removed from the config is refused from the next association on, in
        every process; one added may send at once.
        """
        message = _Sites(tuple(sites))
        with self._changed:
            self._sites = message.sites
            for slot, pipe in self._pipes.items():
                try:
                    pipe.send(message)
                except OSError:  # a dead worker: restarted with the new sites
                    logger.warning("gateway worker %d did not take the new sites", slot)

    def start(self) -> None:
        """Reserve the port, spawn the workers and wait until each one listens.

        Raises
        ------
        RuntimeError
            A worker could not start (port in use, bad TLS files...); the others are
            stopped first.
        """
        if self._reservation is not None:
            raise RuntimeError("the gateway workers are already started")
        self._reservation = _listen(self.settings.host, self.settings.port)
        self._port = int(self._reservation.getsockname()[1])
        self._stopping.clear()
        for slot in range(self.workers):
            self._spawn(slot)
        self._pump_thread = threading.Thread(
            target=self._pump, name="gateway-workers-pipes", daemon=True
        )
        self._pump_thread.start()
        try:
            self._wait_ready(set(range(self.workers)))
        except BaseException:
            self.stop(timeout=1.0)
            raise
        self._supervisor = threading.Thread(
            target=self._supervise, name="gateway-workers-supervisor", daemon=True
        )
        self._supervisor.start()
        logger.info(
            "gateway %s: %d worker processes listening on %s:%d%s",
            self.settings.ae_title,
            self.workers,
            self.settings.host,
            self._port,
            " (TLS)" if self.settings.tls is not None else "",
        )

    def stop(self, timeout: float | None = None) -> None:
        """Stop every worker: each refuses new associations, lets those in flight
        finish (up to ``timeout``, default the network timeout), then exits."""
        if self._reservation is None:
            return
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()  # no restart from here on
        grace = self.settings.network_timeout_s if timeout is None else timeout
        with self._changed:
            procs = list(self._procs.values())
            for pipe in self._pipes.values():
                with contextlib.suppress(OSError):
                    pipe.send(grace)  # "stop, with this grace period"
        _end_all(procs, grace + 5.0)
        if self._pump_thread is not None:
            self._pump_thread.join()  # it drains the pipes: the workers' last log lines
        self._pump_thread = self._supervisor = None
        with self._changed:
            for pipe in self._pipes.values():
                pipe.close()
            for proc in self._procs.values():
                proc.close()
            self._pipes.clear()
            self._procs.clear()
        self._reservation.close()
        self._reservation = None
        logger.info("gateway workers on port %d stopped", self._port)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, slot: int) -> None:
        args = _WorkerArgs(
            slot,
            replace(self.settings, port=self._port),
            self._sites,
            self._index_factory,
            self._secret,
            logging.getLogger("garde").getEffectiveLevel(),
            cast("socket.socket", self._reservation),
            self._counts,
        )
        self._counts[slot] = ABSENT  # until it serves, nobody leaves it a connection
        ours, theirs = _CONTEXT.Pipe(duplex=True)
        proc = _CONTEXT.Process(
            target=run_worker, args=(args, theirs), name=f"garde-gateway-{slot}", daemon=True
        )
        proc.start()
        theirs.close()  # the worker holds it now: its death closes the pipe
        with self._changed:
            self._ready.pop(slot, None)
            self._failed.pop(slot, None)
            old = self._pipes.pop(slot, None)
            if old is not None:
                old.close()
            self._procs[slot] = proc
            self._pipes[slot] = ours
            self._started_at[slot] = time.monotonic()
            if self._sites is not args.sites:
                # A reload came between reading the sites above and registering this
                # pipe: `update_sites` did not see it, so it gets them here.
                try:
                    ours.send(_Sites(self._sites))
                except OSError:  # it died at once: the next restart reads them
                    logger.warning("gateway worker %d did not take the new sites", slot)
            self._changed.notify_all()

    def _wait_ready(self, slots: set[int]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        with self._changed:
            while not slots <= self._ready.keys():
                failed = [why for s, why in self._failed.items() if s in slots]
                if failed:
                    raise RuntimeError(f"gateway worker could not start: {failed[0]}")
                dead = [s for s in slots - self._ready.keys() if not self._procs[s].is_alive()]
                if dead:
                    code = self._procs[dead[0]].exitcode
                    raise RuntimeError(f"gateway worker exited at start (exit code {code})")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"gateway workers not listening after {_START_TIMEOUT_S}s")
                self._changed.wait(min(remaining, _POLL_S))

    def _pump(self) -> None:
        """Read every worker's pipe: log records to our logging, readiness to `start`."""
        while True:
            with self._changed:
                pipes = {pipe: slot for slot, pipe in self._pipes.items()}
            if self._stopping.is_set() and not pipes:
                return  # every worker has exited and its pipe is drained
            for ready in wait(list(pipes), timeout=_POLL_S):
                pipe = cast("Connection", ready)
                slot = pipes[pipe]
                try:
                    item = pipe.recv()
                except (EOFError, OSError):
                    with self._changed:  # the worker is gone; its pipe is useless now
                        if self._pipes.get(slot) is pipe:
                            self._pipes.pop(slot).close()
                        self._changed.notify_all()
                    continue
                self._route(slot, item)

    def _route(self, slot: int, item: object) -> None:
        if isinstance(item, logging.LogRecord):
            logging.getLogger(item.name).handle(item)
            return
        with self._changed:
            if isinstance(item, _Ready):
                self._ready[slot] = item.pid
            elif isinstance(item, _Failed):
                self._failed[slot] = item.why
            self._changed.notify_all()

    def _supervise(self) -> None:
        """Restart a worker that died (crash, OOM kill) while we are serving."""
        while not self._stopping.wait(_POLL_S):
            with self._changed:
                procs = dict(self._procs)
            for slot, proc in procs.items():
                if proc.is_alive() or self._stopping.is_set():
                    continue
                if time.monotonic() - self._started_at[slot] < _RESTART_BACKOFF_S:
                    continue
                logger.error(
                    "gateway worker %d (pid %s) died with exit code %s; restarting it",
                    slot,
                    proc.pid,
                    proc.exitcode,
                )
                self._counts[slot] = ABSENT  # killed: it cannot say so itself
                with self._changed:  # readers of ``pids`` must never see a closed process
                    self._procs.pop(slot, None)
                proc.close()
                self._spawn(slot)


def _end_all(procs: list[SpawnProcess], patience: float) -> None:
    """Wait up to ``patience`` seconds for ``procs`` to exit; terminate, then kill, the rest."""
    deadline = time.monotonic() + patience
    for proc in procs:
        proc.join(max(0.1, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            logger.warning("gateway worker %s did not stop; terminating it", proc.pid)
            proc.terminate()
            proc.join(5.0)
        if proc.is_alive():
            proc.kill()
            proc.join()


class _PipeLogHandler(logging.Handler):
    """Sends log records to the parent, which owns the handlers (``emit`` runs under
    the handler's lock, so records from several threads never interleave on the pipe)."""

    def __init__(self, pipe: Connection) -> None:
        super().__init__()
        self._pipe = pipe
        # Once the parent is gone (killed), its records go to this process's stderr.
        self._orphaned: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._orphaned is None:
            try:
                self._pipe.send(_picklable(record))
                return  # noqa: TRY300
            except OSError:
                self._orphaned = logging.StreamHandler(sys.stderr)
                self._orphaned.setFormatter(
                    logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
                )
            except Exception:  # noqa: BLE001 - a log line must never break the gateway
                self.handleError(record)
                return
        self._orphaned.emit(record)

    def send(self, message: object) -> None:
        """A control message to the parent, serialised with the log records."""
        with self.lock:  # type: ignore[union-attr]
            self._pipe.send(message)


def _picklable(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message formatted and its traceback as text (args and
    exception objects may not pickle)."""
    record = logging.makeLogRecord(record.__dict__)
    record.msg = record.getMessage()
    record.args = None
    if record.exc_info:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
    return record


def run_worker(args: _WorkerArgs, pipe: Connection) -> None:
    """A worker process's body: serve until the parent says stop or is gone."""
    from garde import log_hygiene  # noqa: PLC0415 - in the spawned process
    from garde.dicom_gateway.scp import Gateway  # noqa: PLC0415 - in the spawned process

    # Ctrl-C reaches the whole process group: the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = _PipeLogHandler(pipe)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(channel)
    log_hygiene.install([channel])  # records leave this process clean
    root.setLevel(logging.WARNING)
    logging.getLogger("garde").setLevel(args.log_level)
    try:
        gateway = Gateway(
            args.settings,
            args.sites,
            args.index_factory(),
            patient_key_secret=args.patient_key_secret,
            listener=args.listener,
            share=ConnectionShare(args.counts, args.slot),
        )
        gateway.start()
    except Exception as exc:
        logger.exception("gateway worker %d could not start", args.slot)
        channel.send(_Failed(args.slot, f"{type(exc).__name__}: {exc}"))
        return
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    channel.send(_Ready(args.slot, os.getpid()))
    grace: float | None = None
    while not stopping.is_set():
        try:
            if pipe.poll(_POLL_S):
                message = pipe.recv()
                if isinstance(message, _Sites):
                    gateway.update_sites(message.sites)
                    logger.info("gateway worker %d: sites reloaded", args.slot)
                    continue
                grace = float(message)  # "stop, with this grace period"
                break
        except (EOFError, OSError):
            logger.error("gateway worker %d: parent process gone; stopping", args.slot)  # noqa: TRY400
            break
    gateway.stop(timeout=grace)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts from (port 0: a free one). Non-blocking:
    several processes wait on it, and the ones that lose a race must not block."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)  # noqa: FBT003 - socket's API
    except OSError:
        sock.close()
        raise
    return sock
