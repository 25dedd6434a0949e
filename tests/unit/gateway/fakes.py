"""In-memory fakes of the gateway's ports, with assertion hooks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from garde.dispatch.model import InstanceConflict, InstanceReceived


@dataclass
class FakeInstanceIndex:
    """`InstanceIndex` in memory; ``fail_with`` makes every `record` raise it."""

    rows: dict[str, InstanceReceived] = field(default_factory=dict)
    replaced: list[InstanceReceived] = field(default_factory=list)
    conflicts: list[InstanceConflict] = field(default_factory=list)
    calls: int = 0
    fail_with: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, instance: InstanceReceived) -> bool:
        with self._lock:
            self.calls += 1
            if self.fail_with is not None:
                raise self.fail_with
            if instance.sop_instance_uid in self.rows:
                return False
            self.rows[instance.sop_instance_uid] = instance
            return True

    def record_many(self, instances: Sequence[InstanceReceived]) -> list[bool]:
        return [self.record(instance) for instance in instances]

    def indexed_paths(self) -> set[str]:
        with self._lock:
            return {row.path for row in self.rows.values()}

    def path_of(self, sop_instance_uid: str) -> str | None:
        with self._lock:
            row = self.rows.get(sop_instance_uid)
            return None if row is None else row.path

    def replace(self, instance: InstanceReceived) -> None:
        with self._lock:
            self.rows[instance.sop_instance_uid] = instance
            self.replaced.append(instance)

    def record_conflict(self, conflict: InstanceConflict) -> None:
        with self._lock:
            self.conflicts.append(conflict)
