"""Each `garde serve` node watches the store's generations (issue 12 item 4).

A roster edit made by any process (`garde roster import/add/remove/swap`) and a `garde
reload` run anywhere bump a counter in the shared store
(`garde.store.repositories.generation`); every node polls the counters every
``store_watch_s`` seconds and applies what moved: a new roster goes into its board (the
job leader also re-dispatches what the change affects), a reload request makes it re-read
its own settings file. No signal has to reach the node, so this works across machines.
The node's settings file is watched too: an edit saved there is applied as a reload.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from garde.store.enums import GenerationKind
from garde.store.errors import StoreUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from garde.store.ports import UnitOfWork

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
    settings_file
        The node's settings file: a change of its modification time counts as a
        ``config`` change.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        period_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        settings_file: Path | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self.period_s = period_s
        self._monotonic = monotonic
        self._seen: dict[GenerationKind, int] | None = None
        self._due = 0.0
        self._file = settings_file
        self._file_stamp = self._stamp()

    def prime(self) -> None:
        """Take the counters (and the settings file) as they are now as seen (start-up,
        a local reload)."""
        current = self._read()
        if current is not None:
            self._seen = current
        self._file_stamp = self._stamp()

    def poll(self) -> set[GenerationKind]:
        """The kinds whose counter moved since the last look, if a look is due."""
        now = self._monotonic()
        if now < self._due:
            return set()
        self._due = now + self.period_s
        changed = set()
        stamp = self._stamp()
        if stamp != self._file_stamp:
            self._file_stamp = stamp
            changed.add(GenerationKind.CONFIG)
        current = self._read()
        if current is None:
            return changed
        seen, self._seen = self._seen, current
        if seen is None:
            return changed
        return changed | {
            kind for kind, generation in current.items() if seen.get(kind) != generation
        }

    def _stamp(self) -> int | None:
        if self._file is None:
            return None
        try:
            return self._file.stat().st_mtime_ns
        except OSError:  # being replaced: the next look sees the new one
            return None

    def _read(self) -> dict[GenerationKind, int] | None:
        try:
            with self._uow_factory() as uow:
                return uow.generations.current()
        except StoreUnavailableError:  # the database away: look again next period
            logger.warning("cannot read the store's generations; looking again later")
            return None
