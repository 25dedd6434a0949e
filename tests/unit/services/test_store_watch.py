"""StoreWatch on the memory store: which change counters moved since the node last
looked, a look at most every period, the settings file's own change, and a store that
cannot be read skipped until the next look."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Self

from garde.services.store_watch import StoreWatch
from garde.store.enums import GenerationKind
from garde.store.errors import StoreUnavailableError
from garde.store.memory import MemoryStore, MemoryUnitOfWork
from tests.unit.services.memory_region import T0

if TYPE_CHECKING:
    from pathlib import Path


def _bump(store: MemoryStore, kind: GenerationKind) -> None:
    with store.uow_factory() as uow:
        uow.generations.bump(kind, T0)
        uow.commit()


def test_a_bump_elsewhere_is_seen_once_at_the_next_look() -> None:
    store = MemoryStore()
    ticks = [0.0]
    watch = StoreWatch(store.uow_factory, period_s=5, monotonic=lambda: ticks[0])
    watch.prime()
    assert watch.poll() == set()
    _bump(store, GenerationKind.ROSTER)
    assert watch.poll() == set()  # not due: a look every 5 s
    ticks[0] = 5.0
    assert watch.poll() == {GenerationKind.ROSTER}
    ticks[0] = 10.0
    assert watch.poll() == set()


def test_the_first_look_without_prime_only_takes_the_counters() -> None:
    store = MemoryStore()
    _bump(store, GenerationKind.CONFIG)
    watch = StoreWatch(store.uow_factory, period_s=5, monotonic=lambda: 0.0)
    assert watch.poll() == set()


def test_a_changed_settings_file_is_a_config_change(tmp_path: Path) -> None:
    settings = tmp_path / "garde.toml"
    settings.write_text("[region]\n", encoding="utf-8")
    ticks = [0.0]
    watch = StoreWatch(MemoryStore().uow_factory, 5, lambda: ticks[0], settings_file=settings)
    watch.prime()
    stat = settings.stat()
    os.utime(settings, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    ticks[0] = 5.0
    assert watch.poll() == {GenerationKind.CONFIG}
    settings.unlink()  # being replaced: seen as a change, then the new file is
    ticks[0] = 10.0
    assert watch.poll() == {GenerationKind.CONFIG}


class _Unreadable(MemoryUnitOfWork):
    """A unit of work whose store cannot be read (the database away)."""

    def __enter__(self) -> Self:
        raise StoreUnavailableError("connection refused")


def test_an_unreadable_store_is_looked_at_again_later() -> None:
    store = MemoryStore()
    away = [True]
    ticks = [0.0]

    def factory() -> MemoryUnitOfWork:
        return _Unreadable(store.tables) if away[0] else store.uow_factory()

    watch = StoreWatch(factory, period_s=5, monotonic=lambda: ticks[0])
    watch.prime()  # nothing seen: the store is away
    away[0] = False
    ticks[0] = 5.0
    assert watch.poll() == set()  # the first counters read are taken as seen
    _bump(store, GenerationKind.ROSTER)
    away[0] = True
    ticks[0] = 10.0
    assert watch.poll() == set()
    away[0] = False
    ticks[0] = 15.0
    assert watch.poll() == {GenerationKind.ROSTER}
