"""Spreading associations evenly over the gateway's processes.

With SO_REUSEPORT the kernel hashes each connection's addresses to one process, blind to
how busy it is: four senders on two processes land 2-2 only 3 times in 8, 3-1 half the
time and 4-0 once in 8, and then one process (about 220 CT slices a second at most,
its interpreter lock held by four associations) bounds the whole intake while the other
idles. Instead the workers share one listening socket, made by the parent, and a table
in shared memory of the connections each has open. A new connection wakes every worker
waiting in ``accept``; one that has more connections open than another gives way for a
moment (`ConnectionShare.wait_turn`), so the least loaded one takes it. Four senders on
two workers then always land 2-2.

A worker not serving (starting, stopping, or killed: the parent marks it) counts as
`ABSENT`, so nobody gives way to it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, MutableSequence

ABSENT = 2**31 - 1  # the count of a worker that takes no connection now
PATIENCE_S = 0.25  # how long a busier worker leaves a connection to the least loaded one
_LOOK_S = 0.001  # how often it looks whether the connection was taken meanwhile


class ConnectionShare:
    """This worker's entry in the table of open connections shared by all workers.

    Parameters
    ----------
    counts
        One integer per worker, in memory shared by the processes (a
        ``multiprocessing.RawArray``); each worker writes only its own entry.
    slot
        This worker's entry.
    patience_s
        How long it leaves a connection to a less loaded worker before taking it anyway
        (that worker may be stuck).
    """

    def __init__(
        self, counts: MutableSequence[int], slot: int, *, patience_s: float = PATIENCE_S
    ) -> None:
        if not 0 <= slot < len(counts):
            raise ValueError(f"slot {slot} is not one of the {len(counts)} workers")
        self._counts = counts
        self._slot = slot
        self._patience_s = patience_s
        self._open = 0
        self._serving = False
        self._lock = threading.Lock()

    def serving(self) -> None:
        """This worker takes connections from now on."""
        with self._lock:
            self._serving = True
            self._counts[self._slot] = self._open

    def leaving(self) -> None:
        """This worker takes no more connections: nobody gives way to it."""
        with self._lock:
            self._serving = False
            self._counts[self._slot] = ABSENT

    def opened(self) -> None:
        """A connection was accepted here."""
        with self._lock:
            self._open += 1
            if self._serving:
                self._counts[self._slot] = self._open

    def closed(self) -> None:
        """A connection accepted here has ended."""
        with self._lock:
            self._open = max(0, self._open - 1)
            if self._serving:
                self._counts[self._slot] = self._open

    @property
    def open(self) -> int:
        """Connections open in this worker."""
        with self._lock:
            return self._open

    def least_loaded(self) -> bool:
        """True if no other worker has fewer connections open."""
        mine = self._counts[self._slot]
        return all(mine <= other for other in self._counts)

    def wait_turn(self, waiting: Callable[[], bool]) -> bool:
        """Before accepting a waiting connection: give way to a less loaded worker.

        Returns True to accept it now (least loaded, or the patience ran out), False if
        it was taken meanwhile (``waiting()`` turned False).
        """
        deadline = time.monotonic() + self._patience_s
        while not self.least_loaded():
            if time.monotonic() >= deadline:
                return True
            time.sleep(_LOOK_S)
            if not waiting():
                return False
        return True
