"""Which `garde serve` runs the scheduled jobs when several share one database: a lease.

Two servers on one PostgreSQL (a standby, a rolling restart) would both sweep, escalate
and hand over. The jobs therefore run only in the process holding the ``leader_lease``
row: a holder and an expiry, renewed every ``renew_s`` and taken by a conditional UPDATE
(free, expired, or its holder's database session gone) that also bumps ``epoch``, the
fencing token. The others keep receiving DICOM and serving worklists, and ask again at
every renewal period.

A leader that cannot renew stops by itself: it counts its lease from the moment it
*sent* its last successful renewal, by its own monotonic clock, minus a margin, so its
own view ends before any standby may take the row; every unit of work a job commits
checks the lease in its own transaction (`check_fence`), so a leader frozen (SIGSTOP, a
hung VM) and resumed after another took over commits nothing. A killed leader's
PostgreSQL session ends with it: a standby takes over within a renewal period instead of
waiting for the expiry. The nodes' clocks must agree (NTP) well within the margin.
Safety wins over speed in one corner: a leader frozen in the milliseconds between a
job's lease check and its commit keeps the row share-locked, so no one takes the lease
until it resumes and commits (then it finds the lease gone and runs no further job).

On SQLite there is one server per database file (the pid file in the data directory),
so the process always leads; the lease's SQL works there too (its tests run on both).
"""

from __future__ import annotations

import contextvars
import logging
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from garde.store.errors import LeaseLostError
from garde.store.models import LeaderLeaseRow

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import ColumnElement, Connection, Engine
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

LEASE = "jobs"
DEFAULT_LEASE_S = 6.0
DEFAULT_RENEW_S = 1.0

# Set while a scheduled job runs (`garde.scheduling.jobs`): its commits are fenced.
_FENCE: contextvars.ContextVar[JobLeadership | None] = contextvars.ContextVar(
    "garde_job_fence", default=None
)


def _wall() -> datetime:
    return datetime.now(tz=UTC)


def node_name() -> str:
    """This process, as the lease names its holder: host, pid and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class JobLeadership:
    """Whether this process runs the scheduled jobs.

    Parameters
    ----------
    engine
        The store's engine.
    lease_s, renew_s
        The lease's length and how often it is renewed (or asked for).
    compete
        Take part in the competition; default: on PostgreSQL only (see the module doc).
    holder
        This node's name in the lease row (default: `node_name`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        renew_s: float = DEFAULT_RENEW_S,
        compete: bool | None = None,
        holder: str | None = None,
        wall: Callable[[], datetime] = _wall,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.lease_s = lease_s
        self.renew_s = renew_s
        self._margin = min(1.0, lease_s / 4)
        self._competes = engine.dialect.name == "postgresql" if compete is None else compete
        self._postgres = engine.dialect.name == "postgresql"
        self.holder = holder or node_name()
        self._wall = wall
        self._monotonic = monotonic
        self._connection: Connection | None = None
        self._backend: int | None = None  # the connection's PostgreSQL backend pid
        self._epoch: int | None = None
        self._valid_until = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- asking --------------------------------------------------------------------------
    def held(self) -> bool:
        """True if this process leads now. Without the renewal thread (tests, the demo),
        asks the store itself."""
        if not self._competes:
            return True
        if self._thread is None:
            self.tick()
        return self.valid()

    def valid(self) -> bool:
        """True while this process's own view of its lease has not run out."""
        if not self._competes:
            return True
        with self._lock:
            return self._epoch is not None and self._monotonic() < self._valid_until

    @property
    def epoch(self) -> int | None:
        """The fencing token of the lease held, None if none is."""
        return self._epoch

    # -- the renewal thread ----------------------------------------------------------------
    def start(self) -> None:
        """Renew (or ask for) the lease every ``renew_s`` on a thread (`garde serve`)."""
        if not self._competes or self._thread is not None:
            return
        self.tick()
        self._thread = threading.Thread(target=self._run, name="leader-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.renew_s):
            self.tick()

    def tick(self) -> None:
        """Renew the lease held, or try to take it."""
        with self._lock:
            for attempt in (1, 2):  # a connection lost since the last tick: one new one
                try:
                    if self._epoch is not None:
                        self._renew()
                    if self._epoch is None:
                        self._take()
                except SQLAlchemyError:
                    self._drop_connection()
                    if attempt == 2:
                        logger.warning("cannot reach the database for the job lease")
                else:
                    return

    def release(self) -> None:
        """Give the lease up (at stop), so that a standby takes over at once."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self._epoch is not None:
                try:
                    connection = self._conn()
                    with connection.begin():
                        connection.execute(
                            update(LeaderLeaseRow)
                            .where(self._mine())
                            .values(holder=None, expires_at=None, backend_pid=None)
                        )
                    logger.info("job lease released")
                except SQLAlchemyError:
                    logger.warning("could not release the job lease; it expires by itself")
            self._epoch = None
            self._valid_until = 0.0
            self._drop_connection()

    # -- fencing --------------------------------------------------------------------------
    def fence(self) -> contextvars.Token[JobLeadership | None]:
        """Fence the commits of the current job (`check_fence`) until `unfence`."""
        return _FENCE.set(self)

    @staticmethod
    def unfence(token: contextvars.Token[JobLeadership | None]) -> None:
        _FENCE.reset(token)

    def check(self, session: Session) -> None:
        """Refuse a job's commit unless this process still holds the lease, in the
        commit's own transaction (on PostgreSQL the row is share-locked until the commit,
        so a standby cannot take it in between).

        Raises
        ------
        LeaseLostError
            If the lease ran out or another node holds it.
        """
        if not self._competes:
            return
        epoch = self._epoch
        if epoch is None or not self.valid():
            raise LeaseLostError(f"{self.holder} no longer holds the job lease")
        query = select(LeaderLeaseRow.epoch).where(self._mine(epoch))
        if self._postgres:
            query = query.with_for_update(read=True)
        if session.scalar(query) is None:
            raise LeaseLostError(f"another node took the job lease from {self.holder}")

    # -- the SQL ----------------------------------------------------------------------------
    def _mine(self, epoch: int | None = None) -> ColumnElement[bool]:
        return and_(
            LeaderLeaseRow.name == LEASE,
            LeaderLeaseRow.holder == self.holder,
            LeaderLeaseRow.epoch == (self._epoch if epoch is None else epoch),
        )

    def _renew(self) -> None:
        sent = self._monotonic()
        connection = self._conn()
        backend = self._backend_pid(connection)
        with connection.begin():
            renewed = connection.execute(
                update(LeaderLeaseRow)
                .where(self._mine())
                .values(expires_at=self._expiry(), backend_pid=backend)
            ).rowcount
        if renewed == 1:
            self._valid_until = sent + self.lease_s - self._margin
            return
        logger.error("lost the job lease (another node holds it); standing by")
        self._epoch = None
        self._valid_until = 0.0

    def _take(self) -> None:
        sent = self._monotonic()
        connection = self._conn()
        lease = LeaderLeaseRow.__table__
        free = or_(
            lease.c.holder.is_(None),
            lease.c.expires_at.is_(None),
            lease.c.expires_at < self._wall(),
            lease.c.holder == self.holder,
        )
        if self._postgres:  # the holder's session ended: it was killed, or lost the database
            alive = exists(
                select(text("1"))
                .select_from(text("pg_stat_activity"))
                .where(text("pid = leader_lease.backend_pid"))
            )
            free = or_(free, lease.c.backend_pid.is_(None), ~alive)
        backend = self._backend_pid(connection)
        with connection.begin():
            taken = connection.execute(
                update(LeaderLeaseRow)
                .where(LeaderLeaseRow.name == LEASE, free)
                .values(
                    holder=self.holder,
                    epoch=LeaderLeaseRow.epoch + 1,
                    expires_at=self._expiry(),
                    backend_pid=backend,
                )
            ).rowcount
            if taken != 1:
                return
            self._epoch = connection.scalar(
                select(LeaderLeaseRow.epoch).where(
                    LeaderLeaseRow.name == LEASE, LeaderLeaseRow.holder == self.holder
                )
            )
        self._valid_until = sent + self.lease_s - self._margin
        logger.info("this process now runs the scheduled jobs (job lease, epoch %s)", self._epoch)

    def _expiry(self) -> datetime:
        return self._wall() + timedelta(seconds=self.lease_s)

    def _backend_pid(self, connection: Connection) -> int | None:
        if self._postgres and self._backend is None:
            with connection.begin():
                pid = connection.scalar(text("SELECT pg_backend_pid()"))
            self._backend = int(pid) if pid is not None else None
        return self._backend

    def _conn(self) -> Connection:
        if self._connection is None:
            # One connection kept open (its PostgreSQL session names the holder), one
            # short transaction per statement (SQLite's begin hook ignores AUTOCOMMIT).
            connection = self._engine.connect()
            if self._postgres:
                # A job frozen between its fence check and its commit share-locks the
                # row: ask again at the next tick rather than hang the lease thread.
                ms = max(100, int(self.renew_s * 1000))
                with connection.begin():
                    connection.execute(text(f"SET lock_timeout = {ms}"))
            self._connection = connection
            self._backend = None
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
            except SQLAlchemyError:
                logger.debug("closing the job lease's connection failed", exc_info=True)


def check_fence(session: Session) -> None:
    """Called by every commit: inside a scheduled job, refuse it unless the job's
    process still holds the job lease (`JobLeadership.check`)."""
    leadership = _FENCE.get()
    if leadership is not None:
        leadership.check(session)
