"""The planner's and the operator's use cases on a platform over the memory store (the
example region's settings, a frozen clock): a shift added by hand is stored, counted
as a roster change for the other nodes and audited; professionals are listed and
retired."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from garde.config.loader import example_path, load_settings
from garde.directory.model import Professional
from garde.services.clock import FrozenClock
from garde.services.professionals import list_directory, retire_professional
from garde.services.rostering import add_one_shift
from garde.store.enums import GenerationKind
from garde.store.memory import MemoryStore, MemoryUnitOfWork

if TYPE_CHECKING:
    from garde.config.model import Settings
    from garde.services.platform import Platform

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SETTINGS = load_settings(example_path())


@dataclass
class MemoryPlatform:
    """A `garde.services.platform.Platform` over the memory store."""

    settings: Settings = SETTINGS
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(NOW))
    store: MemoryStore = field(default_factory=MemoryStore)

    def uow(self) -> MemoryUnitOfWork:
        return self.store.uow_factory()

    def sync_directory(self) -> None:
        with self.uow() as uow:
            uow.directory.sync_sites(self.settings.sites)
            uow.directory.sync_radiologists(self.settings.radiologists)
            uow.commit()


@pytest.fixture
def platform() -> MemoryPlatform:
    found = MemoryPlatform()
    found.sync_directory()
    if TYPE_CHECKING:  # mypy: it is a Platform
        _: Platform = found
    return found


def test_a_shift_added_by_hand_is_stored_counted_and_audited(platform: MemoryPlatform) -> None:
    change = add_one_shift(platform, "r02", "2026-11-20 20:00", "2026-11-21 08:00")
    [added] = change.added
    assert (added.radiologist_id, added.start) == ("r02", datetime(2026, 11, 20, 19, 0, tzinfo=UTC))
    with platform.uow() as uow:
        assert uow.roster.shifts_between(added.start, added.end) == [added]
        assert uow.generations.current()[GenerationKind.ROSTER] == 1
    assert [e.action for e in platform.store.audit()] == ["roster_add"]


def test_professionals_are_listed_and_retired_once_known(platform: MemoryPlatform) -> None:
    with platform.uow() as uow:
        uow.professionals.import_all(
            [Professional("10999000002", "MOREL", "CLAIRE", "Docteur", "Médecin", ("SM44",))],
            NOW,
        )
        uow.commit()
    [morel] = list_directory(platform)
    assert (morel.display_name, morel.retired_at) == ("Dr Claire Morel", None)
    assert retire_professional(platform, "10999000002", actor="ops")
    assert not retire_professional(platform, "10999999999", actor="ops")
    assert list_directory(platform)[0].retired_at == NOW
    assert [(e.actor, e.action) for e in platform.store.audit()] == [("ops", "directory.retire")]
