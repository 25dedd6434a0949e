"""One log line per peer and interval, however often the peer repeats itself.

A refused connection is worth a WARNING: an operator sees who is over the caps. A
peer that opens connections in a loop (a misconfigured modality retrying at once, a
flood) would turn that into thousands of lines a second, drowning everything else.
`PeerLogThrottle` lets the first line of a peer through, holds the next ones back for
``interval_s`` seconds, and has the first line after that say how many were held back.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

INTERVAL_S = 10.0
MAX_PEERS = 4096  # peers remembered; past it, those quiet for an interval are forgotten


class PeerLogThrottle:
    """Decides, per peer, whether a repeated log line is written now.

    Parameters
    ----------
    interval_s
        Seconds after a written line during which the peer's next ones are held back.
    clock
        Monotonic seconds (a parameter, for tests).
    """

    def __init__(
        self, interval_s: float = INTERVAL_S, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._peers: dict[str, tuple[float, int]] = {}  # peer -> (last written, held back)
        self._lock = threading.Lock()

    def admit(self, peer: str) -> int | None:
        """None: hold this line back. Otherwise write it, saying how many lines of this
        peer were held back since its last one (0: none)."""
        now = self._clock()
        with self._lock:
            last = self._peers.get(peer)
            if last is not None and now - last[0] < self.interval_s:
                self._peers[peer] = (last[0], last[1] + 1)
                return None
            if last is None and len(self._peers) >= MAX_PEERS:
                self._forget_quiet(now)
            self._peers[peer] = (now, 0)
            return 0 if last is None else last[1]

    def _forget_quiet(self, now: float) -> None:
        quiet = [p for p, (at, _) in self._peers.items() if now - at >= self.interval_s]
        for peer in quiet or list(self._peers):  # all busy: start again (bounded memory)
            del self._peers[peer]


def held_back(count: int) -> str:
    """The suffix of a line written after ``count`` held back ones ('' for none)."""
    return f" ({count} more since the last such line)" if count else ""
