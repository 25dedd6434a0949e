"""Which `garde serve` runs the scheduled jobs when several share one database.

Two servers on one PostgreSQL (a standby, a rolling restart) would both sweep, escalate
and hand over: the store's checks keep the studies right, but each would send its own
escalation notifications. The jobs therefore run only in the process holding a
PostgreSQL session-level advisory lock; the others keep receiving DICOM and serving
worklists, and take over as soon as the lock is free (the holder stopped, crashed or
lost its connection: PostgreSQL releases the lock with the session).

On SQLite there is one server per database file (the pid file in the data directory),
so the process always leads.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

logger = logging.getLogger(__name__)

# Advisory locks belong to the whole database: the lock is keyed by this constant
# ("GARD" in ASCII) and a hash of the schema, so one store is one competition even when
# several stores share a database in schemas of their own.
JOBS_LOCK_KEY = 0x47415244
_TAKE = text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))")
_GIVE = text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))")


class JobLeadership:
    """Whether this process runs the scheduled jobs; asks again on every call.

    Parameters
    ----------
    engine
        The store's engine. Only PostgreSQL engines compete; on SQLite `held` is True.
    """

    def __init__(self, engine: Engine, key: int = JOBS_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._competes = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def held(self) -> bool:
        """True if this process leads: it holds the lock, or just took it."""
        if not self._competes:
            return True
        with self._lock:
            if self._connection is not None:
                if self._still_connected(self._connection):
                    return True
                logger.error("lost the job lock with the database connection; standing by")
                self._forget()
            return self._try_take()

    def release(self) -> None:
        """Give the lock up (at stop), so that a standby takes over at once."""
        with self._lock:
            if self._connection is None:
                return
            try:
                self._connection.execute(_GIVE, {"k": self._key})
            except SQLAlchemyError:
                logger.warning("could not release the job lock; it goes with the connection")
            self._forget()

    def _try_take(self) -> bool:
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError:
            logger.exception("cannot reach the database to take the job lock")
            return False
        try:
            taken = bool(connection.execute(_TAKE, {"k": self._key}).scalar())
        except SQLAlchemyError:
            logger.exception("could not ask for the job lock")
            connection.close()
            return False
        if not taken:
            connection.close()
            return False
        self._connection = connection
        logger.info("this process now runs the scheduled jobs (job lock taken)")
        return True

    @staticmethod
    def _still_connected(connection: Connection) -> bool:
        try:
            connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def _forget(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # never back into the pool: its session held the lock
            except SQLAlchemyError:
                logger.debug("closing the job lock's connection failed", exc_info=True)
