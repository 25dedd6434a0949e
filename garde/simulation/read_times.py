"""The times every replayed read derives from its four moments (minutes after night start)."""

from __future__ import annotations


class ReadTimes:
    """Turnaround, wait and lateness of a read with ``arrived``, ``started``, ``finished``
    and ``deadline``: shared by the simulator's reads and the offline reference's."""

    __slots__ = ()

    arrived: float
    deadline: float
    started: float
    finished: float

    @property
    def turnaround(self) -> float:
        """Arrival to report, minutes."""
        return self.finished - self.arrived

    @property
    def wait(self) -> float:
        """Arrival to the start of reading, minutes."""
        return self.started - self.arrived

    @property
    def lateness(self) -> float:
        """Minutes past the deadline (0 if on time)."""
        return max(0.0, self.finished - self.deadline)
