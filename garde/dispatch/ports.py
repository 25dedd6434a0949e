"""Ports: what the core's services need from the outside world, as Protocols.

Each has a real adapter (store/, dicom_gateway/, scheduling/) and an in-memory fake
for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from garde.dispatch.model import InstanceConflict, InstanceReceived


class Clock(Protocol):
    """Where services get "now" from (the core itself never asks)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class InstanceIndex(Protocol):
    """Indexes durably written instances (the gateway's only dependency on the store)."""

    def record(self, instance: InstanceReceived) -> bool:
        """Index one instance in its own transaction.

        Returns True if it was new, False if that SOP Instance UID was already indexed
        (a re-send: idempotent; nothing of it is indexed, even under another study or
        series). Raises on a database error, so the gateway can answer 0xA700 (out of
        resources) and the sender retries.
        """
        ...

    def record_many(self, instances: Sequence[InstanceReceived]) -> list[bool]:
        """Index several instances in one transaction; for each, whether it was new
        (as `record`). Raises on a database error, nothing of the batch indexed."""
        ...

    def indexed_paths(self) -> set[str]:
        """The storage paths of every indexed instance."""
        ...

    def path_of(self, sop_instance_uid: str) -> str | None:
        """Where an indexed instance's file is (relative to storage), or None."""
        ...

    def replace(self, instance: InstanceReceived) -> None:
        """The ``overwrite`` policy replaced an indexed instance's file (same path):
        update its row (size, transfer syntax, sender, time), mark its study and series
        as received again (so previews are rendered again once quiet) and audit it for
        the study's reader."""
        ...

    def record_conflict(self, conflict: InstanceConflict) -> None:
        """Audit a conflicting copy kept in quarantine (an operator lists them)."""
        ...


class Notifier(Protocol):
    """Sends a notification (log line, webhook); never raises into dispatch."""

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        """Queue a notification of ``kind`` with a JSON-safe payload."""
        ...
