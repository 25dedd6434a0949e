"""Each `garde serve` node watches the store's generations (issue 12 item 4).

A roster edit made by any process (`garde roster import/add/remove/swap`) and a `garde
reload` run anywhere bump a counter in the shared store
(`garde.store.repositories.generation`); every node polls the counters every
``store_watch_s`` seconds and applies what moved: a new roster goes into its board (the
job leader also re-dispatches what the change affects), a reload request makes it re-read
its own settings file. No signal has to reach the node, so this works across machines.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.store.repositories.generation import GenerationKind
    from garde.store.uow import SqlUnitOfWork

logger = logging.getLogger(__name__)


class StoreWatch:
    """Which generations moved since this node last looked.

    Parameters
    ----------
    uow_factory
        Units of work on the shared store.
    period_s
        How often `poll` reads the counters (calls in between return nothing).
    monotonic
        The timer (injected in tests).
    """

    def __init__(
        self,
        uow_factory: Callable[[], SqlUnitOfWork],
        period_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self.period_s = period_s
        self._monotonic = monotonic
        self._seen: dict[GenerationKind, int] | None = None
        self._due = 0.0

    def prime(self) -> None:
        """Take the counters as they are now as seen (start-up, a local reload)."""
        current = self._read()
        if current is not None:
            self._seen = current

    def poll(self) -> set[GenerationKind]:
        """The kinds whose counter moved since the last look, if a look is due."""
        now = self._monotonic()
        if now < self._due:
            return set()
        self._due = now + self.period_s
        current = self._read()
        if current is None:
            return set()
        seen, self._seen = self._seen, current
        if seen is None:
            return set()
        return {kind for kind, generation in current.items() if seen.get(kind) != generation}

    def _read(self) -> dict[GenerationKind, int] | None:
        try:
            with self._uow_factory() as uow:
                return uow.generations.current()
        except SQLAlchemyError:  # the database away: look again next period
            logger.warning("cannot read the store's generations; looking again later")
            return None
