"""What the planner's and the operator's use cases need of the process running them.

`garde.bootstrap.Runtime` is one: the region's settings, the clock, units of work on the
store, and the configured sites and radiologists written to it. The services name only
these Protocols, never the composition root, so they stay below `bootstrap` (and below
`scheduling` and `runtime`, which use what it builds); `tests/unit/test_layers.py` keeps
it that way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from garde.config.model import Settings
    from garde.dispatch.ports import Clock
    from garde.services.dispatcher import DispatchService
    from garde.store.ports import UnitOfWork


class Platform(Protocol):
    """The settings, the clock and the store of one Garde process."""

    @property
    def settings(self) -> Settings:
        """The region's validated configuration."""
        ...

    @property
    def clock(self) -> Clock:
        """Where the use case reads ``now``."""
        ...

    def uow(self) -> UnitOfWork:
        """A new unit of work (one per use case)."""
        ...

    def sync_directory(self) -> None:
        """Write the configured sites and radiologists to the store (config is the truth)."""
        ...


class DispatchingPlatform(Platform, Protocol):
    """A platform with its dispatch service (the board restored from the store)."""

    @property
    def dispatch(self) -> DispatchService:
        """The dispatch service, its board included."""
        ...
