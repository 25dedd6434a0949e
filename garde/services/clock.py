"""Clocks, outside the pure core (which never reads time): the wall clock and a settable one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class SystemClock:
    """The wall clock, in UTC. The only place outside the CLI allowed to read it."""

    def now(self) -> datetime:
        """Now, timezone-aware UTC."""
        return datetime.now(tz=UTC)


@dataclass(slots=True)
class FrozenClock:
    """A clock that only moves when told to (tests, the simulator, the demo)."""

    current: datetime

    def now(self) -> datetime:
        """The set time."""
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; returns the new time."""
        self.current += delta
        return self.current
